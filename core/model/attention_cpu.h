// Causal self-attention with rotary embeddings for fp32 on an x86 CPU with AVX2 + FMA, one
// (batch, head) at a time: the scores, softmax and weighted sum of a head in one pass over its
// rows (all in cache at the sizes CPU users train), and the backward pass from the saved softmax.
// ATen's path takes one BLAS call per (batch, head) matrix for each of six products, plus masks,
// casts and the rotary's slices and concatenations, each a dispatch; at 16 x 64 that was a
// quarter of a training step. No LibTorch here; layers.cpp wraps it as one autograd node and
// splits the heads across threads.
#pragma once
#include <cstdint>

namespace gpas {

// Whether the kernels can run here (an x86 CPU with AVX2 and FMA).
bool attention_cpu_available();

// One head's inputs: rows t = 0..T-1 of q, k and v at q + t * q_stride (and so on), D floats each
// (contiguous). cos and sin: the rotary tables' first T rows, T x D, row-major.
struct AttentionHead {
  const float *q, *k, *v;
  int64_t q_stride, k_stride, v_stride;
  const float *cos, *sin;
  int64_t T, D;  // D even
  float scale;   // usually 1 / sqrt(D)
};

// The row length of the saved softmax: T rounded up to a multiple of 16.
inline int64_t attention_p_cols(int64_t T) { return (T + 15) / 16 * 16; }

// out row t at out + t * out_stride (D floats) = sum_j p[t][j] v[j] with
// p[t] = softmax_j<=t(scale * rope(q_t) . rope(k_j)); p: T rows of attention_p_cols(T) floats,
// written (zero after column t), kept for the backward.
void attention_head_forward(const AttentionHead& h, float* out, int64_t out_stride, float* p);

// From the saved p and the gradient of out (row t at dout + t * dout_stride), the gradients of q,
// k and v before rotary, row t at dq + t * d_stride (and dk, dv): all three written in full.
void attention_head_backward(const AttentionHead& h, const float* p, const float* dout,
                             int64_t dout_stride, float* dq, float* dk, float* dv, int64_t d_stride);

}  // namespace gpas
