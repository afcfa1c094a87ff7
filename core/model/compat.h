// The one place that knows which LibTorch it is built against (Debian's 1.13 CPU, or 2.x with
// CUDA on GPU hosts). Everything version-specific goes through these few functions.
#pragma once
#include <torch/torch.h>

namespace gpas::compat {

// Causal scaled-dot-product attention, q/k/v (B, H, T, D) -> (B, H, T, D). Uses LibTorch's fused
// kernel where the version has one (flash / memory-efficient on the GPU in 2.x).
torch::Tensor causal_sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// Turns bf16 autocast on/off for the device type of `device` (bf16-mixed precision).
void set_bf16_autocast(const torch::Device& device, bool enabled);

}  // namespace gpas::compat
