// Layer importance (paper Fig 7): the change in eval loss and perplexity when one layer is removed
// from a trained model, written to the run's journal as `layer` lines importance_loss/_ppl.
#pragma once
#include <string>
#include <vector>

namespace gpas {

struct LayerImportance {
  int layer;
  double eval_loss, eval_ppl;  // with this layer removed
  double delta_loss, delta_ppl;  // minus the full model's
};

// Uses the run's latest checkpoint; eval_tokens overrides train.eval_tokens when > 0.
std::vector<LayerImportance> analyze_importance(const std::string& run_dir, int64_t eval_tokens,
                                                double* base_loss, double* base_ppl);

}  // namespace gpas
