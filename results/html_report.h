// `gpas report html`: one self-contained HTML page (no external files, scripts or fonts) with
// Table 2, the ablation tables when ablation runs exist, and the figures as inline SVG.
// Leaves out serving or opening the page; render_check() only screenshots it when Chromium exists.
#pragma once
#include <string>

#include "results/figures.h"
#include "results/reports.h"

namespace gpas::results {

struct HtmlOptions {
  ReportOptions report;
  FigureOptions figures;  // out_dir and formats are ignored: SVGs go inline
  bool with_figures = true;
};

std::string html_report(const Store& store, const HtmlOptions& opts);

// Headless Chromium screenshot of an HTML file; "" on success, else why not. Returns
// "chromium not found" when there is none (callers skip).
std::string render_check(const std::string& html_path, const std::string& png_path);

}  // namespace gpas::results
