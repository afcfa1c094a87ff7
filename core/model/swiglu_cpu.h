// The SwiGLU MLP's elementwise part, silu(g) * u, for fp32 on an x86 CPU with AVX2 + FMA: one
// pass forward and one backward, where ATen's path takes silu, mul and in backward
// silu_backward and two muls, each over the whole (tokens x intermediate) tensor. No LibTorch
// here; layers.cpp wraps it as one autograd node and splits the elements across threads.
#pragma once
#include <cstdint>

namespace gpas {

// Whether the kernels can run here (an x86 CPU with AVX2 and FMA).
bool swiglu_cpu_available();

// out[i] = silu(g[i]) * u[i] = g[i] * sigmoid(g[i]) * u[i], for i < n.
void swiglu_forward(const float* g, const float* u, float* out, int64_t n);

// From dout = d loss / d out: du = dout * silu(g), dg = dout * u * sigmoid(g) * (1 + g * (1 - sigmoid(g))).
void swiglu_backward(const float* g, const float* u, const float* dout, float* dg, float* du, int64_t n);

}  // namespace gpas
