// The paper's Section 5 figures from the store, drawn by gnuplot (a subprocess, no shell) as PNG
// and SVG: loss curves (Fig 2), gates (3), activation variance (4) and gradient norm (5) per
// layer over steps, weight-norm ratio per layer (6), layer importance (7). A figure whose data
// the runs lack is skipped, not faked. Leaves out the HTML page (html_report.h).
#pragma once
#include <string>
#include <vector>

#include "results/store.h"

namespace gpas::results {

struct FigureOptions {
  std::string out_dir;             // created if needed
  std::string baseline;            // run (id, prefix or name); "" = picked: a Pre-LN run
  std::string treated;             // "" = picked: the Pre + GPAS run of the same size and seed
  std::string sweep;               // where runs are picked from
  std::vector<std::string> formats = {"png", "svg"};
  std::string workdir = ".";       // named in the commands that make missing data
};

struct FigureFile {
  std::string name;   // fig2_loss, fig3_gates, ...
  std::string title;  // a sentence for people
  std::vector<std::string> paths;  // one per format; empty when the figure could not be drawn
  std::string missing;             // then: why, and the command that makes its data
};

// The runs the figures compare: unless given, those of the largest size that has both a completed
// Pre-LN and a completed Pre + GPAS run, every seed both have (in seed order, base[i] and
// treated[i] of one seed); a run given by name is one run. Throws gpas::Error if none.
struct FigureRuns {
  std::vector<RunRow> base, treated;
};
FigureRuns figure_seeds(const Store& store, const FigureOptions& opts);
// The first of each (lowest seed): the pair `report mechanism` prints.
std::pair<RunRow, RunRow> figure_runs(const Store& store, const FigureOptions& opts);

// Writes every figure the data allows (over several seeds: the mean, with the min-max band of
// Figure 2's curves and Figure 7's points, n in each title); returns every figure in order, those not drawn with
// `missing` saying why and which command makes their data.
std::vector<FigureFile> make_figures(const Store& store, const FigureOptions& opts);

// `gpas runs compare`: the loss curves of several runs in one figure (train solid, eval dashed
// with points), one colour per run. base_path: without extension.
FigureFile loss_comparison(const Store& store, const std::vector<RunRow>& runs,
                           const std::string& base_path, const std::vector<std::string>& formats);

// `gpas report mechanism`: Figures 3 and 4 in numbers for the two runs figure_runs picks: each
// layer's activation variance at the last probe step both have, the gates and the scale they apply,
// and both eval perplexity curves. Throws gpas::Error (with the command that makes the data) when
// the runs have no probes.
nlohmann::ordered_json mechanism_data(const Store& store, const FigureOptions& opts);
std::string mechanism_text(const nlohmann::ordered_json& data);

bool gnuplot_available();

// Whether per-layer values get a log y axis: all positive and spanning more than a factor of 10
// (over less, gnuplot draws a log axis without a single labelled tick). Otherwise linear.
bool log_y_axis(const std::vector<LayerPoint>& a, const std::vector<LayerPoint>& b = {});

}  // namespace gpas::results
