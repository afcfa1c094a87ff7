// The result subcommands' setup functions; cli/results.cpp's setup_results() registers them all,
// so main.cpp keeps its single call. Leaves out every option: each file owns its own.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}
namespace gpas::results {
class Store;
struct RunRow;
}

namespace gpas::cli {

void setup_ingest(CLI::App& app);  // results.cpp: gpas ingest
void setup_query(CLI::App& app);   // query.cpp: gpas query "SQL"
void setup_runs(CLI::App& app);    // runs.cpp: gpas runs list / show
void setup_runs_compare(CLI::App& runs);  // runs_compare.cpp: gpas runs compare A B ...
void setup_runs_manage(CLI::App& runs);   // runs_manage.cpp: gpas runs delete / tag / note
void setup_report(CLI::App& app);  // report.cpp: gpas report table2 / schemes / table3 / ablations / pivot
void setup_report_figures(CLI::App& report);  // report_figures.cpp: report figures / html

// <workdir>/gpas.db; read_only also refuses a missing database with advice.
std::unique_ptr<results::Store> open_store(const std::string& workdir, bool read_only);
// What every view reads (runs, sweep list, reports, figures, query, serve): <workdir>/gpas.db,
// read-only, after bringing it up to date from the run journals (Store::sync_workdir), so that
// it is true while runs are live without `gpas ingest`. Where the index cannot be written (a
// read-only or full filesystem) it warns and answers from the index as last written.
std::unique_ptr<results::Store> open_view(const std::string& workdir);
// Ingests one run directory into <workdir>/gpas.db (`gpas train` at its end). Here so that the
// LibTorch subcommands need not include results/store.h.
void index_run_dir(const std::string& workdir, const std::string& run_dir);

// No silent empty answers: names a query would match nothing on are refused with the valid ones.
// The first column of a read-only SQL query, as text ("SELECT DISTINCT key FROM metrics").
std::vector<std::string> store_names(const results::Store& store, const std::string& sql);
// Usage error "unknown WHAT 'name'; did you mean `x`?" plus the valid names, unless name is one
// of them (or there are none: an empty store answers for itself).
void require_known(const std::string& what, const std::string& name, const std::vector<std::string>& valid);
// --where key=value ...: parsed, keys checked against the store's config keys.
std::vector<std::pair<std::string, std::string>> parse_where(const results::Store& store,
                                                             const std::vector<std::string>& where);
// runs compare and serve: {key, value of each run ("(unset)" where a run lacks the key)}, by key,
// for the config keys whose values differ between the runs (every key with all).
std::vector<std::vector<std::string>> config_rows(const results::Store& store,
                                                  const std::vector<results::RunRow>& runs, bool all);
// After an empty answer to --where: which condition matched no run, and that key's values.
std::string explain_no_match(const results::Store& store,
                             const std::vector<std::pair<std::string, std::string>>& where);

}  // namespace gpas::cli
