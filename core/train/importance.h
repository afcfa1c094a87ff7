// Layer importance (paper Fig 7): the change in eval loss and perplexity when one layer is removed
// from a trained model, written to the run's journal as `layer` lines importance_loss/_ppl.
#pragma once
#include <string>
#include <vector>

#include "core/train/mc_eval.h"

namespace gpas {

struct LayerImportance {
  int layer;
  double eval_loss, eval_ppl;  // with this layer removed
  double delta_loss, delta_ppl;  // minus the full model's
};

// Uses the run's latest checkpoint; eval_tokens overrides train.eval_tokens when > 0.
std::vector<LayerImportance> analyze_importance(const std::string& run_dir, int64_t eval_tokens,
                                                double* base_loss, double* base_ppl);

// The paper's Fig 7 definition: the drop in average zero-shot accuracy (mc_eval.h's tasks) when
// one layer is removed; journal layer kind importance_acc = full - without (positive: the layer
// helps). tokenizer "" = the run's (model_source.h tokenizer_for).
struct LayerAccImportance {
  int layer;
  double average_acc;  // with this layer removed
  double drop;         // full model's average minus that
};
std::vector<LayerAccImportance> analyze_importance_downstream(const std::string& run_dir,
                                                              const DownstreamOptions& opts,
                                                              const std::string& tokenizer,
                                                              double* base_acc);

}  // namespace gpas
