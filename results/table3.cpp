// Table 3 from the store. A cell is the mean over the runs (seeds) of one method at the size;
// Average is each run's mean over its tasks (downstream/average/acc), averaged; GPAS rows show
// the change of Average against their base method, as the paper does. Numbers are percent.
#include "results/table3.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/common/error.h"
#include "results/methods.h"
#include "results/reports.h"

namespace gpas::results {

const std::vector<std::pair<std::string, std::string>>& table3_columns() {
  static const std::vector<std::pair<std::string, std::string>> k = {
      {"mmlu", "MMLU"}, {"winogrande", "WinoG"}, {"piqa", "PIQA"},  {"openbookqa", "OBQA"},
      {"hellaswag", "HellaSwag"}, {"boolq", "BoolQ"}, {"arc_easy", "ARC-e"}, {"average", "Average"}};
  return k;
}

std::optional<double> paper_table3(const std::string& method, const std::string& task) {
  // ../shared/reference/paper-tables/table3_downstream_1b.csv (a test compares the two).
  static const std::map<std::string, std::vector<double>> k = {
      {"Post-LN", {22.95, 49.49, 52.88, 11.60, 26.24, 37.83, 27.44, 32.63}},
      {"DeepNorm", {22.95, 49.64, 52.61, 11.60, 26.20, 37.83, 27.23, 32.58}},
      {"Pre-LN", {23.35, 50.99, 68.72, 17.80, 32.29, 50.37, 49.33, 41.83}},
      {"Sandwich-LN", {23.27, 51.07, 67.63, 21.20, 32.70, 61.74, 47.43, 43.58}},
      {"Mix-LN", {23.22, 52.88, 68.82, 20.80, 33.11, 61.90, 48.91, 44.23}},
      {"LNS", {23.16, 52.09, 69.37, 20.00, 34.68, 62.08, 51.18, 44.65}},
      {"DeepNorm + GPAS", {23.71, 50.67, 67.95, 21.20, 31.43, 53.82, 47.22, 42.29}},
      {"Pre + GPAS", {23.46, 52.25, 68.99, 22.20, 33.72, 59.76, 49.87, 44.32}},
      {"Sandwich + GPAS", {23.14, 50.36, 69.10, 22.20, 34.62, 61.96, 50.97, 44.62}},
      {"Mix + GPAS", {23.22, 52.88, 70.18, 21.00, 33.52, 61.93, 49.79, 44.65}},
      {"LNS + GPAS", {23.34, 52.01, 70.95, 24.40, 36.09, 61.59, 52.40, 45.83}},
  };
  auto it = k.find(method);
  if (it == k.end()) return std::nullopt;
  const auto& cols = table3_columns();
  for (size_t i = 0; i < cols.size(); ++i)
    if (cols[i].first == task) return it->second[i];
  return std::nullopt;
}

static std::string metric_of(const std::string& task, bool acc_norm) {
  if (task == "average") return "downstream/average/acc";
  const bool has_norm = task == "piqa" || task == "openbookqa" || task == "hellaswag" || task == "arc_easy";
  return "downstream/" + task + (acc_norm && has_norm ? "/acc_norm" : "/acc");
}

ReportTable table3_table(const Store& store, const Table3Options& o) {
  RunFilter f;
  f.sweep = o.sweep;
  std::map<std::string, std::map<std::string, std::vector<RunRow>>> by_size;  // size -> method -> runs
  for (auto& r : store.list_runs(f)) {
    if (!r.config.is_object()) continue;
    if (o.finetuned_only && config_text(r.config, "data.source") != "instruct") continue;
    if (!store.final_metric(r.id, "downstream/average/acc")) continue;
    std::string method = method_of(r.config);
    if (!method.empty()) by_size[size_label(r.config)][method].push_back(std::move(r));
  }
  if (by_size.empty())
    throw Error(std::string("no ") + (o.finetuned_only ? "finetuned " : "") +
                "runs with downstream results in the store" + (o.sweep.empty() ? "" : " for sweep '" + o.sweep + "'") +
                "; run `gpas finetune ... --tasks-dir DIR` or `gpas eval RUN --tasks-dir DIR`" +
                (o.finetuned_only ? " (--all-runs counts runs without finetuning too)" : ""));
  std::string size = o.size;
  if (size.empty()) {
    std::vector<std::string> sizes;
    for (const auto& [s, m] : by_size) sizes.push_back(s);
    sort_sizes(sizes);
    size = sizes.back();
  }
  if (!by_size.count(size)) throw Error("--size " + size + ": no runs with downstream results at that size");
  auto& methods_here = by_size[size];
  std::vector<std::string> notes;
  // One run per seed of a method: with --all-runs a pretrained run and its finetune share a seed,
  // and counting both would make n=2 of one seed. The finetune is counted, its parent named.
  for (auto& [m, runs] : methods_here) {
    std::map<std::string, std::vector<RunRow>> by_seed;
    for (auto& r : runs) by_seed[config_text(r.config, "train.seed")].push_back(std::move(r));
    runs.clear();
    for (auto& [seed, same] : by_seed) {
      std::stable_sort(same.begin(), same.end(), [](const RunRow& a, const RunRow& b) {
        return (config_text(a.config, "data.source") == "instruct") > (config_text(b.config, "data.source") == "instruct");
      });
      for (size_t i = 1; i < same.size(); ++i)
        notes.push_back(m + ", seed " + seed + ": run " + same[i].id + " left out, run " + same[0].id +
                        " of the same seed counted" +
                        (config_text(same[0].config, "data.source") == "instruct" ? " (the finetuned one)" : ""));
      runs.push_back(std::move(same[0]));
    }
  }
  // Which tasks the Average covers: the paper's is over its 7; over fewer it is another number.
  std::set<std::string> tasks;
  for (const auto& [m, runs] : methods_here)
    for (const auto& r : runs)
      for (const auto& [key, name] : table3_columns())
        if (key != "average" && store.final_metric(r.id, metric_of(key, false))) tasks.insert(name);
  if (tasks.size() < table3_columns().size() - 1) {
    std::string names;
    for (const auto& t : tasks) names += (names.empty() ? "" : ", ") + t;
    notes.push_back("Average is over the " + std::to_string(tasks.size()) + " tasks these runs were evaluated on (" +
                    names + "), the paper's over all " + std::to_string(table3_columns().size() - 1) +
                    ": the two Averages are not comparable");
  }

  ReportTable t;
  t.title = "Table 3";
  t.label = "tab:gpas-sft";
  t.caption = "Zero-shot accuracy (%, " + std::string(o.acc_norm ? "acc_norm where the task has it" : "acc") +
              ") of " + (o.finetuned_only ? "finetuned " : "") + size + " models" +
              (o.sweep.empty() ? "" : ", sweep " + o.sweep) +
              ". Mean ± std over seeds [n runs]; GPAS rows show the change of Average against the "
              "same scheme without GPAS. Best per column in bold, second underlined." +
              (o.compare_paper ? " Columns marked (paper): the published 1B numbers." : "");
  t.header = {"Method"};
  std::vector<size_t> measured;
  for (const auto& [key, name] : table3_columns()) {
    measured.push_back(t.header.size());
    t.header.push_back(name);
    if (o.compare_paper) t.header.push_back(name + " (paper)");
  }
  std::vector<std::string> methods = paper_methods();
  for (const auto& [m, runs] : methods_here)
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  auto mean_of = [&](const std::string& method, const std::string& task) -> std::optional<Stats> {
    auto it = methods_here.find(method);
    if (it == methods_here.end()) return std::nullopt;
    CellRuns c = collect_cell(store, it->second, metric_of(task, o.acc_norm));
    if (c.values.empty()) return std::nullopt;
    for (double& v : c.values) v *= 100;
    return c.stats();
  };
  std::vector<std::vector<double>> values;
  for (size_t i = 0; i < methods.size(); ++i) {
    const std::string& m = methods[i];
    if (!methods_here.count(m) && !o.compare_paper) continue;
    if (m == "DeepNorm + GPAS") t.rule_before.push_back(t.rows.size());
    std::vector<Cell> row = {{m}};
    std::vector<double> vals = {-1};
    for (const auto& [key, name] : table3_columns()) {
      auto s = mean_of(m, key);
      std::string text = s ? fixed(s->mean) : "missing";
      if (s && s->n > 1) text += " ± " + fixed(s->std) + " [n=" + std::to_string(s->n) + "]";
      if (s && key == "average")
        if (auto b = mean_of(base_method(m), key); b && !base_method(m).empty())
          text += " (" + signed_fixed(s->mean - b->mean) + ")";
      row.push_back({text, Emphasis::kNone, s ? "" : "missing"});
      vals.push_back(s ? 100 - s->mean : -1);  // mark_best_two marks the smallest
      if (o.compare_paper) {
        auto p = paper_table3(m, key);
        row.push_back({p ? fixed(*p) : "", Emphasis::kNone, "paper"});
        vals.push_back(-1);
      }
    }
    t.rows.push_back(std::move(row));
    values.push_back(std::move(vals));
  }
  mark_best_two(t, values, measured);
  t.notes.insert(t.notes.end(), notes.begin(), notes.end());
  for (const auto& [m, runs] : methods_here)
    for (const auto& r : runs)
      if (r.status != "completed") t.notes.push_back(m + ": run " + r.id + " is " + r.status + ", not counted");
  if (o.compare_paper && size != "1b") t.notes.push_back("the paper's numbers are for 1B models; these are " + size);
  return t;
}

}  // namespace gpas::results
