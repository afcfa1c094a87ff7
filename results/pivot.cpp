// `gpas report pivot`: any metric's final value, mean ± std [n] over runs, with one config key
// (or method / sweep / status) down the rows and another across the columns. No emphasis: the
// pivot does not know whether lower is better.
#include <algorithm>
#include <set>

#include "core/common/error.h"
#include "results/paired.h"
#include "results/reports.h"

namespace gpas::results {

namespace {

std::string key_of(const RunRow& r, const std::string& key) {
  if (key == "method") return method_of(r.config);
  if (key == "sweep") return r.sweep;
  if (key == "status") return r.status;
  return config_text(r.config, key);
}

// Sizes in preset order, numbers numerically, everything else by text.
void sort_values(const std::string& key, std::vector<std::string>& v) {
  if (key == "model.size") return sort_sizes(v);
  if (key == "method") return sort_methods(v);
  bool numeric = std::all_of(v.begin(), v.end(), [](const std::string& s) {
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return !s.empty() && *end == '\0';
  });
  if (numeric)
    std::sort(v.begin(), v.end(), [](const std::string& a, const std::string& b) {
      double x = std::stod(a), y = std::stod(b);
      return x != y ? x < y : a < b;
    });
  else
    std::sort(v.begin(), v.end());
}

}  // namespace

ReportTable pivot_table(const Store& store, const PivotOptions& o) {
  if (o.rows.empty() || o.cols.empty()) throw Error("pivot: give --rows KEY and --cols KEY", kExitUsage);
  std::map<std::pair<std::string, std::string>, std::vector<RunRow>> cells;
  std::set<std::string> row_set, col_set;
  for (auto& r : store.list_runs({o.sweep, "", o.where})) {
    if (!r.config.is_object()) continue;
    std::string rv = key_of(r, o.rows), cv = key_of(r, o.cols);
    if (rv.empty() || cv.empty()) continue;
    row_set.insert(rv);
    col_set.insert(cv);
    cells[{rv, cv}].push_back(std::move(r));
  }
  if (cells.empty()) {
    std::string where;
    for (const auto& [k, v] : o.where) where += (where.empty() ? "" : ", ") + k + "=" + v;
    throw Error("pivot: no runs" + (o.sweep.empty() ? std::string() : " of sweep " + o.sweep) +
                (where.empty() ? "" : " with " + where) + " have both '" + o.rows + "' and '" + o.cols +
                "' (keys are config keys like model.norm, or method, sweep, status)");
  }
  std::vector<std::string> rows(row_set.begin(), row_set.end()), cols(col_set.begin(), col_set.end());
  sort_values(o.rows, rows);
  sort_values(o.cols, cols);
  ReportTable t;
  t.title = "Pivot";
  t.caption = "Final " + o.value + " by " + o.rows + " (rows) and " + o.cols + " (columns)" +
              (o.sweep.empty() ? "" : ", sweep " + o.sweep) + ". Mean ± std over runs [n].";
  t.header = {o.rows};
  t.header.insert(t.header.end(), cols.begin(), cols.end());
  std::string arm_a, arm_b;
  if (!o.paired.empty()) {
    size_t comma = o.paired.find(',');
    if (comma != std::string::npos) arm_a = o.paired.substr(0, comma), arm_b = o.paired.substr(comma + 1);
    std::string valid;
    for (const auto& c : cols) valid += (valid.empty() ? "" : ", ") + c;
    if (arm_a.empty() || arm_b.empty() || arm_a == arm_b)
      throw Error("pivot: --paired takes two different values of --cols " + o.cols + ", as A,B (values: " +
                  valid + ")", kExitUsage);
    for (const auto* arm : {&arm_a, &arm_b})
      if (std::find(cols.begin(), cols.end(), *arm) == cols.end())
        throw Error("pivot: --paired: no runs have " + o.cols + " = '" + *arm + "' (values: " + valid + ")",
                    kExitUsage);
    t.header.push_back(arm_b + " − " + arm_a);
    t.caption += " The last column: the mean paired change " + arm_b + " − " + arm_a + kPairedChangeCaption;
  }
  for (const auto& rv : rows) {
    std::vector<Cell> row = {{rv}};
    std::map<std::string, CellRuns> arms;
    for (const auto& cv : cols) {
      auto it = cells.find({rv, cv});
      CellRuns c = it == cells.end() ? CellRuns{} : collect_cell(store, it->second, o.value);
      row.push_back(cell_of(c, std::nullopt, true));  // any metric: lr 1e-4 must not read 0.00
      for (const auto& [status, n] : c.unfinished)
        t.notes.push_back(rv + " / " + cv + ": " + std::to_string(n) + " run(s) " + status +
                          ", not counted");
      if (cv == arm_a || cv == arm_b) arms[cv] = std::move(c);
    }
    if (!arm_a.empty()) {
      const CellRuns &a = arms[arm_a], &b = arms[arm_b];
      if (a.values.empty() || b.values.empty()) {
        row.push_back({"missing", Emphasis::kNone, "missing"});
      } else {
        PairedChange p = paired_change(b.by_seed, a.by_seed);
        std::string text = paired_change_text(p, b.stats().mean - a.stats().mean);
        if (p.n > 0) text += " [n=" + std::to_string(p.n) + "]";
        row.push_back({text});
      }
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace gpas::results
