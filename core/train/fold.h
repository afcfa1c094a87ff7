// Folding GPAS gates away (gpas export --fold-gates): at inference a gate only multiplies by the
// constant c_l = 1 - act(alpha_l), and RMSNorm ignores the scale of its input (up to eps), so the
// constants move into o_proj/down_proj and norm signs and a Pre-LN/LNS model becomes a plain LLaMA.
// Leaves out schemes whose layers have no LLaMA equivalent (fold_refusal says which and why).
#pragma once
#include <string>

#include "core/config/config.h"
#include "core/config/schemes.h"
#include "core/model/model.h"
#include "core/model/safetensors.h"

namespace gpas {

// Whether a scheme folds, and why not: fold_refusal() in core/config/schemes.h.

struct FoldedModel {
  ModelConfig cfg;       // norm "pre" (with the model's QK-norm), GPAS off: the folded weights' model
  NamedTensors tensors;  // fp32, HF LLaMA names, no gpas_block tensors
  double min_scale = 1;  // smallest |cumulative stream scale| divided out (eps error grows as 1/s^2)
  double max_scale = 1;
};

// Throws gpas::Error with fold_refusal()'s reason, or when a gate zeroes the stream (c_l ~ 0).
FoldedModel fold_gates(const Transformer& model);

// max |logits(a) - logits(b)| over a seeded random batch (B=2, T=min(64, max_positions)), fp32.
double max_logit_difference(Transformer& a, Transformer& b, uint64_t seed = 0);

}  // namespace gpas
