// Adam's update of one fp32 tensor on an x86 CPU with AVX2 + FMA in one pass over the parameter,
// its gradient and its two moments, for LibTorch builds without a fused CPU Adam (1.13, the CPU
// users' build; at::_fused_adam_ runs on the CPU from 2.4). torch's per-parameter step makes
// about ten passes (mul_, add_, addcmul_, sqrt, div, add_, addcdiv_, each a dispatch) per
// tensor. The arithmetic is torch::optim::Adam's, in its order; rounding differs (FMA). No LibTorch.
#pragma once
#include <cstdint>

namespace gpas {

// Whether adam_cpu_step can run here (an x86 CPU with AVX2 and FMA).
bool adam_cpu_available();

struct AdamCpuStep {
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;          // AdamW: p *= 1 - lr * weight_decay first; else L2: g += weight_decay * p
  float bias1, bias2_sqrt;  // 1 - beta1^step, sqrt(1 - beta2^step)
};

// For i < n: the decay, then m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2,
// p -= lr / bias1 * m / (sqrt(v) / bias2_sqrt + eps).
void adam_cpu_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamCpuStep& s);

}  // namespace gpas
