// Methods, sizes and statistics of results/methods.h. The names are the paper's (Table 2).
#include "results/methods.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "core/common/hash.h"
#include "core/config/presets.h"
#include "core/config/schemes.h"

namespace gpas::results {

const std::vector<std::string>& paper_methods() {
  static const std::vector<std::string> kMethods = {
      "Post-LN",        "DeepNorm",   "Pre-LN",          "Sandwich-LN",
      "Mix-LN",         "LNS",        "DeepNorm + GPAS", "Pre + GPAS",
      "Sandwich + GPAS", "Mix + GPAS", "LNS + GPAS"};
  return kMethods;
}

namespace {

// Where model.qk_norm is set and differs from the scheme's own, the method says so.
const char* const kQkSuffixes[] = {"", " + QK-norm", " + QK-norm (full)", " - QK-norm"};

std::string qk_suffix(const Scheme& row, const std::string& qk) {
  QkNorm q = parse_qk_norm(qk, row.default_qk);
  if (q == row.default_qk) return "";
  return q == QkNorm::kHead ? kQkSuffixes[1] : q == QkNorm::kFull ? kQkSuffixes[2] : kQkSuffixes[3];
}

}  // namespace

std::string config_text(const nlohmann::json& config, const std::string& dotted_key) {
  const nlohmann::json* cur = &config;
  size_t start = 0;
  while (true) {
    if (!cur->is_object()) return "";
    size_t dot = dotted_key.find('.', start);
    std::string part = dotted_key.substr(start, dot == std::string::npos ? dot : dot - start);
    auto it = cur->find(part);
    if (it == cur->end()) return "";
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur->is_string() ? cur->get<std::string>() : cur->dump();
}

std::string method_of(const nlohmann::json& config) {
  std::string norm = config_text(config, "model.norm");
  bool gpas = config_text(config, "model.gpas.enabled") == "true";
  if (const Scheme* row = find_scheme(norm))
    return (gpas ? row->display_gpas : row->display) + qk_suffix(*row, config_text(config, "model.qk_norm"));
  if (norm.empty()) return "";
  return norm + (gpas ? " + GPAS" : "");
}

std::string base_method(const std::string& method) {
  for (const auto& row : schemes())
    for (const char* suffix : kQkSuffixes)
      if (method == row.display_gpas + suffix) return row.display + suffix;
  const std::string suffix = " + GPAS";
  if (method.size() > suffix.size() &&
      method.compare(method.size() - suffix.size(), suffix.size(), suffix) == 0)
    return method.substr(0, method.size() - suffix.size());
  return "";
}

void sort_methods(std::vector<std::string>& methods) {
  static const std::vector<std::string> kOrder = [] {
    std::vector<std::string> order = paper_methods();
    for (const Scheme& row : schemes())
      for (const std::string* m : {&row.display, &row.display_gpas})
        if (std::find(order.begin(), order.end(), *m) == order.end()) order.push_back(*m);
    return order;
  }();
  auto rank = [&](const std::string& m) {
    // A QK-norm variant sorts right after its scheme.
    std::string base = m;
    for (const char* suffix : kQkSuffixes)
      if (*suffix && base.size() > strlen(suffix) && base.compare(base.size() - strlen(suffix), std::string::npos, suffix) == 0)
        base.resize(base.size() - strlen(suffix));
    return std::make_pair(std::find(kOrder.begin(), kOrder.end(), base) - kOrder.begin(), m);
  };
  std::stable_sort(methods.begin(), methods.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
}

int size_rank(const std::string& size) {
  static const std::vector<std::string> kOrder = {"tiny", "9m",   "20m",  "35m", "60m", "71m",
                                                  "130m", "250m", "350m", "1b",  "3b",  "7b"};
  auto it = std::find(kOrder.begin(), kOrder.end(), size);
  return it == kOrder.end() ? static_cast<int>(kOrder.size()) : static_cast<int>(it - kOrder.begin());
}

// "L24-h64" -> (64, 24); anything else -> (0, 0).
static std::pair<long, long> shape_of(const std::string& label) {
  long layers = 0, hidden = 0;
  char tail = 0;
  if (std::sscanf(label.c_str(), "L%ld-h%ld%c", &layers, &hidden, &tail) != 2) return {0, 0};
  return {hidden, layers};
}

void sort_sizes(std::vector<std::string>& sizes) {
  std::sort(sizes.begin(), sizes.end(), [](const std::string& a, const std::string& b) {
    int ra = size_rank(a), rb = size_rank(b);
    if (ra != rb) return ra < rb;
    auto sa = shape_of(a), sb = shape_of(b);
    return sa != sb ? sa < sb : a < b;
  });
}

std::string size_label(const nlohmann::json& config) {
  std::string size = config_text(config, "model.size");
  const SizePreset* p = find_size_preset(size);
  auto num = [&](const char* key, int64_t preset) {
    std::string v = config_text(config, std::string("model.") + key);
    return v.empty() ? preset : std::stoll(v);
  };
  if (!p) return size;
  int64_t hidden = num("hidden", p->hidden), layers = num("layers", p->layers);
  if (hidden == p->hidden && layers == p->layers && num("intermediate", p->intermediate) == p->intermediate &&
      num("heads", p->heads) == p->heads)
    return size;
  return "L" + std::to_string(layers) + "-h" + std::to_string(hidden);
}

std::string seedless_identity(const nlohmann::json& config) {
  nlohmann::json c = config;
  if (c.is_object()) {
    c.erase("name");
    if (c.contains("train") && c["train"].is_object()) c["train"].erase("seed");
    // A queued run's config has model.vocab_size 0 (the trainer takes it from the data when it
    // starts), a started one the data's size: the same experiment either way.
    if (c.contains("model") && c["model"].is_object()) c["model"].erase("vocab_size");
  }
  return sha256_hex(c.dump()).substr(0, 12);
}

bool gpas_knobs_default(const nlohmann::json& config) {
  auto get = [&](const char* k, const char* dflt) {
    std::string v = config_text(config, k);
    return v.empty() ? std::string(dflt) : v;
  };
  return get("model.gpas.activation", "silu") == "silu" &&
         get("model.gpas.site", "after_sublayer") == "after_sublayer" &&
         get("model.gpas.stopgrad", "true") == "true" &&
         get("model.gpas.learnable", "true") == "true";
}

Stats stats_of(const std::vector<double>& xs) {
  Stats s;
  s.n = static_cast<int>(xs.size());
  if (xs.empty()) return s;
  double sum = 0;
  for (double x : xs) sum += x;
  s.mean = sum / s.n;
  if (s.n > 1) {
    double ss = 0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

std::string fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, x);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string general(double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g", x == 0 ? 0.0 : x);  // no "-0"
  return buf;
}

std::string signed_fixed(double x, int decimals) {
  std::string s = fixed(x, decimals);
  return s[0] == '-' ? s : "+" + s;
}

}  // namespace gpas::results
