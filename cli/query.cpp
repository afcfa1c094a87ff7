// `gpas query "SQL" [--format table|csv|json] [--json] [-w W]`: one SQL statement on W/gpas.db,
// opened read-only; a statement that would write is refused with an error (exit code 1).
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "results/store.h"
#include "results/text_output.h"

namespace gpas::cli {

namespace {

struct QueryOptions {
  std::string sql;
  std::string format = "table";
  std::string workdir = ".";
  bool json = false;
  double timeout = 60;
};

void run_query(const QueryOptions& o) {
  auto store = open_view(o.workdir);
  std::cout << results::format_query(store->query(o.sql, o.timeout), o.json ? "json" : o.format);
}

}  // namespace

void setup_query(CLI::App& app) {
  auto o = std::make_shared<QueryOptions>();
  auto* cmd = app.add_subcommand(
      "query", "Run one read-only SQL statement on the results store "
               "(tables: sweeps runs params metrics layer_stats artifacts tags)");
  cmd->add_option("sql", o->sql, "the SQL statement")->required();
  cmd->add_option("--timeout", o->timeout, "stop the statement after this many seconds (0 = no limit)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--format", o->format, "table | csv | json")
      ->check(CLI::IsMember({"table", "csv", "json"}))->capture_default_str();
  add_workdir(cmd, o->workdir, "workdir holding gpas.db");
  add_json(cmd, o->json, "same as --format json");
  cmd->callback([o] { run_query(*o); });
}

}  // namespace gpas::cli
