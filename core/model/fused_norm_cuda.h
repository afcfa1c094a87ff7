// The CUDA kernels behind add_gpas_rmsnorm (fused_norm.h), compiled only when the build has a
// CUDA compiler and a CUDA LibTorch (GPAS_WITH_CUDA_KERNELS). Contiguous tensors on one device;
// x, o, x', y of one dtype T (fp32, fp16, bf16); w of T or fp32; s an fp32 scalar on the device
// or undefined (no GPAS). Nothing here synchronises with the host.
#pragma once
#include <tuple>

#include <ATen/core/Tensor.h>

namespace gpas::cuda {

// Largest row the backward kernel takes (its per-column gradient of w lives in shared memory).
constexpr int64_t kFusedNormMaxHidden = 8192;

// Returns {y (undefined without GPAS: it is x'), x', n, rstd (rows,) fp32}.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> fused_norm_forward(
    const at::Tensor& x, const at::Tensor& o, const at::Tensor& s, bool stopgrad,
    const at::Tensor& w, double eps);

// gxp may be undefined (x' unused). Returns {g (the gradient of x and of o), gw (of w's dtype),
// gs (fp32 scalar; undefined unless want_gs)}.
std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_norm_backward(
    const at::Tensor& gxp, const at::Tensor& gn, const at::Tensor& y, const at::Tensor& xp,
    const at::Tensor& rstd, const at::Tensor& w, const at::Tensor& s, bool stopgrad, bool want_gs);

}  // namespace gpas::cuda
