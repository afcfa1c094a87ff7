// What a run is in the paper's terms: its method ("Pre + GPAS") from model.norm and
// model.gpas.enabled, its size's place in the preset order, and the small statistics the tables
// print (mean, sample std, n). Leaves out the store and every output format.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpas::results {

// The eleven methods of the paper's Table 2, in its order.
const std::vector<std::string>& paper_methods();
// "Post-LN", "DeepNorm", "Pre-LN", ..., "Pre + GPAS", ...; "" when the config has no model.norm.
std::string method_of(const nlohmann::json& config);
// The scheme without GPAS of a GPAS method ("Pre + GPAS" -> "Pre-LN"); "" for a non-GPAS method.
std::string base_method(const std::string& method);
// Methods in the order reports list them: the paper's Table 2 rows, then every other scheme of
// the table (core/config/schemes.h) without and with GPAS; anything else after them, by name.
void sort_methods(std::vector<std::string>& methods);
// Position in the size presets (tiny, 9m, ..., 7b); unknown sizes sort after them, by name.
int size_rank(const std::string& size);
// Sizes in preset order, then size_label()'s custom shapes by width, then depth.
void sort_sizes(std::vector<std::string>& sizes);
// The size a run's table column names: its preset ("71m") when the architecture is the preset's,
// else its shape, "L24-h64" (layers, hidden), so runs of one preset at several depths (a
// `model.layers` axis) get columns of their own.
std::string size_label(const nlohmann::json& config);

// A config value by dotted key, as text the way the params table holds it ("" if absent).
std::string config_text(const nlohmann::json& config, const std::string& dotted_key);
// The config without name, train.seed and model.vocab_size (0 until a run starts and reads its
// data): runs that agree on it are seeds of one experiment.
std::string seedless_identity(const nlohmann::json& config);
// GPAS knobs at the paper's defaults (silu, after the sub-layer, stopgrad, learnable gates).
bool gpas_knobs_default(const nlohmann::json& config);

struct Stats {
  double mean = 0;
  double std = 0;  // sample standard deviation; 0 for n = 1
  int n = 0;
};
Stats stats_of(const std::vector<double>& xs);
std::string fixed(double x, int decimals = 2);   // "%.*f", "-0.00" printed as "0.00"
std::string signed_fixed(double x, int decimals = 2);  // "+0.12" / "-0.12"
std::string general(double x);  // "%.4g": 0.0001, 2.5e-05, 0.4712

}  // namespace gpas::results
