// `gpas runs list [--sweep S] [--status X] [--where key=value ...] [--tag T] [--json]`,
// `gpas runs show RUN [--json]` and `gpas runs metrics RUN [--key K] [--format F]` (RUN: id,
// unique id prefix or name). Read-only, true while runs are live (open_view). Also registers
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
  auto store = open_view(o.workdir);
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
  auto store = open_view(o.workdir);
  auto r = store->find_run(o.run);
  if (!r) throw Error("no run '" + o.run + "' in " + store->path() + " (see `gpas runs list`)");
  std::cout << results::format_run(*store, *r, o.json);
}

struct MetricsOptions {
  std::string workdir = ".";
  std::string run;
  std::vector<std::string> keys;
  std::string format = "table";
};

// A run's whole metric history, as the journal has it so far (the run may still be training).
void run_runs_metrics(const MetricsOptions& o) {
  auto store = open_view(o.workdir);
  auto r = store->find_run(o.run);
  if (!r) throw Error("no run '" + o.run + "' in " + store->path() + " (see `gpas runs list`)");
  auto known = store->metric_keys(r->id);
  for (const auto& k : o.keys) require_known("metric key for run " + r->id, k, known);
  auto history = store->metric_history(r->id, o.keys);
  std::cout << results::format_query(history, o.format);
  if (history.rows.empty() && o.format == "table")
    std::cerr << "gpas: run " << r->id << " has logged no metric yet (status " << r->status << ")\n";
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
  auto m = std::make_shared<MetricsOptions>();
  auto* metrics = runs->add_subcommand("metrics", "A run's whole metric history (every logged step), live");
  metrics->add_option("run", m->run, "run id, unique id prefix, or name")->required();
  metrics->add_option("--key", m->keys, "only this metric, e.g. eval/ppl (repeatable; default: all)");
  metrics->add_option("--format", m->format, "table|csv|json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  add_workdir(metrics, m->workdir, "workdir holding gpas.db");
  metrics->callback([m] { run_runs_metrics(*m); });
  setup_runs_compare(*runs);
  setup_runs_manage(*runs);
}

}  // namespace gpas::cli
