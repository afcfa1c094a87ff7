// The LLaMA building blocks shared by every scheme: RMSNorm, rotary embeddings, causal attention
// and the SwiGLU MLP (semantics.md). No bias anywhere. Normalisation placement lives in block.h.
#pragma once
#include <torch/torch.h>

namespace gpas {

// w * x / sqrt(mean(x^2) + eps), computed in fp32 and cast back (as LLaMA does).
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, double init = 1.0);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)
  torch::Tensor weight;                           // (C)
  double eps() const { return eps_; }

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// cos/sin tables for RoPE (base 10000, rotate-half form), (T, D) each.
struct Rope {
  torch::Tensor cos, sin;
};
Rope make_rope(int64_t max_positions, int64_t head_dim, double base = 10000.0);
torch::Tensor apply_rope(const torch::Tensor& x, const Rope& rope);  // (B, H, T, D)

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t hidden, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x, const Rope& rope);  // (B, T, C) -> (B, T, C)
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  bool use_math = false;  // the reference softmax(QK^T/sqrt(d) + mask) V path, for tests

 private:
  int64_t heads_, head_dim_;
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
