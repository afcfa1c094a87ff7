// Figures 2-7 as gnuplot scripts with inline data blocks, piped to `gnuplot` once per format.
// Per-layer series are coloured by layer through a palette, so 4 layers and 32 read the same.
#include "results/figures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/methods.h"
#include "results/subprocess.h"

namespace gpas::results {

namespace {

const char* kBlue = "#1f77b4";
const char* kRed = "#d62728";

std::string num(double x) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", x);
  return buf;
}

std::string gp_string(const std::string& s) {  // a gnuplot double-quoted string
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// A figure title as a gnuplot string, wrapped at spaces to lines of at most 90 characters (a
// 900-pixel figure shows about 95): "\n" inside gnuplot's double quotes starts a line.
std::string gp_title(const std::string& title) {
  std::string wrapped, line;
  size_t start = 0;
  while (start <= title.size()) {
    size_t end = title.find(' ', start);
    if (end == std::string::npos) end = title.size();
    std::string word = title.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > 90) {
      wrapped += line + "\n";
      line = word;
    } else {
      line += (line.empty() ? "" : " ") + word;
    }
    start = end + 1;
  }
  wrapped += line;
  std::string q = gp_string(wrapped);
  for (size_t p = q.find('\n'); p != std::string::npos; p = q.find('\n', p + 2)) q.replace(p, 1, "\\n");
  return q;
}

std::string points_block(const std::string& name, const std::vector<Point>& pts) {
  std::string s = "$" + name + " << EOD\n";
  for (const auto& p : pts) s += std::to_string(p.step) + " " + num(p.value) + "\n";
  return s + "EOD\n";
}

// step layer value, a blank line between layers (gnuplot then starts a new line segment).
std::string layer_block(const std::string& name, const std::vector<LayerPoint>& pts) {
  std::string s = "$" + name + " << EOD\n";
  for (size_t i = 0; i < pts.size(); ++i) {
    if (i > 0 && pts[i].layer != pts[i - 1].layer) s += "\n\n";  // a new data set (index) per layer
    s += std::to_string(pts[i].step) + " " + std::to_string(pts[i].layer) + " " + num(pts[i].value) + "\n";
  }
  return s + "EOD\n";
}

int max_layer(const std::vector<LayerPoint>& a, const std::vector<LayerPoint>& b = {}) {
  int m = 0;
  for (const auto* v : {&a, &b})
    for (const auto& p : *v) m = std::max(m, p.layer);
  return m;
}

// Values at the last step present in the series, by layer.
std::map<int, double> last_step_values(const std::vector<LayerPoint>& pts) {
  int64_t last = -1;
  for (const auto& p : pts) last = std::max(last, p.step);
  std::map<int, double> out;
  for (const auto& p : pts)
    if (p.step == last) out[p.layer] = p.value;
  return out;
}

std::string label(const RunRow& r) {
  std::string m = method_of(r.config);
  std::string size = size_label(r.config);
  return (m.empty() ? r.name : m) + (size.empty() ? "" : " " + size);
}

// One metric over several runs (seeds): the mean and the min-max at each step every run logged.
struct Band {
  int64_t step;
  double mean, lo, hi;
};

std::vector<Band> band_of(const Store& store, const std::vector<RunRow>& runs, const std::string& key) {
  std::map<int64_t, std::vector<double>> at;
  for (const auto& r : runs)
    for (const auto& p : store.metric_series(r.id, key)) at[p.step].push_back(p.value);
  std::vector<Band> out;
  for (const auto& [step, v] : at) {
    if (v.size() != runs.size()) continue;  // a step some seed did not log (or logged non-finite)
    double sum = 0;
    for (double x : v) sum += x;
    out.push_back({step, sum / double(v.size()), *std::min_element(v.begin(), v.end()),
                   *std::max_element(v.begin(), v.end())});
  }
  return out;
}

std::string band_block(const std::string& name, const std::vector<Band>& pts) {
  std::string s = "$" + name + " << EOD\n";
  for (const auto& p : pts) s += std::to_string(p.step) + " " + num(p.mean) + " " + num(p.lo) + " " + num(p.hi) + "\n";
  return s + "EOD\n";
}

// A per-layer series averaged over runs, at the (step, layer) points every run has.
std::vector<LayerPoint> mean_layers(const Store& store, const std::vector<RunRow>& runs, const std::string& kind) {
  std::map<std::pair<int, int64_t>, std::pair<double, size_t>> at;  // (layer, step) -> sum, count
  for (const auto& r : runs)
    for (const auto& p : store.layer_series(r.id, kind)) {
      auto& [sum, n] = at[{p.layer, p.step}];
      sum += p.value;
      n += 1;
    }
  std::vector<LayerPoint> out;  // ordered by layer then step, as layer_block wants
  for (const auto& [k, v] : at)
    if (v.second == runs.size()) out.push_back({k.second, k.first, v.first / double(v.second)});
  return out;
}

// " (mean of n=3 seeds)" where there are several, "" for one run.
std::string seeds_note(size_t n, const std::string& more = "") {
  return n > 1 ? " (mean of n=" + std::to_string(n) + " seeds" + more + ")" : "";
}

void draw(const std::string& data, const std::string& body, const std::string& base,
          const std::vector<std::string>& formats, FigureFile& fig) {
  for (const auto& f : formats) {
    std::string path = base + "." + f;
    std::string term;
    if (f == "svg")
      term = "set terminal svg size 900,520 noenhanced font 'Helvetica,13' background rgb 'white'\n";
    else if (f == "png")
      term = "set terminal pngcairo size 900,520 noenhanced font 'Helvetica,11' background rgb 'white'\n";
    else
      throw Error("figure format '" + f + "': use png or svg", kExitUsage);
    std::string script = data + term + "set output " + gp_string(path) + "\n" + body + "\nunset output\n";
    ProcessResult r = run_process({"gnuplot"}, script, 120);
    std::error_code ec;
    if (r.exit_code != 0 || std::filesystem::file_size(path, ec) == 0 || ec)
      throw Error("gnuplot failed on " + path + " (exit " + std::to_string(r.exit_code) + "): " +
                  r.err + (r.exit_code == 127 ? " (install gnuplot-nox)" : ""));
    fig.paths.push_back(path);
  }
}

const char* kLayerPalette =
    "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#fde725')\n";

int layers_of(const RunRow& r) {
  std::string l = config_text(r.config, "model.layers");
  return l.empty() ? 0 : std::stoi(l);
}

// Integer layer ticks on x: every layer up to 24 layers, then every 4th.
std::string layer_ticks(int layers) {
  if (layers <= 0) return "set format x '%.0f'\n";
  return "set xrange [-0.5:" + num(layers - 0.5) + "]\nset xtics 0, " + std::to_string(layers <= 24 ? 1 : 4) +
         "\nset format x '%.0f'\n";
}

// Log-axis ticks at 1, 2 and 5 per decade when the range spans few decades (gnuplot's own put
// one label per decade, or none within one), else gnuplot's.
std::string log_ticks(double lo, double hi) {
  if (!(lo > 0) || hi / lo > 1e4) return "set format y '%g'\n";
  std::string t;
  for (double d = std::pow(10.0, std::floor(std::log10(lo))); d <= hi * 10; d *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if (m * d >= lo / 1.2 && m * d <= hi * 1.2) t += (t.empty() ? "" : ", ") + num(m * d);
  return t.empty() ? "set format y '%g'\n" : "set ytics (" + t + ")\nset mytics 10\n";
}

// A per-layer series over steps: one panel per run given. A handful of layers get a discrete
// legend (one colour per layer, "layer N"); many get a colour bar. Panels share one y range and
// y scale, so the runs compare at a glance. Blocks hold one layer per data set (index).
std::string layer_panels(const std::string& title, const std::vector<std::pair<std::string, std::string>>& panels,
                         const std::string& ylabel, int layers, bool log_y,
                         const std::vector<LayerPoint>& a = {}, const std::vector<LayerPoint>& b2 = {}) {
  const bool discrete = layers + 1 <= 8;
  std::ostringstream b;
  b << kLayerPalette << "set cbrange [0:" << std::max(1, layers) << "]\n";
  double lo = 1e300, hi = -1e300;
  for (const auto* v : {&a, &b2})
    for (const auto& p : *v) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  if (hi >= lo) {
    if (log_y) b << "set yrange [" << num(lo / 1.2) << ":" << num(hi * 1.2) << "]\n" << log_ticks(lo, hi);
    else if (hi > lo) b << "set yrange [" << num(lo - 0.05 * (hi - lo)) << ":" << num(hi + 0.05 * (hi - lo)) << "]\n";
  }
  b << "set xlabel 'training step'\nset ylabel " << gp_string(ylabel) << "\nset grid\n"
    << (log_y ? "set logscale y\n" : "");
  // One legend for all panels, right of the last one, in a margin every panel keeps free so that
  // the panels have one width.
  if (discrete) b << "unset colorbox\nunset key\n";
  else b << "unset key\nset cblabel 'layer'\n" << (layers <= 12 ? "set cbtics 1\n" : "");
  if (panels.size() > 1 || !title.empty())
    b << "set multiplot layout 1," << panels.size() << " title " << gp_title(title)
      << (discrete ? " margins 0.09, 0.89, 0.13, 0.84 spacing 0.09, 0.1" : "") << "\n";
  for (const auto& [block, ptitle] : panels) {
    if (discrete && &block == &panels.back().first)
      b << "set key at screen 0.995, 0.84 right top title 'layer' noautotitle\n";
    b << "set title " << gp_string(panels.size() > 1 ? ptitle : "") << "\n";  // one panel: the figure's title says it
    if (discrete)
      b << "plot for [i=0:" << layers << "] $" << block << " using 1:($2 == i ? $3 : 1/0) with lines lw 2 "
        << "lc palette frac 0.85 * i / " << std::max(1, layers) << ".0 dt 1 + i % 3 title sprintf('%d', i)\n";
    else
      b << "plot $" << block << " using 1:3:2 with lines lw 1.5 lc palette\n";
  }
  if (panels.size() > 1 || !title.empty()) b << "unset multiplot\n";
  return b.str();
}

}  // namespace

bool log_y_axis(const std::vector<LayerPoint>& a, const std::vector<LayerPoint>& b) {
  double lo = 1e300, hi = -1e300;
  for (const auto* v : {&a, &b})
    for (const auto& p : *v) {
      if (!(p.value > 0)) return false;
      lo = std::min(lo, p.value);
      hi = std::max(hi, p.value);
    }
  return hi > 10 * lo;  // within a decade gnuplot's log axis has no labelled tick
}

FigureFile loss_comparison(const Store& store, const std::vector<RunRow>& runs,
                           const std::string& base_path, const std::vector<std::string>& formats) {
  static const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  FigureFile f{std::filesystem::path(base_path).filename().string(),
               "Loss of " + std::to_string(runs.size()) + " runs (train solid, eval dashed)", {}, {}};
  std::string data, plots;
  for (size_t i = 0; i < runs.size(); ++i) {
    std::string c = kColours[i % 10], n = std::to_string(i);
    std::string name = (runs[i].name.empty() ? runs[i].id : runs[i].name) + " (" + runs[i].id.substr(0, 7) + ")";
    auto tr = store.metric_series(runs[i].id, "train/loss"), ev = store.metric_series(runs[i].id, "eval/loss");
    data += points_block("tr" + n, tr) + points_block("ev" + n, ev);
    // Later runs thinner and with their own markers, so a curve on top of another still shows both.
    std::string lw = num(std::max(1.0, 3.0 - 0.5 * double(i)));
    std::string every = std::to_string(std::max<size_t>(1, tr.size() / 8));
    if (!tr.empty())
      plots += std::string(plots.empty() ? "" : ", ") + "$tr" + n + " w lp lw " + lw + " pt " +
               std::to_string(4 + 2 * i % 10) + " ps 1.1 pi " + every + " lc rgb '" + c + "' t " + gp_string(name + " train");
    if (!ev.empty())
      plots += std::string(plots.empty() ? "" : ", ") + "$ev" + n + " w lp pt 7 ps 0.8 dt 2 lw 1.5 lc rgb '" + c +
               "' t " + gp_string(name + " eval");
  }
  if (plots.empty()) throw Error("none of these runs has a train/loss or eval/loss metric to draw");
  draw(data, "set title " + gp_title(f.title) + "\nset xlabel 'training step'\nset ylabel 'loss (nats per token)'\n"
             "set grid\nset key below Left reverse\nplot " + plots,
       base_path, formats, f);
  return f;
}

bool gnuplot_available() { return !find_program({"gnuplot"}).empty(); }

FigureRuns figure_seeds(const Store& store, const FigureOptions& o) {
  auto get = [&](const std::string& ref) {
    auto r = store.find_run(ref);
    if (!r) throw Error("no run '" + ref + "' in " + store.path());
    return *r;
  };
  if (!o.baseline.empty() && !o.treated.empty()) return {{get(o.baseline)}, {get(o.treated)}};
  // key: (size rank, size, seed) -> runs of both methods
  std::map<std::string, std::pair<std::vector<RunRow>, std::vector<RunRow>>> by_size;
  for (auto& r : store.list_runs({o.sweep, "completed", {}})) {
    std::string m = method_of(r.config);
    if (m != "Pre-LN" && !(m == "Pre + GPAS" && gpas_knobs_default(r.config))) continue;
    auto& slot = by_size[size_label(r.config)];
    (m == "Pre-LN" ? slot.first : slot.second).push_back(std::move(r));
  }
  std::vector<std::string> sizes;
  for (const auto& [s, v] : by_size)
    if (!v.first.empty() && !v.second.empty()) sizes.push_back(s);
  sort_sizes(sizes);
  if (sizes.empty())
    throw Error("figures need a completed Pre-LN and a completed Pre + GPAS run of one size" +
                (o.sweep.empty() ? std::string() : " in sweep " + o.sweep) +
                "; or name two runs with --baseline and --treated");
  auto& [base, treated] = by_size[sizes.back()];
  auto seed = [](const RunRow& r) { return std::stoll("0" + config_text(r.config, "train.seed")); };
  auto by_seed = [&](const RunRow& a, const RunRow& b) { return seed(a) != seed(b) ? seed(a) < seed(b) : a.id < b.id; };
  std::sort(base.begin(), base.end(), by_seed);
  std::sort(treated.begin(), treated.end(), by_seed);
  if (!o.baseline.empty()) return {{get(o.baseline)}, {treated.front()}};
  if (!o.treated.empty()) return {{base.front()}, {get(o.treated)}};
  // The seeds both methods have (paired: same data order and shared initial weights), one run each.
  FigureRuns out;
  std::set<long long> taken;
  for (const auto& b : base)
    for (const auto& t : treated)
      if (seed(b) == seed(t) && taken.insert(seed(b)).second) {
        out.base.push_back(b);
        out.treated.push_back(t);
      }
  if (out.base.empty()) return {{base.front()}, {treated.front()}};  // no seed in common: the lowest of each
  return out;
}

std::pair<RunRow, RunRow> figure_runs(const Store& store, const FigureOptions& o) {
  FigureRuns r = figure_seeds(store, o);
  return {r.base.front(), r.treated.front()};
}

std::vector<FigureFile> make_figures(const Store& store, const FigureOptions& o) {
  if (!gnuplot_available()) throw Error("gnuplot not found on PATH (Debian: apt-get install gnuplot-nox)");
  if (o.out_dir.empty()) throw Error("figures: give an output directory");
  make_dirs(o.out_dir);
  const FigureRuns seeds = figure_seeds(store, o);
  const RunRow& b = seeds.base.front();
  const RunRow& t = seeds.treated.front();
  const std::string lb = label(b), lt = label(t);
  const size_t n = std::max(seeds.base.size(), seeds.treated.size());  // equal where paired by seed
  std::vector<FigureFile> out;
  auto base_of = [&](const std::string& name) { return (std::filesystem::path(o.out_dir) / name).string(); };
  const std::string w = o.workdir.empty() || o.workdir == "." ? "" : " -w " + o.workdir;
  const std::string probes = "no layer probes in these runs: train them with --set train.probe_every=N "
                             "(e.g. `gpas train ... --set train.probe_every=50`)";
  auto skip = [&](const std::string& name, const std::string& title, const std::string& why) {
    out.push_back(FigureFile{name, title, {}, why});
  };

  {  // Fig 2: train and eval loss of both methods (over seeds: the mean, and a min-max band).
    auto btr = band_of(store, seeds.base, "train/loss"), ttr = band_of(store, seeds.treated, "train/loss");
    auto bev = band_of(store, seeds.base, "eval/loss"), tev = band_of(store, seeds.treated, "eval/loss");
    if (!btr.empty() || !ttr.empty()) {
      FigureFile f{"fig2_loss", "Figure 2: Pretrain and evaluation loss of " + lb + " and " + lt +
                                    seeds_note(n, "; bands: min to max over the seeds"), {}, {}};
      std::string data = band_block("btr", btr) + band_block("ttr", ttr) + band_block("bev", bev) + band_block("tev", tev);
      std::vector<std::string> plots;
      if (n > 1)  // the bands first, under every line
        for (const auto& [block, colour, empty] : {std::tuple{"btr", kBlue, btr.empty()}, std::tuple{"ttr", kRed, ttr.empty()},
                                                   std::tuple{"bev", kBlue, bev.empty()}, std::tuple{"tev", kRed, tev.empty()}})
          if (!empty)
            plots.push_back(std::string("$") + block + " using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lc rgb '" +
                            colour + "' notitle");
      // The baseline drawn wider underneath, so identical curves still show both colours.
      if (!btr.empty()) plots.push_back(std::string("$btr using 1:2 w l lw 3.5 lc rgb '") + kBlue + "' t " + gp_string(lb + " train"));
      if (!ttr.empty()) plots.push_back(std::string("$ttr using 1:2 w l lw 2 lc rgb '") + kRed + "' t " + gp_string(lt + " train"));
      if (!bev.empty()) plots.push_back(std::string("$bev using 1:2 w lp pt 7 dt 2 lc rgb '") + kBlue + "' t " + gp_string(lb + " eval"));
      if (!tev.empty()) plots.push_back(std::string("$tev using 1:2 w lp pt 7 dt 2 lc rgb '") + kRed + "' t " + gp_string(lt + " eval"));
      // One legend, below the plot: never over a curve.
      std::string body = "set title " + gp_title(f.title) + "\nset xlabel 'training step'\nset ylabel 'loss (nats per token)'\n"
                         "set grid\nset key below horizontal\nplot ";
      for (size_t i = 0; i < plots.size(); ++i) body += (i ? ", " : "") + plots[i];
      draw(data, body, base_of(f.name), o.formats, f);
      out.push_back(f);
    } else {
      skip("fig2_loss", "Figure 2: Pretrain and evaluation loss", "the runs have no train/loss metric yet (`gpas train`, `gpas sweep run`)");
    }
  }
  {  // Fig 3: the learned gates of the GPAS run.
    auto g = mean_layers(store, seeds.treated, "gate");
    if (!g.empty()) {
      FigureFile f{"fig3_gates", "Figure 3: Learned layerwise gate values, " + lt + seeds_note(seeds.treated.size()), {}, {}};
      draw(layer_block("g", g), layer_panels(f.title, {{"g", lt}}, "gate value (alpha_l)", max_layer(g), false, g),
           base_of(f.name), o.formats, f);
      out.push_back(f);
    } else {
      skip("fig3_gates", "Figure 3: Learned layerwise gate values", lt + ": " + probes);
    }
  }
  struct PerLayer { const char* kind; const char* name; const char* what; const char* ylabel; };
  for (const PerLayer& k : {PerLayer{"act_var", "fig4_act_var", "Figure 4: Layerwise activation variance with and without GPAS",
                                     "activation variance"},
                            PerLayer{"grad_norm", "fig5_grad_norm", "Figure 5: Layerwise gradient norm with and without GPAS",
                                     "gradient norm (L2)"}}) {
    auto sb = mean_layers(store, seeds.base, k.kind), st = mean_layers(store, seeds.treated, k.kind);
    if (sb.empty() && st.empty()) {
      skip(k.name, k.what, probes);
      continue;
    }
    FigureFile f{k.name, std::string(k.what) + " (" + lb + ", " + lt + ")" + seeds_note(n), {}, {}};
    std::vector<std::pair<std::string, std::string>> panels;
    if (!sb.empty()) panels.push_back({"b", lb});
    if (!st.empty()) panels.push_back({"t", lt});
    draw(layer_block("b", sb) + layer_block("t", st),
         layer_panels(f.title, panels, k.ylabel, max_layer(sb, st), log_y_axis(sb, st), sb, st), base_of(f.name),
         o.formats, f);
    out.push_back(f);
  }
  {  // Fig 6: weight-norm ratio (treated / baseline) per layer at the last probed step.
    std::string data, plots;
    for (const char* kind : {"attn_wnorm", "ffn_wnorm"}) {
      auto vb = last_step_values(mean_layers(store, seeds.base, kind));
      auto vt = last_step_values(mean_layers(store, seeds.treated, kind));
      std::string rows;
      for (const auto& [layer, v] : vt)
        if (vb.count(layer) && vb[layer] != 0) rows += std::to_string(layer) + " " + num(v / vb[layer]) + "\n";
      if (rows.empty()) continue;
      data += std::string("$") + kind + " << EOD\n" + rows + "EOD\n";
      plots += std::string(plots.empty() ? "" : ", ") + "$" + kind + " w lp pt 7 lw 2 lc rgb '" +
               (kind[0] == 'a' ? kBlue : kRed) + "' t " + gp_string(kind[0] == 'a' ? "attention" : "FFN");
    }
    if (!plots.empty()) {
      FigureFile f{"fig6_weight_norm_ratio", "Figure 6: Attention and FFN weight norm ratios of " + lt + " over " + lb +
                                                 seeds_note(n), {}, {}};
      draw(data, "set title " + gp_title(f.title) + "\nset xlabel 'layer'\nset ylabel 'weight-norm ratio'\n" +
                 layer_ticks(layers_of(b)) +
                 "set grid\nset key below horizontal\nplot " + plots + ", 1 w l dt 2 lc rgb 'gray' notitle",
           base_of(f.name), o.formats, f);
      out.push_back(f);
    } else {
      skip("fig6_weight_norm_ratio", "Figure 6: Attention and FFN weight norm ratios", probes);
    }
  }
  {  // Fig 7: layer importance (increase in eval perplexity, or loss, without each layer), over
     // seeds the mean with min-max bars.
    auto analysed = [&](const std::vector<RunRow>& runs, const std::string& kind) {
      std::vector<RunRow> out;
      for (const auto& r : runs)
        if (!store.layer_series(r.id, kind).empty()) out.push_back(r);
      return out;
    };
    std::string kind = "importance_ppl";
    if (analysed(seeds.base, kind).empty() && analysed(seeds.treated, kind).empty()) kind = "importance_loss";
    const auto rb = analysed(seeds.base, kind), rt = analysed(seeds.treated, kind);
    // layer -> mean, min, max of each run's last analysis
    auto spread = [&](const std::vector<RunRow>& runs) {
      std::map<int, std::vector<double>> by_layer;
      for (const auto& r : runs)
        for (const auto& [layer, x] : last_step_values(store.layer_series(r.id, kind))) by_layer[layer].push_back(x);
      std::string rows;
      for (const auto& [layer, v] : by_layer) {
        if (v.size() != runs.size()) continue;
        double sum = 0;
        for (double x : v) sum += x;
        rows += std::to_string(layer) + " " + num(sum / double(v.size())) + " " + num(*std::min_element(v.begin(), v.end())) +
                " " + num(*std::max_element(v.begin(), v.end())) + "\n";
      }
      return rows;
    };
    if (!rb.empty() || !rt.empty()) {
      const size_t m = std::max(rb.size(), rt.size());
      FigureFile f{"fig7_layer_importance", "Figure 7: Layer importance measured by performance drop after removal (" + lb + ", " + lt + ")" +
                                                seeds_note(m, "; bars: min to max"), {}, {}};
      std::string data = "$ib << EOD\n" + spread(rb) + "EOD\n$it << EOD\n" + spread(rt) + "EOD\n";
      const char* style = m > 1 ? " using 1:2:3:4 w yerrorlines" : " using 1:2 w lp";
      std::string plots;
      if (!rb.empty()) plots += std::string("$ib") + style + " pt 7 lw 2 lc rgb '" + kBlue + "' t " + gp_string(lb + (m > 1 ? " (n=" + std::to_string(rb.size()) + ")" : ""));
      if (!rt.empty()) plots += std::string(plots.empty() ? "" : ", ") + "$it" + style + " pt 5 lw 2 lc rgb '" + kRed + "' t " + gp_string(lt + (m > 1 ? " (n=" + std::to_string(rt.size()) + ")" : ""));
      draw(data,
           "set title " + gp_title(f.title) + "\nset xlabel 'removed layer'\n" + layer_ticks(layers_of(b)) + "set ylabel " +
               gp_string(kind == "importance_ppl" ? "eval perplexity increase" : "eval loss increase (nats per token)") +
               "\nset grid\nset key below horizontal\nplot " + plots,
           base_of(f.name), o.formats, f);
      out.push_back(f);
    } else {
      skip("fig7_layer_importance", "Figure 7: Layer importance measured by performance drop after removal",
           "no layer-importance analysis yet: `gpas analyze importance " + b.id + w + "` and `gpas analyze importance " +
               t.id + w + "`");
    }
  }
  return out;
}

}  // namespace gpas::results
