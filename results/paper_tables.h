// The paper's published numbers, copied into gpas so that --compare-paper works anywhere (source:
// the GPAS paper's Tables 2, 4 and 5). Leaves out Table 3 (downstream tasks gpas does not run).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace gpas::results {

// Table 2: final eval perplexity by method (paper_methods() names) and size (71m ... 1b).
std::optional<double> paper_table2(const std::string& method, const std::string& size);
const std::vector<std::string>& paper_table2_sizes();

struct PaperAblation {
  const char* table;    // "4" or "5"
  const char* ablation; // activation | position | stopgrad | gate
  const char* variant;  // the paper's label
  double perplexity;    // 350M Pre-LN
};
// Tables 4 and 5 in the paper's row order.
const std::vector<PaperAblation>& paper_ablations();

}  // namespace gpas::results
