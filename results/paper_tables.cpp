// Numbers transcribed from the GPAS paper (Tables 2, 4, 5), as in the reference CSV files of
// this project's brief. A test checks a few of them; edit only against the paper.
#include "results/paper_tables.h"

#include <array>
#include <map>

namespace gpas::results {

const std::vector<std::string>& paper_table2_sizes() {
  static const std::vector<std::string> kSizes = {"71m", "130m", "250m", "350m", "1b"};
  return kSizes;
}

std::optional<double> paper_table2(const std::string& method, const std::string& size) {
  static const std::map<std::string, std::array<double, 5>> kTable2 = {
      {"Post-LN", {33.97, 26.62, 1412.13, 22.78, 1404.98}},
      {"DeepNorm", {35.89, 26.96, 22.47, 22.06, 1404.22}},
      {"Pre-LN", {34.23, 26.75, 21.77, 21.35, 16.92}},
      {"Sandwich-LN", {32.82, 25.57, 20.52, 21.54, 16.87}},
      {"Mix-LN", {34.00, 26.36, 21.90, 21.41, 16.73}},
      {"LNS", {34.70, 26.03, 20.65, 20.43, 15.65}},
      {"DeepNorm + GPAS", {34.97, 26.65, 21.81, 21.03, 18.10}},
      {"Pre + GPAS", {33.49, 26.34, 21.42, 20.35, 16.25}},
      {"Sandwich + GPAS", {32.34, 25.05, 20.45, 19.79, 15.90}},
      {"Mix + GPAS", {33.48, 26.22, 21.78, 20.51, 16.49}},
      {"LNS + GPAS", {32.93, 25.07, 19.93, 19.44, 14.88}},
  };
  auto it = kTable2.find(method);
  if (it == kTable2.end()) return std::nullopt;
  const auto& sizes = paper_table2_sizes();
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] == size) return it->second[i];
  return std::nullopt;
}

const std::vector<PaperAblation>& paper_ablations() {
  static const std::vector<PaperAblation> kRows = {
      {"4", "activation", "identity", 20.08},
      {"4", "activation", "relu", 21.17},
      {"4", "activation", "leaky_relu", 21.17},
      {"4", "activation", "tanh", 20.09},
      {"4", "activation", "scaled_silu_beta8", 20.26},
      {"4", "activation", "silu (default)", 20.35},
      {"4", "activation", "no GPAS", 21.35},
      {"4", "position", "after sub-layer (default)", 20.35},
      {"4", "position", "before sub-layer", 20.73},
      {"4", "position", "after LayerNorm", 21.33},
      {"4", "position", "after Attn/FFN", 21.23},
      {"4", "position", "no GPAS", 21.35},
      {"5", "stopgrad", "with sg (default)", 20.35},
      {"5", "stopgrad", "without sg", 21.34},
      {"5", "stopgrad", "no GPAS", 21.35},
      {"5", "gate", "learnable (default)", 20.35},
      {"5", "gate", "predefined (fixed to learned values)", 22.46},
      {"5", "gate", "no GPAS", 21.35},
  };
  return kRows;
}

}  // namespace gpas::results
