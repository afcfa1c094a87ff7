// One decoder layer for every scheme. The scheme table (core/config/schemes.h) gives each layer a
// LayerSpec: where the norms sit and of which kind, how the shortcut and the branch are scaled and
// where GPAS goes. The modules of those sites are built once; Block::forward reads the spec in a
// few straight lines. GPAS is applied in exactly one function.
#pragma once
#include <map>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/config/schemes.h"
#include "core/model/gpas.h"
#include "core/model/layers.h"

namespace gpas {

// The norm modules of one sub-layer's three sites; empty holders where a site has none.
struct SublayerNorms {
  Norm in{nullptr}, out{nullptr}, post{nullptr};
};

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelConfig& cfg, int64_t layer);
  torch::Tensor forward(const torch::Tensor& x, const Rope& rope);  // (B, T, C) -> (B, T, C)
  // The layer with attention and the MLP replaced by the identity: its norms, residual adds,
  // shortcut scales and GPAS alone, what a fused norm + residual + GPAS kernel would replace
  // (timed by `gpas bench train --breakdown`).
  torch::Tensor forward_sites(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  // The fused path (train.fused_norm, fused_norm.h). A layer takes it when fusable(): an input
  // norm before each sub-layer and none after, a plain shortcut, GPAS after the sub-layer or none
  // (Pre-LN, LNS, Mix's Pre-LN layers). n is input_norm()(x), made by the layer before as the
  // last step of its fused op; next is the norm that reads this layer's output (the next layer's
  // input norm, or the final norm), or empty when that one is not fused. Returns {x', next(x')},
  // the second undefined when next is empty. The same values as forward(), norms included.
  bool fusable() const;
  Norm input_norm() const { return attn_norms.in; }
  std::pair<torch::Tensor, torch::Tensor> forward_fused(const torch::Tensor& x, const torch::Tensor& n,
                                                        const Rope& rope, const Norm& next);
  // forward_sites for the fused path: the two fused ops of a layer, o standing in for attention's
  // and the MLP's outputs (timed by `--breakdown` with train.fused_norm). Returns {x', n}.
  std::pair<torch::Tensor, torch::Tensor> forward_sites_fused(const torch::Tensor& x,
                                                              const torch::Tensor& o);

  LayerSpec spec;
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  GpasGate gpas_block{nullptr};  // null without GPAS
  SublayerNorms attn_norms, mlp_norms;
  // Branch scales: LayerScale's per-channel (C) vectors, or ReZero's one () scalar `resweight`
  // (both fields the same tensor); undefined without.
  torch::Tensor attn_scale, mlp_scale;
  // Every norm module of the layer by its exported name (tests, probes; not read in forward).
  std::map<std::string, Norm> norms;

 private:
  std::pair<torch::Tensor, torch::Tensor> fused_op(const torch::Tensor& x, const torch::Tensor& o,
                                                   const torch::Tensor& s, const Norm& norm);
  template <class F>
  torch::Tensor sublayer(const torch::Tensor& x, const SublayerSpec& s, const SublayerNorms& n,
                         const torch::Tensor& scale, F&& f);
  torch::Tensor gpas_at(GpasSite here, GpasSite site, const torch::Tensor& x);
};
TORCH_MODULE(Block);

}  // namespace gpas
