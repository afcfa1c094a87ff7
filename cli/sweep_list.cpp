// `gpas sweep list [-w W] [--json]`: every sweep of a workdir's store with its runs counted by
// status, whether an orchestrator is running it now, and its tags. Read-only.
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "results/run_admin.h"
#include "results/store.h"
#include "results/text_output.h"
#include "sweeps/lock.h"

namespace gpas::cli {

namespace {

struct SweepListOptions {
  std::string workdir = ".";
  bool json = false;
};

void run_sweep_list(const SweepListOptions& o) {
  auto store = open_view(o.workdir);
  std::map<std::string, std::map<std::string, int64_t>> counts;  // sweep -> status -> runs
  // Each run as `runs list` shows it (a stored "running" run with no live trainer is interrupted),
  // counted in every sweep it belongs to.
  for (const auto& name : store->sweeps()) {
    auto& by_status = counts[name];
    results::RunFilter in_sweep;
    in_sweep.sweep = name;
    for (const auto& r : store->list_runs(in_sweep)) by_status[r.status] += 1;
  }
  const std::vector<std::string> columns = {"completed", "running",  "interrupted", "queued",
                                            "failed",    "diverged", "cancelled"};
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, by_status] : counts) {
    int64_t total = 0;
    for (const auto& [s, n] : by_status) total += n;
    long pid = sweeps::lock_holder(sweeps::lock_path(o.workdir, name));
    std::string tags = results::tags_text(results::tags_of(*store, "sweep", name));
    std::vector<std::string> row = {name, std::to_string(total)};
    nlohmann::ordered_json j = {{"sweep", name}, {"runs", total}};
    for (const auto& c : columns) {
      auto it = by_status.find(c);
      int64_t n = it == by_status.end() ? 0 : it->second;
      row.push_back(n ? std::to_string(n) : "-");
      j[c] = n;
    }
    row.push_back(pid > 0 ? "running (pid " + std::to_string(pid) + ")" : "");
    row.push_back(tags);
    j["orchestrator_pid"] = pid > 0 ? pid : 0;
    j["tags"] = tags;
    rows.push_back(row);
    arr.push_back(j);
  }
  if (o.json) {
    std::cout << arr.dump(2) << "\n";
    return;
  }
  const std::vector<std::string> header = {"SWEEP",  "RUNS",     "COMPLETED", "RUNNING",      "INTERRUPTED", "QUEUED",
                                           "FAILED", "DIVERGED", "CANCELLED", "ORCHESTRATOR", "TAGS"};
  std::cout << results::aligned_table(header, rows);
  if (rows.empty()) std::cerr << "gpas: no sweeps in " << store->path() << " (`gpas sweep run FILE` makes one)\n";
}

}  // namespace

void setup_sweep_list(CLI::App& sweep) {
  auto o = std::make_shared<SweepListOptions>();
  auto* cmd = sweep.add_subcommand("list", "Every sweep in a workdir: runs by status, whether it runs now, tags");
  add_workdir(cmd, o->workdir);
  add_json(cmd, o->json);
  cmd->callback([o] { run_sweep_list(*o); });
}

}  // namespace gpas::cli
