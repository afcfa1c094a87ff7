#include "core/model/fused_norm.h"

#ifdef GPAS_WITH_CUDA_KERNELS
#include "core/model/fused_norm_cuda.h"
#endif

namespace gpas {

namespace {

using torch::Tensor;

struct Saved {
  Tensor y, xp, rstd;  // y is x' without GPAS
};

// Forward in ATen ops, the unfused modules' arithmetic (block.cpp, gpas.cpp, layers.cpp).
std::pair<Saved, Tensor> aten_forward(const Tensor& x, const Tensor& o, const Tensor& s,
                                      bool stopgrad, const Tensor& w, double eps) {
  Saved sv;
  sv.y = x + o;                                                      // (B, T, C)
  sv.xp = sv.y;
  if (s.defined()) {
    auto sd = s.to(sv.y.scalar_type());
    sv.xp = stopgrad ? sv.y - sd * sv.y : sv.y * (1 - sd);           // (B, T, C)
  }
  auto h = sv.xp.to(torch::kFloat32);                                // (B, T, C)
  sv.rstd = torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps); // (B, T, 1)
  auto n = w * (h * sv.rstd).to(sv.xp.scalar_type());                // (B, T, C)
  return {sv, n};
}

// Returns {g (of x and of o), gw, gs (undefined unless want_gs)}.
std::tuple<Tensor, Tensor, Tensor> aten_backward(const Tensor& gxp, const Tensor& gn,
                                                 const Saved& sv, const Tensor& w, const Tensor& s,
                                                 bool stopgrad, bool want_gs) {
  const auto dtype = sv.xp.scalar_type();
  const int64_t C = sv.xp.size(-1);
  auto xhat = sv.xp.to(torch::kFloat32) * sv.rstd;                   // (B, T, C) fp32
  auto gw = (gn * xhat.to(dtype)).reshape({-1, C}).sum(0).to(w.scalar_type());  // (C)
  auto gxh = (gn * w).to(dtype).to(torch::kFloat32);                 // (B, T, C)
  // d/dh of h * rsqrt(mean(h^2) + eps): rstd * (g - xhat * mean(g * xhat)).
  auto gh = sv.rstd * (gxh - xhat * (gxh * xhat).mean(-1, /*keepdim=*/true));
  auto g = gh.to(dtype);                                             // the gradient of x'
  if (gxp.defined()) g = g + gxp;
  Tensor gs;
  if (want_gs) gs = -(g * sv.y).sum();                               // d x' / d s = -y
  if (s.defined() && !stopgrad) g = g * (1 - s.to(dtype));
  return {g, gw, gs};
}

// x and o may differ in dtype (bf16-mixed: an fp32 residual stream, bf16 sub-layer outputs); the
// kernel takes both in their common dtype, as x + o computes.
bool use_kernel(const Tensor& x, const Tensor& o, const Tensor& w) {
#ifdef GPAS_WITH_CUDA_KERNELS
  const auto t = o.defined() ? at::result_type(x, o) : x.scalar_type();
  return x.is_cuda() && w.device() == x.device() &&
         (!o.defined() || (o.device() == x.device() && o.sizes() == x.sizes())) &&
         x.dim() >= 1 && x.size(-1) > 0 &&
         x.size(-1) <= cuda::kFusedNormMaxHidden &&
         (t == torch::kFloat32 || t == torch::kBFloat16 || t == torch::kHalf) &&
         (w.scalar_type() == t || w.scalar_type() == torch::kFloat32);
#else
  return false;
#endif
}

// s is passed defined: 1.13's autograd cannot take an undefined input (VariableInfo). Without
// GPAS it is this placeholder, and has_gate is false.
const Tensor& no_gate() {
  static const Tensor t = torch::zeros({});
  return t;
}

struct AddGpasRmsNorm : torch::autograd::Function<AddGpasRmsNorm> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, Tensor x,
                                                Tensor o, Tensor gate, bool has_gate,
                                                bool stopgrad, Tensor w, double eps, bool kernel) {
    const Tensor s = has_gate ? gate : Tensor();
    Saved sv;
    Tensor n;
    if (kernel) {
#ifdef GPAS_WITH_CUDA_KERNELS
      auto s32 = s.defined() ? s.to(x.device(), torch::kFloat32).contiguous() : s;
      const auto t = at::result_type(x, o);
      std::tie(sv.y, sv.xp, n, sv.rstd) = cuda::fused_norm_forward(
          x.to(t).contiguous(), o.to(t).contiguous(), s32, stopgrad, w.contiguous(), eps);
      if (!sv.y.defined()) sv.y = sv.xp;
#endif
    } else {
      std::tie(sv, n) = aten_forward(x, o, s, stopgrad, w, eps);
    }
    ctx->set_materialize_grads(false);
    ctx->save_for_backward({sv.y, sv.xp, sv.rstd, w, gate});
    ctx->saved_data["has_gate"] = has_gate;
    ctx->saved_data["stopgrad"] = stopgrad;
    ctx->saved_data["kernel"] = kernel;
    ctx->saved_data["want_gs"] = s.defined() && s.requires_grad();
    ctx->saved_data["s_dtype"] = s.defined() ? int64_t(s.scalar_type()) : int64_t(-1);
    return {sv.xp, n};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto v = ctx->get_saved_variables();
    Saved sv{v[0], v[1], v[2]};
    const Tensor& w = v[3];
    const Tensor s = ctx->saved_data["has_gate"].toBool() ? v[4] : Tensor();
    const bool stopgrad = ctx->saved_data["stopgrad"].toBool();
    const bool want_gs = ctx->saved_data["want_gs"].toBool();
    Tensor gxp = grad[0], gn = grad[1];
    if (!gn.defined()) gn = torch::zeros_like(sv.xp, sv.xp.options().dtype(
                                                         at::result_type(w, sv.xp)));
    Tensor g, gw, gs;
    if (ctx->saved_data["kernel"].toBool()) {
#ifdef GPAS_WITH_CUDA_KERNELS
      auto s32 = s.defined() ? s.to(sv.xp.device(), torch::kFloat32).contiguous() : s;
      std::tie(g, gw, gs) = cuda::fused_norm_backward(
          gxp.defined() ? gxp.contiguous() : gxp, gn.contiguous(), sv.y, sv.xp, sv.rstd, w.contiguous(), s32,
          stopgrad, want_gs);
#endif
    } else {
      std::tie(g, gw, gs) = aten_backward(gxp, gn, sv, w, s, stopgrad, want_gs);
    }
    if (gs.defined())
      gs = gs.to(c10::ScalarType(ctx->saved_data["s_dtype"].toInt()));
    return {g, g, gs, Tensor(), Tensor(), gw, Tensor(), Tensor()};
  }
};

}  // namespace

bool fused_norm_kernel_used(const torch::Tensor& x, const torch::Tensor& w) {
  return use_kernel(x, torch::Tensor(), w);
}

std::pair<torch::Tensor, torch::Tensor> add_gpas_rmsnorm(const torch::Tensor& x,
                                                         const torch::Tensor& o,
                                                         const torch::Tensor& s, bool stopgrad,
                                                         const torch::Tensor& w, double eps) {
  auto out = AddGpasRmsNorm::apply(x, o, s.defined() ? s : no_gate(), s.defined(), stopgrad, w, eps,
                                   use_kernel(x, o, w));
  return {out[0], out[1]};
}

std::pair<torch::Tensor, torch::Tensor> add_gpas_rmsnorm_aten(const torch::Tensor& x,
                                                              const torch::Tensor& o,
                                                              const torch::Tensor& s,
                                                              bool stopgrad, const torch::Tensor& w,
                                                              double eps) {
  auto out = AddGpasRmsNorm::apply(x, o, s.defined() ? s : no_gate(), s.defined(), stopgrad, w, eps, false);
  return {out[0], out[1]};
}

}  // namespace gpas
