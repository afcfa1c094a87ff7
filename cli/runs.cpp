// `gpas runs list [--sweep S] [--status X] [--where key=value ...] [--json]` and
// `gpas runs show RUN [--json]` (RUN: id, unique id prefix or name). Read-only.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/results_commands.h"
#include "core/common/error.h"
#include "results/store.h"
#include "results/text_output.h"

namespace gpas::cli {

namespace {

struct RunsOptions {
  std::string workdir = ".";
  std::string sweep;
  std::string status;
  std::vector<std::string> where;
  std::string run;
  bool json = false;
};

void run_runs_list(const RunsOptions& o) {
  results::RunFilter f{o.sweep, o.status, {}};
  for (const auto& w : o.where) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--where " + w + ": expected key=value, e.g. --where model.norm=pre", kExitUsage);
    f.where.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  auto store = open_store(o.workdir, true);
  std::cout << results::format_runs(*store, store->list_runs(f), o.json);
}

void run_runs_show(const RunsOptions& o) {
  auto store = open_store(o.workdir, true);
  auto r = store->find_run(o.run);
  if (!r) throw Error("no run '" + o.run + "' in " + store->path() + " (see `gpas runs list`)");
  std::cout << results::format_run(*store, *r, o.json);
}

}  // namespace

void setup_runs(CLI::App& app) {
  auto o = std::make_shared<RunsOptions>();
  auto* runs = app.add_subcommand("runs", "list and inspect runs in the results store");
  runs->require_subcommand(1);
  auto* list = runs->add_subcommand("list", "one line per run");
  list->add_option("--sweep", o->sweep, "only this sweep");
  list->add_option("--status", o->status, "queued|running|completed|failed|diverged|cancelled");
  list->add_option("--where", o->where, "key=value on the resolved config (repeatable)");
  list->add_flag("--json", o->json, "JSON for scripts");
  list->add_option("--workdir", o->workdir, "workdir holding gpas.db")->capture_default_str();
  list->callback([o] { run_runs_list(*o); });
  auto* show = runs->add_subcommand("show", "everything about one run");
  show->add_option("run", o->run, "run id, unique id prefix, or name")->required();
  show->add_flag("--json", o->json, "JSON for scripts");
  show->add_option("--workdir", o->workdir, "workdir holding gpas.db")->capture_default_str();
  show->callback([o] { run_runs_show(*o); });
}

}  // namespace gpas::cli
