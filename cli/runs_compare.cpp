// `gpas runs compare A B ... [--out DIR] [--json]`: the config keys whose values differ between
// the runs (only those), each metric's final and best value side by side, and with --out a
// loss-curve figure of the runs together (DIR/compare_loss.png and .svg). Read-only.
#include <cmath>
#include <iostream>
#include <map>
#include <set>

#include <CLI/CLI.hpp>

#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/figures.h"
#include "results/methods.h"
#include "results/store.h"
#include "results/text_output.h"

namespace gpas::cli {

// Config keys: union over the runs, kept where the values differ (or all).
std::vector<std::vector<std::string>> config_rows(const results::Store& store,
                                                  const std::vector<results::RunRow>& runs, bool all) {
  std::vector<std::map<std::string, std::string>> params;
  std::set<std::string> keys;
  for (const auto& r : runs) {
    params.emplace_back();
    for (const auto& [k, v] : store.params(r.id)) params.back()[k] = v, keys.insert(k);
  }
  std::vector<std::vector<std::string>> prow;
  for (const auto& k : keys) {
    std::vector<std::string> row = {k};
    std::set<std::string> distinct;
    for (const auto& p : params) {
      auto it = p.find(k);
      row.push_back(it == p.end() ? "(unset)" : it->second);
      distinct.insert(row.back());
    }
    if (all || distinct.size() > 1) prow.push_back(row);
  }
  return prow;
}

namespace {

struct CompareOptions {
  std::string workdir = ".";
  std::vector<std::string> runs;
  std::string out;
  bool all = false, json = false;
};

// Lower is better except for throughput-like metrics; the learning rate has no best.
std::optional<bool> higher_is_better(const std::string& key) {
  if (key.find("lr") != std::string::npos && key.find("/lr") == key.size() - 3) return std::nullopt;
  for (const char* up : {"tokens_per_s", "mfu", "acc", "throughput"})
    if (key.find(up) != std::string::npos) return true;
  return false;
}

std::string num(std::optional<double> v) {
  if (!v) return "";
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", *v);
  return b;
}

void run_compare(const CompareOptions& o) {
  if (o.runs.size() < 2) throw Error("give two or more runs to compare", kExitUsage);
  auto store = open_view(o.workdir);
  std::vector<results::RunRow> runs;
  for (const auto& ref : o.runs) {
    auto r = store->find_run(ref);
    if (!r) throw Error("no run '" + ref + "' in " + store->path() + " (see `gpas runs list`)");
    runs.push_back(*r);
  }
  auto prow = config_rows(*store, runs, o.all);
  // Metrics: final (last step) and best over the run.
  std::set<std::string> mkeys;
  for (const auto& r : runs)
    for (const auto& k : store->metric_keys(r.id)) mkeys.insert(k);
  struct M { std::optional<double> final, best; int64_t best_step = -1; };
  std::map<std::string, std::vector<M>> metrics;
  for (const auto& k : mkeys)
    for (const auto& r : runs) {
      M m;
      m.final = store->final_metric(r.id, k);
      auto hib = higher_is_better(k);
      if (hib)
        for (const auto& p : store->metric_series(r.id, k))
          if (std::isfinite(p.value) && (!m.best || (*hib ? p.value > *m.best : p.value < *m.best)))
            m.best = p.value, m.best_step = p.step;
      metrics[k].push_back(m);
    }
  std::string figure;
  if (!o.out.empty()) {
    make_dirs(o.out);
    auto f = results::loss_comparison(*store, runs, o.out + "/compare_loss", {"png", "svg"});
    figure = f.paths.at(0);
  }
  if (o.json) {
    nlohmann::ordered_json j;
    j["runs"] = nlohmann::ordered_json::array();
    for (const auto& r : runs)
      j["runs"].push_back({{"id", r.id}, {"name", r.name}, {"status", r.status}, {"method", results::method_of(r.config)}});
    j["params"] = nlohmann::ordered_json::object();
    for (const auto& row : prow) j["params"][row[0]] = std::vector<std::string>(row.begin() + 1, row.end());
    j["metrics"] = nlohmann::ordered_json::object();
    for (const auto& [k, ms] : metrics) {
      auto& e = j["metrics"][k] = {{"final", nlohmann::ordered_json::array()}, {"best", nlohmann::ordered_json::array()}};
      for (const auto& m : ms) {
        e["final"].push_back(m.final ? nlohmann::ordered_json(*m.final) : nlohmann::ordered_json());
        e["best"].push_back(m.best ? nlohmann::ordered_json(*m.best) : nlohmann::ordered_json());
      }
    }
    if (!figure.empty()) j["figure"] = figure;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::string> header = {""};
  for (const auto& r : runs) header.push_back((r.name.empty() ? r.id : r.name) + " [" + r.id.substr(0, 7) + "]");
  std::vector<std::vector<std::string>> head = {{"status"}, {"method"}, {"last step"}};
  for (const auto& r : runs) {
    head[0].push_back(r.status);
    head[1].push_back(results::method_of(r.config));
    head[2].push_back(std::to_string(r.last_step));
  }
  std::cout << results::aligned_table(header, head) << "\n";
  header[0] = "config (differing)";
  if (o.all) header[0] = "config";
  if (prow.empty()) std::cout << "config: the runs' resolved configs are identical\n\n";
  else std::cout << results::aligned_table(header, prow) << "\n";
  header[0] = "metric (final / best)";
  std::vector<std::vector<std::string>> mrow;
  for (const auto& [k, ms] : metrics) {
    std::vector<std::string> row = {k};
    for (const auto& m : ms)
      row.push_back(num(m.final) + (m.best ? " / " + num(m.best) + " @" + std::to_string(m.best_step) : ""));
    mrow.push_back(row);
  }
  std::cout << results::aligned_table(header, mrow);
  if (!figure.empty()) std::cout << "\nfigure: " << figure << "\n";
}

}  // namespace

void setup_runs_compare(CLI::App& runs) {
  auto o = std::make_shared<CompareOptions>();
  auto* cmd = runs.add_subcommand("compare", "Compare runs: the config keys that differ, final and best "
                                             "metrics side by side, a loss-curve figure with --out");
  cmd->add_option("runs", o->runs, "two or more run ids, id prefixes or names")->required();
  cmd->add_option("--out", o->out, "directory for the loss-curve figure (compare_loss.png, .svg)");
  cmd->add_flag("--all", o->all, "every config key, not only those that differ");
  add_json(cmd, o->json);
  add_workdir(cmd, o->workdir, "workdir holding gpas.db");
  cmd->callback([o] { run_compare(*o); });
}

}  // namespace gpas::cli
