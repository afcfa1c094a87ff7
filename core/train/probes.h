// Layer statistics during training (paper Section 5), written to the run journal as `layer` lines:
// gate (Fig 3), act_var (Fig 4), grad_norm (Fig 5), attn_wnorm / ffn_wnorm (Fig 6).
// Also the fixed-gate ablation's loader and layer importance (Fig 7).
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/common/journal.h"
#include "core/model/model.h"

namespace gpas {

double grad_norm(const std::vector<torch::Tensor>& params);  // global L2 norm of the gradients
void record_grad_probes(Transformer& model, Journal& journal, int64_t step);   // after backward
void record_model_probes(Transformer& model, Journal& journal, int64_t step);  // gates, variance, weights

// Sets every gate to the final value learned by the run in `run_dir` and freezes it
// (the "predefined gate" ablation of Table 5).
void load_fixed_gates(Transformer& model, const std::string& run_dir);

}  // namespace gpas
