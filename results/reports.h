// The paper's tables rebuilt from the store: Table 2 (perplexity by method and size), Tables 4-5
// (350M Pre-LN ablations) and a free pivot. Each returns a ReportTable (report_table.h renders
// it). Leaves out figures (figures.h) and the HTML page (html_report.h).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/methods.h"
#include "results/report_table.h"
#include "results/store.h"

namespace gpas::results {

struct ReportOptions {
  std::string sweep;                // "" = every run in the store
  std::string metric = "eval/ppl";  // value at the last step of each run
  bool compare_paper = false;       // published numbers beside the measured ones
  std::string size = "350m";        // ablations: the model size the ablation runs used
  std::string norm = "pre";         // ablations: the scheme they ablate GPAS on (the paper's: Pre-LN)
};

// The runs of one table cell, reduced: finished values, diverged and unfinished counts.
struct CellRuns {
  std::vector<double> values;                 // completed runs' final metric
  std::map<int64_t, double> by_seed;          // the same, by train.seed (paired comparisons)
  int diverged = 0;
  std::map<std::string, int> unfinished;      // status -> count (running, failed, ...)
  Stats stats() const { return stats_of(values); }
};
CellRuns collect_cell(const Store& store, const std::vector<RunRow>& runs, const std::string& metric);
// "33.50 ± 0.14 (-0.80) [n=2]", "diverged", "missing"; change: against the base method, as text.
// any_scale: a mean below 1 is written with 4 significant digits ("0.0001 ± 2e-05", for metrics
// like the learning rate) instead of 2 decimals; the paper's tables keep 2 decimals.
Cell cell_of(const CellRuns& c, std::optional<std::string> change = std::nullopt, bool any_scale = false);

// Table 2 as data, then as a table: rows = the paper's eleven methods then any others present,
// columns = sizes present (preset order).
struct Table2Data {
  std::vector<std::string> methods;
  std::vector<std::string> sizes;
  std::map<std::pair<std::string, std::string>, CellRuns> cells;  // (method, size)
  std::map<std::pair<std::string, std::string>, std::string> lr;  // train.lr of the cell's runs
  std::vector<std::string> notes;
};
Table2Data collect_table2(const Store& store, const ReportOptions& opts);
// With --compare-paper: "" when the paper has Table 2 numbers for every size given, else a
// sentence naming the sizes without them and the sizes the paper has.
std::string compare_paper_gap(const std::vector<std::string>& sizes);
ReportTable table2_table(const Table2Data& data, const ReportOptions& opts);
// Long CSV for scripts: method,size,mean,std,n,diverged,unfinished,delta_vs_base[,paper]
std::string table2_csv(const Table2Data& data, const ReportOptions& opts);
// The whole report in one format (md | latex | csv | html).
std::string report_table2(const Store& store, const ReportOptions& opts, const std::string& format);

// The same runs with one row per scheme (a QK-norm variant is a row of its own): its learning
// rate, then for each size the scheme without GPAS, with GPAS, and the paired change. Only the
// schemes that have runs. Its notes are its own (learning rates that differ); report_schemes adds
// collect_table2's.
ReportTable schemes_table(const Table2Data& data, const ReportOptions& opts);
// csv: one line per (scheme, size) with the numbers (means, stds, n, lr of each arm, the change and
// its interval), as report_table2's long CSV; other formats render the table.
std::string report_schemes(const Store& store, const ReportOptions& opts, const std::string& format);

// Tables 4 and 5: activation, position; stopgrad, gate. Empty when no ablation run is found.
std::vector<ReportTable> ablation_tables(const Store& store, const ReportOptions& opts);
std::string report_ablations(const Store& store, const ReportOptions& opts, const std::string& format);

struct PivotOptions {
  std::string rows;                 // a config key (model.norm), or method | sweep | status
  std::string cols;
  std::string value = "eval/ppl";   // a metric key; its value at each run's last step
  std::string sweep;
  std::vector<std::pair<std::string, std::string>> where;
  // Two values of the column key, "A,B": adds a column with B - A per row, paired by train.seed
  // (seed k of B against seed k of A), and its 95 % t-interval, as table2's GPAS rows.
  std::string paired;
};
ReportTable pivot_table(const Store& store, const PivotOptions& opts);

}  // namespace gpas::results
