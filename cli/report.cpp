// `gpas report table2 | ablations | pivot`: the paper's tables from <workdir>/gpas.db, printed
// to stdout or written with --out, in md | latex | csv | html. Figures and the HTML page are in
// report_figures.cpp.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/reports.h"
#include "results/store.h"

namespace gpas::cli {

namespace {

struct ReportCliOptions {
  std::string workdir = ".";
  std::string format = "md";
  std::string out;
  results::ReportOptions report;
  results::PivotOptions pivot;
  std::vector<std::string> where;
};

void emit(const ReportCliOptions& o, const std::string& text) {
  if (o.out.empty()) {
    std::cout << text;
    return;
  }
  write_file_atomic(o.out, text);
  std::cerr << "wrote " << o.out << "\n";
}

void add_common(CLI::App* cmd, ReportCliOptions& o, bool with_format = true) {
  cmd->add_option("--workdir", o.workdir, "workdir holding gpas.db")->capture_default_str();
  cmd->add_option("--sweep", o.report.sweep, "only the runs of this sweep");
  cmd->add_option("--metric", o.report.metric, "metric key, its value at each run's last step")
      ->capture_default_str();
  if (with_format)
    cmd->add_option("--format", o.format, "md | latex | csv | html")
        ->check(CLI::IsMember({"md", "latex", "csv", "html"}))->capture_default_str();
  cmd->add_option("--out", o.out, "write to this file instead of stdout");
}

void run_pivot(ReportCliOptions& o) {
  o.pivot.sweep = o.report.sweep;
  o.pivot.value = o.report.metric;
  for (const auto& w : o.where) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--where " + w + ": expected key=value", kExitUsage);
    o.pivot.where.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  auto store = open_store(o.workdir, true);
  emit(o, results::render(results::pivot_table(*store, o.pivot), o.format));
}

}  // namespace

void setup_report(CLI::App& app) {
  auto o = std::make_shared<ReportCliOptions>();
  auto* report = app.add_subcommand("report", "rebuild the paper's tables and figures from the store");
  report->require_subcommand(1);

  auto* t2 = report->add_subcommand("table2", "Table 2: perplexity by method (rows) and size (columns)");
  add_common(t2, *o);
  t2->add_flag("--compare-paper", o->report.compare_paper, "the published numbers beside ours");
  t2->callback([o] {
    emit(*o, results::report_table2(*open_store(o->workdir, true), o->report, o->format));
  });

  auto* ab = report->add_subcommand("ablations", "Tables 4 and 5: GPAS ablations on Pre-LN");
  add_common(ab, *o);
  ab->add_flag("--compare-paper", o->report.compare_paper, "the published numbers beside ours");
  ab->add_option("--size", o->report.size, "model.size of the ablation runs")->capture_default_str();
  ab->callback([o] {
    emit(*o, results::report_ablations(*open_store(o->workdir, true), o->report, o->format));
  });

  auto* pv = report->add_subcommand("pivot", "any metric, one config key down, another across");
  add_common(pv, *o);
  pv->add_option("--rows", o->pivot.rows, "config key (model.norm), or method | sweep | status")->required();
  pv->add_option("--cols", o->pivot.cols, "config key, or method | sweep | status")->required();
  pv->add_option("--value", o->report.metric, "metric key (same as --metric)");
  pv->add_option("--where", o->where, "key=value on the resolved config (repeatable)");
  pv->callback([o] { run_pivot(*o); });

  setup_report_figures(*report);
}

}  // namespace gpas::cli
