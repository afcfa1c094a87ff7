// `gpas ingest [--workdir W]`: re-indexes every run directory under W/runs into W/gpas.db, and
// setup_results(), which registers all the result subcommands (ingest, query, runs, report).
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/results_commands.h"
#include "results/store.h"

namespace gpas::cli {

std::unique_ptr<results::Store> open_store(const std::string& workdir, bool read_only) {
  return results::Store::open(results::db_path_for(workdir), read_only);
}

namespace {

struct IngestOptions {
  std::string workdir = ".";
  std::string run_dir;
  std::string sweep;
};

void run_ingest(const IngestOptions& o) {
  auto store = open_store(o.workdir, false);
  results::IngestStats s = o.run_dir.empty() ? store->ingest_workdir(o.workdir)
                                             : store->ingest_run_dir(o.run_dir, o.sweep);
  std::cout << "ingested " << s.lines << " new journal lines from " << s.runs
            << " run director" << (s.runs == 1 ? "y" : "ies") << " into " << store->path() << "\n";
}

}  // namespace

void setup_ingest(CLI::App& app) {
  auto o = std::make_shared<IngestOptions>();
  auto* cmd = app.add_subcommand("ingest", "index the run journals of a workdir into its gpas.db "
                                           "(idempotent; safe while runs are writing)");
  cmd->add_option("--workdir", o->workdir, "workdir holding runs/ and gpas.db")->capture_default_str();
  cmd->add_option("--run-dir", o->run_dir, "ingest this one run directory only");
  cmd->add_option("--sweep", o->sweep, "with --run-dir: the sweep the run belongs to");
  cmd->callback([o] { run_ingest(*o); });
}

void setup_results(CLI::App& app) {
  setup_ingest(app);
  setup_query(app);
  setup_runs(app);
  setup_report(app);
}

}  // namespace gpas::cli
