// `gpas report mechanism`: Figures 3 and 4 in numbers, for a terminal. The two runs the figures
// compare (figure_runs), each layer's activation variance at the last probe both have, the GPAS
// run's gates and the scale they apply, the growth from the first layer to the last, and the two
// eval curves side by side.
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/common/error.h"
#include "results/figures.h"
#include "results/methods.h"

namespace gpas::results {

namespace {

// The factor GPAS multiplies a layer's output by: 1 - act(alpha), act as model.gpas.activation.
double gate_scale(const nlohmann::json& config, double a) {
  std::string act = config_text(config, "model.gpas.activation");
  std::string beta_text = config_text(config, "model.gpas.beta");
  double beta = beta_text.empty() ? 8.0 : std::stod(beta_text);
  double f = a / (1.0 + std::exp(-a));  // silu, the default
  if (act == "identity") f = a;
  else if (act == "relu") f = std::max(0.0, a);
  else if (act == "leaky_relu") f = a > 0 ? a : 0.01 * a;
  else if (act == "tanh") f = std::tanh(a);
  else if (act == "scaled_silu") f = a / (1.0 + std::exp(-beta * a));
  return 1.0 - f;
}

std::string num(double x) {
  char b[32];
  const char* f = std::abs(x) >= 1e4 ? "%.0f" : x != 0 && std::abs(x) < 1e-2 ? "%.3g" : "%.2f";
  std::snprintf(b, sizeof b, f, x);
  return b;
}

std::string percent(double from, double to) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f %%", 100.0 * (to - from) / from);
  return b;
}

// layer -> value at `step`.
std::map<int, double> at_step(const std::vector<LayerPoint>& s, int64_t step) {
  std::map<int, double> m;
  for (const auto& p : s)
    if (p.step == step) m[p.layer] = p.value;
  return m;
}

int64_t last_common_step(const std::vector<LayerPoint>& a, const std::vector<LayerPoint>& b) {
  std::map<int64_t, int> seen;
  for (const auto& p : a) seen[p.step] |= 1;
  for (const auto& p : b) seen[p.step] |= 2;
  for (auto it = seen.rbegin(); it != seen.rend(); ++it)
    if (it->second == 3) return it->first;
  return -1;
}

}  // namespace

nlohmann::ordered_json mechanism_data(const Store& store, const FigureOptions& o) {
  auto [base, gpas] = figure_runs(store, o);
  auto va = store.layer_series(base.id, "act_var"), vb = store.layer_series(gpas.id, "act_var");
  int64_t step = last_common_step(va, vb);
  if (step < 0)
    throw Error("runs " + base.id.substr(0, 7) + " and " + gpas.id.substr(0, 7) +
                " have no layer probes at a common step; train them with train.probe_every > 0 "
                "(e.g. `--set train.probe_every=50`)");
  auto a = at_step(va, step), b = at_step(vb, step);
  auto gates = at_step(store.layer_series(gpas.id, "gate"), step);
  nlohmann::ordered_json j;
  auto run_of = [](const RunRow& r) {
    return nlohmann::ordered_json{{"id", r.id}, {"method", method_of(r.config)}, {"size", size_label(r.config)},
                                  {"seed", config_text(r.config, "train.seed")}};
  };
  j["baseline"] = run_of(base);
  j["gpas"] = run_of(gpas);
  j["step"] = step;
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& [layer, v] : a) {
    nlohmann::ordered_json l = {{"layer", layer}, {"act_var_baseline", v}};
    if (b.count(layer)) l["act_var_gpas"] = b[layer];
    if (gates.count(layer)) {
      l["gate"] = gates[layer];
      l["scale"] = gate_scale(gpas.config, gates[layer]);
    }
    j["layers"].push_back(l);
  }
  auto ea = store.metric_series(base.id, "eval/ppl"), eb = store.metric_series(gpas.id, "eval/ppl");
  std::map<int64_t, double> eval_b;
  for (const auto& p : eb) eval_b[p.step] = p.value;
  j["eval_ppl"] = nlohmann::ordered_json::array();
  for (const auto& p : ea)
    if (eval_b.count(p.step))
      j["eval_ppl"].push_back({{"step", p.step}, {"baseline", p.value}, {"gpas", eval_b[p.step]}});
  return j;
}

std::string mechanism_text(const nlohmann::ordered_json& j) {
  std::ostringstream out;
  const std::string bm = j["baseline"]["method"], gm = j["gpas"]["method"];
  out << bm << " (run " << std::string(j["baseline"]["id"]).substr(0, 7) << ") against " << gm << " (run "
      << std::string(j["gpas"]["id"]).substr(0, 7) << "), size " << std::string(j["gpas"]["size"])
      << ", seed " << std::string(j["gpas"]["seed"]) << "\n";
  out << "Activation variance of each layer's output at step " << j["step"].get<int64_t>()
      << " (Figure 4), and the learned gates (Figure 3):\n";
  char line[160];
  std::snprintf(line, sizeof line, "  %5s  %12s  %12s  %9s  %14s\n", "layer", bm.c_str(), gm.c_str(), "gate α",
                "scale 1-act(α)");
  out << line;
  double first_a = 0, last_a = 0, first_b = 0, last_b = 0, max_a = 0, max_b = 0;
  bool have_b = true;
  const auto& layers = j["layers"];
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    double va = l["act_var_baseline"];
    bool hb = l.contains("act_var_gpas");
    double vb = hb ? l["act_var_gpas"].get<double>() : 0;
    have_b = have_b && hb;
    if (i == 0) first_a = va, first_b = vb;
    last_a = va, last_b = vb;
    max_a = std::max(max_a, va), max_b = std::max(max_b, vb);
    std::snprintf(line, sizeof line, "  %5d  %12s  %12s  %9s  %14s\n", l["layer"].get<int>(), num(va).c_str(),
                  hb ? num(vb).c_str() : "-", l.contains("gate") ? num(l["gate"]).c_str() : "-",
                  l.contains("scale") ? num(l["scale"]).c_str() : "-");
    out << line;
  }
  if (have_b && first_a > 0 && first_b > 0 && !layers.empty()) {
    out << "Growth from the first layer to the last: " << bm << " x" << num(last_a / first_a) << ", " << gm
        << " x" << num(last_b / first_b) << ". Largest variance: " << num(max_a) << " against " << num(max_b)
        << " (" << percent(max_a, max_b) << ").\n";
  }
  const auto& ev = j["eval_ppl"];
  if (!ev.empty()) {
    out << "Eval perplexity (Figure 2), " << bm << " against " << gm << ":\n";
    for (const auto& p : ev) {
      double a = p["baseline"], b = p["gpas"];
      std::snprintf(line, sizeof line, "  step %7lld  %10s  %10s  (%s)\n", static_cast<long long>(p["step"].get<int64_t>()),
                    num(a).c_str(), num(b).c_str(), percent(a, b).c_str());
      out << line;
    }
  }
  return out.str();
}

}  // namespace gpas::results
