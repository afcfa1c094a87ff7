#include "core/model/layers.h"

#include <cmath>

#include "core/model/compat.h"

namespace gpas {

namespace nn = torch::nn;

RMSNormImpl::RMSNormImpl(int64_t dim, double eps, double init) : eps_(eps) {
  weight = register_parameter("weight", torch::full({dim}, init));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto h = x.to(torch::kFloat32);                                      // (B, T, C)
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);    // (B, T, C)
  return weight * h.to(x.scalar_type());                               // (B, T, C)
}

Rope make_rope(int64_t max_positions, int64_t head_dim, double base) {
  auto inv_freq = 1.0 / torch::pow(base, torch::arange(0, head_dim, 2, torch::kFloat64) / head_dim);
  auto t = torch::arange(max_positions, torch::kFloat64);
  auto freqs = torch::outer(t, inv_freq);          // (T, D/2)
  auto emb = torch::cat({freqs, freqs}, -1);       // (T, D)
  return {emb.cos().to(torch::kFloat32), emb.sin().to(torch::kFloat32)};
}

torch::Tensor apply_rope(const torch::Tensor& x, const Rope& rope) {
  const int64_t T = x.size(2), D = x.size(3);
  auto cos = rope.cos.slice(0, 0, T).to(x.scalar_type());  // (T, D)
  auto sin = rope.sin.slice(0, 0, T).to(x.scalar_type());  // (T, D)
  auto x1 = x.slice(-1, 0, D / 2), x2 = x.slice(-1, D / 2);
  auto rotated = torch::cat({-x2, x1}, -1);                 // (B, H, T, D)
  return x * cos + rotated * sin;
}

AttentionImpl::AttentionImpl(int64_t hidden, int64_t heads)
    : heads_(heads), head_dim_(hidden / heads) {
  auto lin = [&](const char* name) {
    return register_module(name, nn::Linear(nn::LinearOptions(hidden, hidden).bias(false)));
  };
  q_proj = lin("q_proj");
  k_proj = lin("k_proj");
  v_proj = lin("v_proj");
  o_proj = lin("o_proj");
}

torch::Tensor causal_attention_math(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v) {
  const int64_t T = q.size(2);
  auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(q.size(3)));  // (B, H, T, T)
  auto mask = torch::ones({T, T}, q.options().dtype(torch::kBool)).triu(1);
  att = att.masked_fill(mask, -std::numeric_limits<float>::infinity());
  att = torch::softmax(att.to(torch::kFloat32), -1).to(q.scalar_type());
  return torch::matmul(att, v);  // (B, H, T, D)
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const Rope& rope) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto split = [&](const torch::Tensor& t) {
    return t.view({B, T, heads_, head_dim_}).transpose(1, 2);  // (B, H, T, D)
  };
  auto q = apply_rope(split(q_proj(x)), rope);                 // (B, H, T, D)
  auto k = apply_rope(split(k_proj(x)), rope);                 // (B, H, T, D)
  auto v = split(v_proj(x));                                   // (B, H, T, D)
  auto y = use_math ? causal_attention_math(q, k, v) : compat::causal_sdpa(q, k, v);
  y = y.transpose(1, 2).contiguous().view({B, T, C});          // (B, T, C)
  return o_proj(y);                                            // (B, T, C)
}

MlpImpl::MlpImpl(int64_t hidden, int64_t intermediate) {
  auto lin = [&](const char* name, int64_t in, int64_t out) {
    return register_module(name, nn::Linear(nn::LinearOptions(in, out).bias(false)));
  };
  gate_proj = lin("gate_proj", hidden, intermediate);
  up_proj = lin("up_proj", hidden, intermediate);
  down_proj = lin("down_proj", intermediate, hidden);
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));  // (B, T, C)
}

}  // namespace gpas
