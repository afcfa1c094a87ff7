#include "core/model/layers.h"

#include <cmath>

#include "core/model/attention_cpu.h"
#include "core/model/compat.h"
#include "core/model/rmsnorm_cpu.h"
#include "core/model/swiglu_cpu.h"

namespace gpas {

namespace nn = torch::nn;

NormImpl::NormImpl(int64_t dim, double eps, double weight_init, NormKind kind, double alpha_init)
    : eps_(eps), kind_(kind) {
  TORCH_CHECK(kind != NormKind::kNone, "a norm module needs a kind");
  weight = register_parameter("weight", torch::full({dim}, weight_init));
  if (kind == NormKind::kDyt) alpha = register_parameter("alpha", torch::full({}, alpha_init));
}

namespace {

// rmsnorm_cpu.h's kernels as one autograd node: x (..., C) and w (C) fp32 on the CPU. The weight's
// gradient sums fixed blocks of rows, then the blocks in order: the same bits at any thread count.
class CpuRmsNorm : public torch::autograd::Function<CpuRmsNorm> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor w,
                               double eps) {
    x = x.contiguous();
    const int64_t C = x.size(-1), n = x.numel() / C;
    auto out = torch::empty_like(x);
    auto rstd = torch::empty({n}, x.options());
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
    float *op = out.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    at::parallel_for(0, n, std::max<int64_t>(1, kGrain / C), [&](int64_t begin, int64_t end) {
      rmsnorm_forward(xp + begin * C, wp, end - begin, C, float(eps), op + begin * C, rp + begin);
    });
    ctx->save_for_backward({x, w, rstd});
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1], &rstd = saved[2];
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
    auto g = grads[0].contiguous();
    const int64_t C = x.size(-1), n = x.numel() / C, blocks = (n + kBlock - 1) / kBlock;
    auto dx = torch::empty_like(x);
    auto partial = torch::zeros({blocks, C}, x.options());
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float *dp = dx.data_ptr<float>(), *pp = partial.data_ptr<float>();
    at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t r = b * kBlock, rows = std::min(kBlock, n - r);
        rmsnorm_backward(xp + r * C, wp, rp + r, gp + r * C, rows, C, dp + r * C, pp + b * C);
      }
    });
    auto gw = partial[0].clone();
    float* gwp = gw.data_ptr<float>();
    for (int64_t b = 1; b < blocks; ++b)
      for (int64_t c = 0; c < C; ++c) gwp[c] += pp[b * C + c];
    return {dx, gw, torch::Tensor()};
  }

 private:
  static constexpr int64_t kGrain = 1 << 14;  // elements per thread's share, at least
  static constexpr int64_t kBlock = 256;      // rows per partial sum of the weight's gradient
};

}  // namespace

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  if (kind_ == NormKind::kRms && x.is_cpu() && x.scalar_type() == torch::kFloat32 && x.numel() > 0 &&
      weight.scalar_type() == torch::kFloat32 && weight.is_cpu() && rmsnorm_cpu_available())
    return CpuRmsNorm::apply(x, weight, eps_);
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

