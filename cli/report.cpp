// `gpas report table2 | schemes | table3 | ablations | pivot`: the paper's tables from <workdir>/gpas.db, printed
// to stdout (aligned text on a terminal, Markdown through a pipe) or written with --out (format
// from the extension), or --format text|md|latex|csv|html|json. Figures: report_figures.cpp.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/schemes.h"
#include "results/reports.h"
#include "results/table3.h"
#include "results/store.h"

namespace gpas::cli {

namespace {

struct ReportCliOptions {
  std::string workdir = ".";
  std::string format;  // "" = by --out's extension, else text on a terminal, else md
  std::string out;
  bool json = false;
  results::ReportOptions report;
  results::PivotOptions pivot;
  std::vector<std::string> where;
};

std::string format_of(const ReportCliOptions& o) {
  if (o.json) return "json";
  if (!o.format.empty()) return o.format;
  if (o.out.empty()) {
    if (!::isatty(1)) return "md";
    const char* nc = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    return (nc && *nc) || (term && std::string(term) == "dumb") ? "text" : "ansi";
  }
  std::string ext = o.out.substr(o.out.find_last_of('.') == std::string::npos ? o.out.size() : o.out.find_last_of('.') + 1);
  if (ext == "tex") return "latex";
  if (ext == "csv" || ext == "html" || ext == "json") return ext;
  if (ext == "txt") return "text";
  return "md";
}

// Before a table is made: the metric exists, --compare-paper has something to compare with.
std::unique_ptr<results::Store> open_checked(const ReportCliOptions& o, bool uses_metric = true) {
  auto store = open_view(o.workdir);
  if (uses_metric)
    require_known("metric", o.report.metric,
                store_names(*store, "SELECT DISTINCT key FROM metrics ORDER BY key"));
  return store;
}

void warn_paper_gap(const ReportCliOptions& o, const results::Store& store) {
  if (!o.report.compare_paper) return;
  auto sizes = store_names(store, "SELECT DISTINCT value FROM params WHERE key = 'model.size'");
  results::sort_sizes(sizes);
  if (std::string gap = results::compare_paper_gap(sizes); !gap.empty())
    std::cerr << "gpas: warning: " << gap << "\n";
}

void emit(const ReportCliOptions& o, const std::string& text) {
  if (o.out.empty()) {
    std::cout << text;
    return;
  }
  write_file_atomic(o.out, text);
  std::cerr << "wrote " << o.out << "\n";
}

void add_common(CLI::App* cmd, ReportCliOptions& o, bool with_format = true) {
  add_workdir(cmd, o.workdir, "workdir holding gpas.db");
  cmd->add_option("--sweep", o.report.sweep, "only the runs of this sweep");
  cmd->add_option("--metric", o.report.metric, "metric key, its value at each run's last step")
      ->capture_default_str();
  if (with_format) {
    cmd->add_option("--format", o.format,
                    "text | md | latex | csv | html | json (default: text on a terminal, md in a "
                    "pipe, with --out by its extension: .tex .csv .html .json .txt, else md)")
        ->check(CLI::IsMember({"text", "md", "latex", "csv", "html", "json"}));
    add_json(cmd, o.json, "same as --format json");
  }
  cmd->add_option("--out", o.out, "write to this file instead of stdout");
}

void run_pivot(ReportCliOptions& o) {
  o.pivot.sweep = o.report.sweep;
  o.pivot.value = o.report.metric;
  auto store = open_checked(o);
  o.pivot.where = parse_where(*store, o.where);
  auto keys = store_names(*store, "SELECT DISTINCT key FROM params ORDER BY key");
  if (!keys.empty()) keys.insert(keys.begin(), {"method", "sweep", "status"});
  require_known("--rows key", o.pivot.rows, keys);
  require_known("--cols key", o.pivot.cols, keys);
  emit(o, results::render(results::pivot_table(*store, o.pivot), format_of(o)));
}

}  // namespace

void setup_report(CLI::App& app) {
  auto o = std::make_shared<ReportCliOptions>();
  auto* report = app.add_subcommand("report", "Rebuild the paper's tables and figures from the store");
  report->require_subcommand(1);

  auto* t2 = report->add_subcommand("table2", "Table 2: perplexity by method (rows) and size (columns)");
  add_common(t2, *o);
  t2->add_flag("--compare-paper", o->report.compare_paper, "the published numbers beside ours");
  t2->callback([o] {
    auto store = open_checked(*o);
    warn_paper_gap(*o, *store);
    emit(*o, results::report_table2(*store, o->report, format_of(*o)));
  });

  auto* sc = report->add_subcommand("schemes",
                                    "Each scheme one row: its learning rate, without and with GPAS, the paired change");
  add_common(sc, *o);
  sc->callback([o] { emit(*o, results::report_schemes(*open_checked(*o), o->report, format_of(*o))); });

  auto* ab = report->add_subcommand("ablations", "Tables 4 and 5: GPAS ablations on Pre-LN (or --norm)");
  add_common(ab, *o);
  ab->add_flag("--compare-paper", o->report.compare_paper, "the published numbers beside ours");
  ab->add_option("--size", o->report.size, "model.size of the ablation runs")->capture_default_str();
  ab->add_option("--norm", o->report.norm, "model.norm of the ablation runs: " + scheme_names())
      ->capture_default_str();
  ab->callback([o] {
    scheme_of(o->report.norm);  // an unknown scheme names the known ones
    auto store = open_checked(*o);
    if (o->report.compare_paper && o->report.norm != "pre")
      std::cerr << "gpas: warning: --compare-paper: the paper's ablations (Tables 4-5) are on Pre-LN only\n";
    if (o->report.compare_paper && o->report.size != "350m")
      std::cerr << "gpas: warning: --compare-paper: the paper's ablations (Tables 4-5) are at 350m only; "
                << o->report.size << " has no paper column values\n";
    emit(*o, results::report_ablations(*store, o->report, format_of(*o)));
  });

  auto t3o = std::make_shared<results::Table3Options>();
  auto* t3 = report->add_subcommand("table3", "Table 3: zero-shot accuracy after finetuning, by method");
  add_common(t3, *o);
  t3->add_flag("--compare-paper", t3o->compare_paper, "the published 1B numbers beside ours");
  t3->add_option("--size", t3o->size, "model.size (default: the largest with results)");
  t3->add_flag("--acc-norm", t3o->acc_norm, "acc_norm for PIQA, OBQA, HellaSwag and ARC-e (default acc)");
  t3->add_flag("--all-runs", [t3o](int64_t) { t3o->finetuned_only = false; },
               "also runs that were not finetuned (e.g. `gpas eval` of a pretrained run)");
  t3->callback([o, t3o] {
    t3o->sweep = o->report.sweep;
    emit(*o, results::render(results::table3_table(*open_checked(*o, false), *t3o), format_of(*o)));
  });

  auto* pv = report->add_subcommand("pivot", "Any metric, one config key down, another across");
  add_common(pv, *o);
  pv->add_option("--rows", o->pivot.rows, "config key (model.norm), or method | sweep | status")->required();
  pv->add_option("--cols", o->pivot.cols, "config key, or method | sweep | status")->required();
  pv->add_option("--value", o->report.metric, "metric key (same as --metric)");
  pv->add_option("--where", o->where, "key=value on the resolved config (repeatable)");
  pv->add_option("--paired", o->pivot.paired,
                 "A,B: two values of --cols; adds B - A paired by seed with its 95 % interval");
  pv->callback([o] { run_pivot(*o); });

  setup_report_figures(*report);
}

}  // namespace gpas::cli
