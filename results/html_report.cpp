// The HTML page: tables rendered by report_table.cpp, figures made by figures.cpp into a temporary
// directory as SVG and inlined. A part that cannot be made (no runs for it) says why instead.
#include "results/html_report.h"

#include <stdlib.h>

#include <filesystem>
#include <sstream>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/methods.h"
#include "results/subprocess.h"

namespace gpas::results {

namespace {

const char* kStyle = R"css(
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table.gpas { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
figure.table { margin: 1em 0; } figure.table figcaption { max-width: 60em; padding-bottom: .3em; }
table.gpas th, table.gpas td { padding: .3em .7em; border-bottom: 1px solid #eee; }
table.gpas td { text-align: right; font-variant-numeric: tabular-nums; }
table.gpas th { text-align: left; }
table.gpas thead th { border-bottom: 2px solid #444; }
table.gpas tr.rule > * { border-top: 2px solid #888; }
td.missing { color: #999; font-style: italic; }
td.diverged { color: #b00; font-style: italic; }
td.paper { color: #666; }
ul.notes { color: #555; font-size: .9em; }
figure { margin: 1.5em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #444; font-size: .95em; }
p.skipped { color: #777; font-style: italic; }
details pre { background: #f6f6f6; padding: .5em 1em; font-size: .85em; }
table.gpas code { font-size: .9em; }
)css";

std::string inline_svg(const std::string& path) {
  std::string svg = read_file(path);
  size_t start = svg.find("<svg");
  if (start == std::string::npos) throw Error(path + ": not an SVG file");
  return svg.substr(start);
}

// Every run the page draws on, one row each, and its resolved config folded away below.
std::string runs_section(const Store& store, const std::string& sweep) {
  auto runs = store.list_runs({sweep, "", {}});
  std::ostringstream h;
  h << "<h2>Runs</h2>\n";
  if (runs.empty()) return h.str() + "<p class=\"skipped\">No runs in the store.</p>\n";
  h << "<figure class=\"table\">\n<figcaption>" << runs.size() << " run" << (runs.size() == 1 ? "" : "s")
    << (sweep.empty() ? "" : " of sweep " + html_escape(sweep))
    << "; final metrics at each run's last step.</figcaption>\n<table class=\"gpas\">\n"
       "<thead><tr><th>id</th><th>name</th><th>sweep</th><th>status</th><th>method</th><th>size</th>"
       "<th>seed</th><th>steps</th><th>eval loss</th><th>eval ppl</th></tr></thead>\n<tbody>\n";
  for (const auto& r : runs) {
    auto loss = store.final_metric(r.id, "eval/loss"), ppl = store.final_metric(r.id, "eval/ppl");
    h << "<tr><th><code>" << r.id << "</code></th><td>" << html_escape(r.name) << "</td><td>"
      << html_escape(r.sweep) << "</td><td>" << html_escape(r.status) << "</td><td>"
      << html_escape(method_of(r.config)) << "</td><td>" << html_escape(size_label(r.config))
      << "</td><td>" << html_escape(config_text(r.config, "train.seed")) << "</td><td>" << r.last_step
      << "</td><td>" << (loss ? fixed(*loss, 4) : "") << "</td><td>" << (ppl ? fixed(*ppl) : "") << "</td></tr>\n";
  }
  h << "</tbody>\n</table>\n</figure>\n<h3>Configs</h3>\n";
  for (const auto& r : runs) {
    h << "<details><summary><code>" << r.id << "</code> " << html_escape(r.name) << "</summary>\n<pre>";
    for (const auto& [k, v] : store.params(r.id)) h << html_escape(k) << " = " << html_escape(v) << "\n";
    h << "</pre></details>\n";
  }
  return h.str();
}

}  // namespace

std::string html_report(const Store& store, const HtmlOptions& o) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<title>GPAS results</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
    << "<h1>GPAS: Gradient-Preserving Activation Scaling &mdash; results</h1>\n";
  if (!o.report.sweep.empty()) h << "<p>Sweep: " << html_escape(o.report.sweep) << "</p>\n";
  h << "<h2>Perplexity by method and size</h2>\n";
  try {
    Table2Data d = collect_table2(store, o.report);
    h << render(table2_table(d, o.report), "html");  // with collect_table2's notes
    h << "<h2>Each scheme without and with GPAS</h2>\n" << render(schemes_table(d, o.report), "html");
  } catch (const Error& e) {
    h << "<p class=\"skipped\">Table 2: " << html_escape(e.what()) << "</p>\n";
  }
  auto ablations = ablation_tables(store, o.report);
  if (!ablations.empty()) {
    h << "<h2>Ablations</h2>\n";
    for (const auto& t : ablations) h << render(t, "html");
  }
  if (o.with_figures) {
    h << "<h2>Figures</h2>\n";
    std::string tmpl = (std::filesystem::temp_directory_path() / "gpas_html_XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw Error("cannot create a temporary directory for figures");
    FigureOptions f = o.figures;
    f.out_dir = tmpl;
    f.formats = {"svg"};
    try {
      for (const auto& fig : make_figures(store, f)) {
        if (fig.paths.empty()) {  // named, with the command that makes its data
          h << "<p class=\"skipped\" id=\"" << fig.name << "\">" << html_escape(fig.title)
            << ": not drawn; " << html_escape(fig.missing) << "</p>\n";
          continue;
        }
        h << "<figure id=\"" << fig.name << "\">\n" << inline_svg(fig.paths.at(0))
          << "<figcaption>" << html_escape(fig.title) << "</figcaption>\n</figure>\n";
      }
    } catch (const Error& e) {
      h << "<p class=\"skipped\">Figures: " << html_escape(e.what()) << "</p>\n";
    }
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
  }
  h << runs_section(store, o.report.sweep);
  h << "</body>\n</html>\n";
  return h.str();
}

std::string render_check(const std::string& html_path, const std::string& png_path) {
  std::string chromium = find_program({"chromium", "chromium-browser", "google-chrome"});
  if (chromium.empty()) return "chromium not found";
  std::string url = "file://" + std::filesystem::absolute(html_path).string();
  ProcessResult r = run_process({chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                 "--disable-background-networking", "--hide-scrollbars",
                                 "--window-size=1200,2400", "--screenshot=" + png_path, url},
                                "", 120);
  std::error_code ec;
  if (r.exit_code != 0 || std::filesystem::file_size(png_path, ec) == 0 || ec)
    return "chromium failed (exit " + std::to_string(r.exit_code) + "): " + r.err;
  return "";
}

}  // namespace gpas::results
