// RMSNorm over rows of C floats, w * x / sqrt(mean(x^2) + eps), for fp32 on an x86 CPU with
// AVX2 + FMA: one pass forward and two backward, where ATen's path takes pow, mean, add, rsqrt
// and two muls forward and about ten ops backward, each over the whole tensor. No LibTorch here;
// layers.cpp wraps it as one autograd node and splits the rows across threads.
#pragma once
#include <cstdint>

namespace gpas {

// Whether the kernels can run here (an x86 CPU with AVX2 and FMA).
bool rmsnorm_cpu_available();

// Rows [0, n) of x (n x C, row-major): out = w * (x * rstd), rstd[i] = 1 / sqrt(mean(x_i^2) + eps).
void rmsnorm_forward(const float* x, const float* w, int64_t n, int64_t C, float eps, float* out,
                     float* rstd);

// From g = d loss / d out: dx = rstd * (g w - xhat * mean(g w xhat)) with xhat = x * rstd, and
// gw += sum over the n rows of g * xhat (gw accumulated, not overwritten).
void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* g, int64_t n,
                      int64_t C, float* dx, float* gw);

}  // namespace gpas
