// The LLaMA building blocks shared by every scheme: the norms (RMSNorm, DyT), rotary embeddings,
// causal attention (with optional QK-norm) and the SwiGLU MLP (semantics.md). No bias anywhere.
// Where the norms sit is block.h's business, which kind sits there the scheme table's.
#pragma once
#include <torch/torch.h>

#include "core/config/schemes.h"

namespace gpas {

// One norm site, its kind fixed at construction (no name or string looked at in forward):
//   kRms: w * x / sqrt(mean(x^2) + eps), computed in fp32 and cast back (as LLaMA does);
//   kDyt: w * tanh(alpha * x), alpha one learnable scalar, computed in fp32 and cast back.
class NormImpl : public torch::nn::Module {
 public:
  NormImpl(int64_t dim, double eps, double weight_init = 1.0, NormKind kind = NormKind::kRms,
           double alpha_init = 0.0);
  torch::Tensor forward(const torch::Tensor& x);  // (..., C) -> (..., C)
  torch::Tensor weight;                           // (C)
  torch::Tensor alpha;                            // () DyT only
  double eps() const { return eps_; }
  NormKind kind() const { return kind_; }

 private:
  double eps_;
  NormKind kind_;
};
TORCH_MODULE(Norm);

// The module of a norm site: an empty holder where the site has none.
Norm build_norm(const NormSite& site, int64_t dim, double eps);

// cos/sin tables for RoPE (base 10000, rotate-half form), (T, D) each.
struct Rope {
  torch::Tensor cos, sin;
};
Rope make_rope(int64_t max_positions, int64_t head_dim, double base = 10000.0);
torch::Tensor apply_rope(const torch::Tensor& x, const Rope& rope);  // (B, H, T, D)

// Multi-head causal attention with RoPE. QK-norm (schemes.h): RMSNorm of q and k per head or over
// the whole projection, and of v too where v_norm (HybridNorm), all before rotary.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t hidden, int64_t heads, QkNorm qk_norm = QkNorm::kNone, bool v_norm = false,
                double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x, const Rope& rope);  // (B, T, C) -> (B, T, C)
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  Norm q_norm{nullptr}, k_norm{nullptr}, v_norm{nullptr};  // empty without QK-norm
  bool use_math = false;  // the reference softmax(QK^T/sqrt(d) + mask) V path, for tests

 private:
  int64_t heads_, head_dim_;
  QkNorm qk_;
};
TORCH_MODULE(Attention);

// Causal attention written out: the fallback and the reference the fused kernel is tested against.
torch::Tensor causal_attention_math(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden, int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace gpas
