// The residual add, GPAS and the next RMSNorm of a Pre-LN-family layer as one op (issue 13):
//   y  = x + o                       the residual add            (B, T, C)
//   x' = gpas(y) = y - s sg(y)       (y (1 - s) without stopgrad; x' = y without GPAS)
//   n  = w * rmsnorm(x')             the next sub-layer's input (the final norm's after the last)
// Forward and backward are written out: one CUDA kernel each (fused_norm_cuda.cu) where the build
// has one and the tensors allow it, else the same arithmetic in ATen ops. Either way the values
// and gradients are the unfused modules' (block.cpp) up to float rounding, and autograd saves
// y, x' and one fp32 scale per row instead of the unfused chain's fp32 copies.
#pragma once
#include <utility>

#include <torch/torch.h>

namespace gpas {

// s: act(alpha) of the layer's gate, a scalar (undefined: no GPAS). Returns {x', n}; n has the
// dtype of w * x' (fp32 weights on bf16 activations give fp32, as the unfused RMSNorm does).
std::pair<torch::Tensor, torch::Tensor> add_gpas_rmsnorm(const torch::Tensor& x,
                                                         const torch::Tensor& o,
                                                         const torch::Tensor& s, bool stopgrad,
                                                         const torch::Tensor& w, double eps);

// Whether add_gpas_rmsnorm runs its CUDA kernel for tensors like these (false: ATen ops).
bool fused_norm_kernel_used(const torch::Tensor& x, const torch::Tensor& w);

// The ATen-ops path, also on CUDA: what the kernel is tested against.
std::pair<torch::Tensor, torch::Tensor> add_gpas_rmsnorm_aten(const torch::Tensor& x,
                                                              const torch::Tensor& o,
                                                              const torch::Tensor& s,
                                                              bool stopgrad, const torch::Tensor& w,
                                                              double eps);

}  // namespace gpas
