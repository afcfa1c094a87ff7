// `gpas runs list [--sweep S] [--status X] [--where key=value ...] [--tag T] [--json]` and
// `gpas runs show RUN [--json]` (RUN: id, unique id prefix or name). Read-only. Also registers
// `runs compare` (runs_compare.cpp) and `runs delete | tag | note` (runs_manage.cpp).
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "results/run_admin.h"
#include "results/store.h"
#include "results/text_output.h"

namespace gpas::cli {

namespace {

struct RunsOptions {
  std::string workdir = ".";
  std::string sweep;
  std::string status;
  std::vector<std::string> where;
  std::string tag;
  std::string run;
  bool json = false;
};

void run_runs_list(const RunsOptions& o) {
  auto store = open_store(o.workdir, true);
  if (!o.sweep.empty()) require_known("sweep", o.sweep, store->sweeps());
  results::RunFilter f{o.sweep, o.status, parse_where(*store, o.where)};
  auto runs = store->list_runs(f);
  if (!o.tag.empty()) {
    std::vector<results::RunRow> tagged;
    for (auto& r : runs)
      for (const auto& t : results::tags_of(*store, "run", r.id))
        if (t.key == o.tag) {
          tagged.push_back(r);
          break;
        }
    runs = std::move(tagged);
  }
  std::cout << results::format_runs(*store, runs, o.json);
  if (runs.empty() && !o.json) {  // say why on stderr; stdout keeps only the (empty) table
    std::string why = !f.where.empty() ? explain_no_match(*store, f.where)
                      : store->list_runs({}).empty() ? "the store has no runs yet (`gpas ingest`, `gpas train`)"
                                                     : "no run matches";
    std::cerr << "gpas: " << why << "\n";
  }
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
  auto* runs = app.add_subcommand("runs", "List, inspect, compare, tag and delete runs in the results store");
  runs->require_subcommand(1);
  auto* list = runs->add_subcommand("list", "One line per run");
  list->add_option("--sweep", o->sweep, "only this sweep");
  list->add_option("--status", o->status, "queued|running|interrupted|completed|failed|diverged|cancelled");
  list->add_option("--where", o->where, "key=value on the resolved config (repeatable)");
  list->add_option("--tag", o->tag, "only runs with this tag (`gpas runs tag`)");
  add_json(list, o->json);
  add_workdir(list, o->workdir, "workdir holding gpas.db");
  list->callback([o] { run_runs_list(*o); });
  auto* show = runs->add_subcommand("show", "Everything about one run");
  show->add_option("run", o->run, "run id, unique id prefix, or name")->required();
  add_json(show, o->json);
  add_workdir(show, o->workdir, "workdir holding gpas.db");
  show->callback([o] { run_runs_show(*o); });
  setup_runs_compare(*runs);
  setup_runs_manage(*runs);
}

}  // namespace gpas::cli
