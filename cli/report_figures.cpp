// `gpas report figures --out DIR` (the paper's Figs 2-7 as PNG and SVG) and
// `gpas report html --out page.html` (one self-contained page: tables and inline figures).
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/fs.h"
#include "results/html_report.h"

namespace gpas::cli {

namespace {

struct FiguresCliOptions {
  std::string workdir = ".";
  std::string out = "figures";
  std::string format = "both";
  bool no_figures = false;
  bool json = false;
  results::HtmlOptions html;
};

void add_run_options(CLI::App* cmd, FiguresCliOptions& o) {
  add_workdir(cmd, o.workdir, "workdir holding gpas.db");
  cmd->add_option("--sweep", o.html.figures.sweep, "pick runs from this sweep");
  cmd->add_option("--baseline", o.html.figures.baseline, "baseline run (default: a Pre-LN run)");
  cmd->add_option("--treated", o.html.figures.treated, "GPAS run (default: Pre + GPAS, same size)");
}

void run_figures(FiguresCliOptions& o) {
  auto store = open_view(o.workdir);
  results::FigureOptions f = o.html.figures;
  f.out_dir = o.out;
  if (o.format != "both") f.formats = {o.format};
  f.workdir = o.workdir;
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& fig : results::make_figures(*store, f)) {
    all.push_back({{"name", fig.name}, {"title", fig.title}, {"paths", fig.paths}, {"missing", fig.missing}});
    if (o.json) continue;
    for (const auto& p : fig.paths) std::cout << p << "\n";
    if (fig.paths.empty()) std::cerr << "gpas: " << fig.name << " not drawn: " << fig.missing << "\n";
  }
  if (o.json) std::cout << all.dump(2) << "\n";
}

void run_mechanism(FiguresCliOptions& o) {
  auto store = open_view(o.workdir);
  auto j = results::mechanism_data(*store, o.html.figures);
  std::cout << (o.json ? j.dump(2) + "\n" : results::mechanism_text(j));
}

void run_html(FiguresCliOptions& o) {
  auto store = open_view(o.workdir);
  o.html.report.sweep = o.html.figures.sweep;
  o.html.with_figures = !o.no_figures;
  o.html.figures.workdir = o.workdir;
  write_file_atomic(o.out, results::html_report(*store, o.html));
  std::cerr << "wrote " << o.out << "\n";
}

}  // namespace

void setup_report_figures(CLI::App& report) {
  auto o = std::make_shared<FiguresCliOptions>();
  auto* fig = report.add_subcommand("figures", "Figs 2-7 (loss, gates, activation variance, "
                                               "grad norm, weight-norm ratio, importance)");
  add_run_options(fig, *o);
  fig->add_option("--out,--out-dir", o->out, "directory for fig*.png / fig*.svg")->capture_default_str();
  fig->add_option("--format", o->format, "png | svg | both")
      ->check(CLI::IsMember({"png", "svg", "both"}))->capture_default_str();
  add_json(fig, o->json, "every figure: name, title, paths, or why it is missing");
  fig->callback([o] { run_figures(*o); });

  auto* mech = report.add_subcommand("mechanism", "Figs 3-4 in numbers: each layer's activation variance "
                                                   "with and without GPAS, the gates, both eval curves");
  add_run_options(mech, *o);
  add_json(mech, o->json, "the same numbers as JSON");
  mech->callback([o] { run_mechanism(*o); });

  auto* html = report.add_subcommand("html", "One self-contained HTML page with tables and figures");
  add_run_options(html, *o);
  html->add_option("--out", o->out, "the page to write")->required();
  html->add_flag("--compare-paper", o->html.report.compare_paper, "published numbers beside ours");
  html->add_option("--size", o->html.report.size, "model.size of the ablation runs")->capture_default_str();
  html->add_flag("--no-figures", o->no_figures, "tables only");
  html->callback([o] { run_html(*o); });
}

}  // namespace gpas::cli
