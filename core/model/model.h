// The LLaMA-style decoder: embedding (-> the scheme's scale or norm) -> L blocks -> final norm
// (the scheme's) -> untied LM head.
// Knows its config, its initialisation (semantics.md) and its exported parameter names; knows
// nothing about optimisers, data or files.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/model/block.h"
#include "core/model/layers.h"

namespace gpas {

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const ModelConfig& cfg);  // cfg.vocab_size must be set (> 0)

  // (B, T) int64 token ids -> (B, T, V) logits.
  torch::Tensor forward(const torch::Tensor& tokens);
  // (B, T) token ids -> (B, T, C): the final norm's output, the LM head's input.
  torch::Tensor hidden(const torch::Tensor& tokens);
  // Token-summed next-token cross-entropy over targets >= 0 (the trainer divides by the count).
  static torch::Tensor loss_sum(const torch::Tensor& logits, const torch::Tensor& targets);
  // The same loss from the LM head's input, the logits made and dropped a chunk of rows at a
  // time (forward and backward): the (tokens x V) logits are never held whole. Equals
  // loss_sum(lm_head(h), targets) up to float rounding; its gradient too.
  // chunk_rows 0: about 16M logits a chunk.
  torch::Tensor chunked_loss_sum(const torch::Tensor& h, const torch::Tensor& targets,
                                 int64_t chunk_rows = 0) const;

  // The paper's initialisation: N(0, init_std) linears, Scaled Embed, DeepNorm Xavier gains,
  // LNS norm weights (set at construction), gates from the config. Deterministic given the seed.
  void init_weights(uint64_t seed);

  // Parameters under the names HF transformers' LLaMA (and the paper's code) use.
  std::vector<std::pair<std::string, torch::Tensor>> named_for_export() const;
  void load_exported(const std::vector<std::pair<std::string, torch::Tensor>>& tensors);

  std::vector<torch::Tensor> gates() const;  // one scalar per layer; empty without GPAS
  int64_t layer_count() const { return static_cast<int64_t>(blocks.size()); }
  // Per-layer output activation variance of the last forward, when probing is on (Fig 4).
  bool probe = false;
  std::vector<double> last_layer_variance;
  // Layer importance (Fig 7): forward with one layer skipped (-1 = none).
  int64_t skip_layer = -1;
  // train.fused_norm: the fusable layers' residual adds, GPAS and norms through one op
  // (fused_norm.h; BlockImpl::forward_fused). The same values either way.
  bool fused_norm = false;
  int64_t fused_layer_count() const;  // layers that take the fused path when fused_norm is on

  ModelConfig cfg;
  torch::nn::Embedding embed_tokens{nullptr};
  torch::Tensor embed_scale;   // DyT: () learnable scalar on the embedding output; else undefined
  Norm embed_norm{nullptr};    // Peri-LN: the embedding output's norm; else empty
  std::vector<Block> blocks;
  Norm norm{nullptr};          // the final norm (empty for ReZero)
  torch::nn::Linear lm_head{nullptr};
  Rope rope;
};
TORCH_MODULE(Transformer);

// Parameter counts without building the model: count_parameters() in core/config/schemes.h.
// FLOPs per token: flops_per_token() in core/config/flops.h.

}  // namespace gpas
