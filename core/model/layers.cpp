#include "core/model/layers.h"

#include <cmath>

#include "core/model/compat.h"

namespace gpas {

namespace nn = torch::nn;

NormImpl::NormImpl(int64_t dim, double eps, double weight_init, NormKind kind, double alpha_init)
    : eps_(eps), kind_(kind) {
  TORCH_CHECK(kind != NormKind::kNone, "a norm module needs a kind");
  weight = register_parameter("weight", torch::full({dim}, weight_init));
  if (kind == NormKind::kDyt) alpha = register_parameter("alpha", torch::full({}, alpha_init));
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  auto h = x.to(torch::kFloat32);                                        // (..., C)
  if (kind_ == NormKind::kDyt) return weight * torch::tanh(alpha * h).to(x.scalar_type());
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);      // (..., C)
  return weight * h.to(x.scalar_type());                                 // (..., C)
}

Norm build_norm(const NormSite& site, int64_t dim, double eps) {
  if (!site.on()) return Norm(nullptr);
  return Norm(dim, eps, site.weight_init, site.kind, site.alpha_init);
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

AttentionImpl::AttentionImpl(int64_t hidden, int64_t heads, QkNorm qk_norm, bool v, double eps)
    : heads_(heads), head_dim_(hidden / heads), qk_(qk_norm) {
  auto lin = [&](const char* name) {
    return register_module(name, nn::Linear(nn::LinearOptions(hidden, hidden).bias(false)));
  };
  q_proj = lin("q_proj");
  k_proj = lin("k_proj");
  v_proj = lin("v_proj");
  o_proj = lin("o_proj");
  if (qk_ != QkNorm::kNone) {
    const int64_t dim = qk_ == QkNorm::kHead ? head_dim_ : hidden;
    q_norm = register_module("q_norm", Norm(dim, eps));
    k_norm = register_module("k_norm", Norm(dim, eps));
    if (v) v_norm = register_module("v_norm", Norm(dim, eps));
  }
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
  auto q = q_proj(x), k = k_proj(x), v = v_proj(x);            // (B, T, C)
  if (qk_ == QkNorm::kFull) {                                  // over the projection (OLMo-2)
    q = q_norm(q);
    k = k_norm(k);
    if (v_norm) v = v_norm(v);
  }
  q = split(q), k = split(k), v = split(v);                    // (B, H, T, D)
  if (qk_ == QkNorm::kHead) {                                  // per head (Qwen3, HybridNorm)
    q = q_norm(q);
    k = k_norm(k);
    if (v_norm) v = v_norm(v);
  }
  q = apply_rope(q, rope);                                     // (B, H, T, D)
  k = apply_rope(k, rope);                                     // (B, H, T, D)
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
