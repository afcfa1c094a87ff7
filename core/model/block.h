// One decoder layer for all six schemes. A SublayerSpec says where the norms sit, how the shortcut
// is scaled and where GPAS goes; make_layer_spec() builds it from (scheme, layer index), and
// Block::forward reads it in a few straight lines. GPAS is applied in exactly one function.
#pragma once
#include <map>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/model/gpas.h"
#include "core/model/layers.h"

namespace gpas {

enum class GpasSite {
  kNone,            // no GPAS
  kAfterSublayer,   // x = gpas(x + f(...))              Pre-LN, Sandwich, LNS (Eq. 2)
  kShortcut,        // x = LN(alpha gpas(x) + f(x))      DeepNorm, Post-LN layers of Mix (Eq. 7-8)
  kBeforeSublayer,  // x = gpas(x) before the sub-layer  (ablation)
  kAfterNorm,       // f(gpas(LN(x)))                    (ablation)
  kAfterModule,     // x + gpas(f(LN(x)))                (ablation)
};

// How one sub-layer (attention or MLP) is wired. An empty norm name means "no norm there"; the
// names are the exported (HF LLaMA / Gemma-2 style) names of those norms.
struct SublayerSpec {
  std::string in_norm;     // LN before f          (Pre-LN family)
  std::string out_norm;    // LN after f           (Sandwich)
  std::string post_norm;   // LN after the add     (Post-LN family)
  double shortcut_scale = 1.0;  // DeepNorm alpha = (2L)^(1/4)
  GpasSite gpas = GpasSite::kNone;
};

struct LayerSpec {
  SublayerSpec attn, mlp;
  bool post_ln = false;  // a Post-LN-family layer (post, deepnorm, mix's first post_layers)
};

LayerSpec make_layer_spec(const ModelConfig& cfg, int64_t layer);  // layer is 0-based
const char* site_name(GpasSite site);

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
  RMSNorm input_norm() const { return norms.at(spec.attn.in_norm); }
  std::pair<torch::Tensor, torch::Tensor> forward_fused(const torch::Tensor& x, const torch::Tensor& n,
                                                        const Rope& rope, const RMSNorm& next);
  // forward_sites for the fused path: the two fused ops of a layer, o standing in for attention's
  // and the MLP's outputs (timed by `--breakdown` with train.fused_norm). Returns {x', n}.
  std::pair<torch::Tensor, torch::Tensor> forward_sites_fused(const torch::Tensor& x,
                                                              const torch::Tensor& o);

  LayerSpec spec;
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  GpasGate gpas_block{nullptr};  // null without GPAS
  std::map<std::string, RMSNorm> norms;

 private:
  std::pair<torch::Tensor, torch::Tensor> fused_op(const torch::Tensor& x, const torch::Tensor& o,
                                                   const torch::Tensor& s, const RMSNorm& norm);
  template <class F>
  torch::Tensor sublayer(const torch::Tensor& x, const SublayerSpec& s, F&& f);
  torch::Tensor norm(const std::string& name, const torch::Tensor& x);
  torch::Tensor gpas_at(GpasSite here, GpasSite site, const torch::Tensor& x);
};
TORCH_MODULE(Block);

}  // namespace gpas