namespace {

// attention_cpu.h's kernels as one autograd node: q, k, v (B, T, H, D) fp32 on the CPU, each
// head's rows D contiguous floats; out (B, T, H, D); the heads split across LibTorch's threads
// (each writes only its own rows: the result does not depend on the thread count). Like the other
// CPU nodes here, its backward is not itself differentiable (no double backward; gpas needs none).
class CpuAttention : public torch::autograd::Function<CpuAttention> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor q, torch::Tensor k,
                               torch::Tensor v, torch::Tensor cos, torch::Tensor sin) {
    auto out = torch::empty(q.sizes(), q.options());
    const int64_t T = q.size(1), row = q.size(2) * q.size(3), Tp = attention_p_cols(T);
    auto p = torch::empty({q.size(0), q.size(2), T, Tp}, q.options());  // (B, H, T, Tp)
    float *o = out.data_ptr<float>(), *pp = p.data_ptr<float>();
    for_each_head(q, k, v, cos, sin, [&](const AttentionHead& h, int64_t b, int64_t head, int64_t bh) {
      attention_head_forward(h, o + b * T * row + head * h.D, row, pp + bh * T * Tp);
    });
    ctx->save_for_backward({q, k, v, cos, sin, p});
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &p = saved[5];
    auto dout = grads[0].defined() ? grads[0].contiguous() : torch::zeros(q.sizes(), q.options());
    auto dq = torch::empty(q.sizes(), q.options()), dk = torch::empty_like(dq), dv = torch::empty_like(dq);
    const float *g = dout.data_ptr<float>(), *pp = p.data_ptr<float>();
    float *gq = dq.data_ptr<float>(), *gk = dk.data_ptr<float>(), *gv = dv.data_ptr<float>();
    const int64_t T = q.size(1), row = q.size(2) * q.size(3), Tp = attention_p_cols(T);
    for_each_head(q, k, v, saved[3], saved[4], [&](const AttentionHead& h, int64_t b, int64_t head, int64_t bh) {
      const int64_t at = b * T * row + head * h.D;
      attention_head_backward(h, pp + bh * T * Tp, g + at, row, gq + at, gk + at, gv + at, row);
    });
    return {dq, dk, dv, torch::Tensor(), torch::Tensor()};
  }

 private:
  template <class Fn>
  static void for_each_head(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const torch::Tensor& cos, const torch::Tensor& sin, const Fn& fn) {
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    const float *cp = cos.data_ptr<float>(), *sp = sin.data_ptr<float>();
    const float scale = float(1.0 / std::sqrt(double(D)));
    at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / H, head = bh % H;
        const AttentionHead h{qp + b * q.stride(0) + head * q.stride(2),
                              kp + b * k.stride(0) + head * k.stride(2),
                              vp + b * v.stride(0) + head * v.stride(2),
                              q.stride(1), k.stride(1), v.stride(1), cp, sp, T, D, scale};
        fn(h, b, head, bh);
      }
    });
  }
};

}  // namespace

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const Rope& rope) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, heads_, head_dim_}); };
  auto q = q_proj(x), k = k_proj(x), v = v_proj(x);            // (B, T, C)
  if (qk_ == QkNorm::kFull) {                                  // over the projection (OLMo-2)
    q = q_norm(q);
    k = k_norm(k);
    if (v_norm) v = v_norm(v);
  }
  q = heads(q), k = heads(k), v = heads(v);                    // (B, T, H, D)
  if (qk_ == QkNorm::kHead) {                                  // per head (Qwen3, HybridNorm)
    q = q_norm(q);
    k = k_norm(k);
    if (v_norm) v = v_norm(v);
  }
  // The kernel saves the softmax, T x T floats per head, as ATen's written-out path does; from
  // 2.0 on, SDPA's CPU kernel keeps one number per row instead, so long sequences stay with it.
  const bool short_enough = TORCH_VERSION_MAJOR < 2 || T <= 512;
  if (!use_math && short_enough && x.is_cpu() && q.scalar_type() == torch::kFloat32 &&
      attention_cpu_available() && head_dim_ % 2 == 0 && rope.cos.is_cpu() &&
      rope.cos.scalar_type() == torch::kFloat32 && rope.cos.size(0) >= T && rope.cos.size(1) == head_dim_) {
    auto one = [](const torch::Tensor& t) { return t.stride(3) == 1 ? t : t.contiguous(); };
    auto cos = rope.cos.slice(0, 0, T).contiguous(), sin = rope.sin.slice(0, 0, T).contiguous();
    auto y = CpuAttention::apply(one(q), one(k), one(v), cos, sin);  // (B, T, H, D)
    return o_proj(y.view({B, T, C}));                                // (B, T, C)
  }
  q = apply_rope(q.transpose(1, 2), rope);                     // (B, H, T, D)
  k = apply_rope(k.transpose(1, 2), rope);                     // (B, H, T, D)
  v = v.transpose(1, 2);                                       // (B, H, T, D)
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

namespace {

// swiglu_cpu.h's kernels as one autograd node: g and u contiguous fp32 on the CPU, of one shape.
class CpuSwiGlu : public torch::autograd::Function<CpuSwiGlu> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor g, torch::Tensor u) {
    auto out = torch::empty_like(g);
    const float *gp = g.data_ptr<float>(), *up = u.data_ptr<float>();
    float* op = out.data_ptr<float>();
    at::parallel_for(0, g.numel(), kGrain, [&](int64_t begin, int64_t end) {
      swiglu_forward(gp + begin, up + begin, op + begin, end - begin);
    });
    ctx->save_for_backward({g, u});
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &g = saved[0], &u = saved[1];
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor()};
    auto dout = grads[0].contiguous();
    auto dg = torch::empty_like(g), du = torch::empty_like(u);
    const float *gp = g.data_ptr<float>(), *up = u.data_ptr<float>(), *dp = dout.data_ptr<float>();
    float *dgp = dg.data_ptr<float>(), *dup = du.data_ptr<float>();
    at::parallel_for(0, g.numel(), kGrain, [&](int64_t begin, int64_t end) {
      swiglu_backward(gp + begin, up + begin, dp + begin, dgp + begin, dup + begin, end - begin);
    });
    return {dg, du};
  }

 private:
  static constexpr int64_t kGrain = 1 << 15;  // elements per thread's share, at least
};

}  // namespace

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto g = gate_proj(x), u = up_proj(x);  // (B, T, I) each
  if (g.is_cpu() && g.scalar_type() == torch::kFloat32 && u.scalar_type() == torch::kFloat32 &&
      g.is_contiguous() && u.is_contiguous() && swiglu_cpu_available())
    return down_proj(CpuSwiGlu::apply(g, u));  // (B, T, C)
  return down_proj(torch::silu(g) * u);        // (B, T, C)
}

}  // namespace gpas
