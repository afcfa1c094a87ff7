// The result subcommands' setup functions; cli/results.cpp's setup_results() registers them all,
// so main.cpp keeps its single call. Leaves out every option: each file owns its own.
#pragma once
#include <memory>
#include <string>

namespace CLI {
class App;
}
namespace gpas::results {
class Store;
}

namespace gpas::cli {

void setup_ingest(CLI::App& app);  // results.cpp: gpas ingest
void setup_query(CLI::App& app);   // query.cpp: gpas query "SQL"
void setup_runs(CLI::App& app);    // runs.cpp: gpas runs list / show
void setup_report(CLI::App& app);  // report.cpp: gpas report table2 / ablations / pivot
void setup_report_figures(CLI::App& report);  // report_figures.cpp: report figures / html

// <workdir>/gpas.db; read_only also refuses a missing database with advice.
std::unique_ptr<results::Store> open_store(const std::string& workdir, bool read_only);

}  // namespace gpas::cli
