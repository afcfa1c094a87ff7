#include "core/train/adam_cpu.h"

#include <cmath>

#include "core/model/avx2.h"

#ifdef GPAS_HAVE_AVX2_KERNELS
#include <immintrin.h>
#endif

namespace gpas {

#ifdef GPAS_HAVE_AVX2_KERNELS

namespace {

using namespace avx2;

GPAS_AVX2 void step_avx2(float* p, const float* g, float* m, float* v, int64_t n, const AdamCpuStep& s) {
  const float decay = s.decoupled ? 1.0f - s.lr * s.weight_decay : 1.0f;
  const float l2 = s.decoupled ? 0.0f : s.weight_decay;
  const float step_size = s.lr / s.bias1;
  const V8 decay8 = splat(decay), l28 = splat(l2), b1 = splat(s.beta1), c1 = splat(1.0f - s.beta1);
  const V8 b2 = splat(s.beta2), c2 = splat(1.0f - s.beta2), bc2 = splat(s.bias2_sqrt);
  const V8 eps = splat(s.eps), st = splat(step_size);
  const int64_t nv = n / 8 * 8;
  for (int64_t i = 0; i < nv; i += 8) {
    V8 pi = load(p + i) * decay8;
    const V8 gi = load(g + i) + l28 * pi;
    const V8 mi = load(m + i) * b1 + c1 * gi;
    const V8 vi = load(v + i) * b2 + c2 * gi * gi;
    const V8 denom = (V8)_mm256_sqrt_ps((__m256)vi) / bc2 + eps;
    store(m + i, mi);
    store(v + i, vi);
    store(p + i, pi - st * (mi / denom));
  }
  for (int64_t i = nv; i < n; ++i) {
    const float pi = p[i] * decay, gi = g[i] + l2 * pi;
    m[i] = m[i] * s.beta1 + (1.0f - s.beta1) * gi;
    v[i] = v[i] * s.beta2 + (1.0f - s.beta2) * gi * gi;
    p[i] = pi - step_size * (m[i] / (std::sqrt(v[i]) / s.bias2_sqrt + s.eps));
  }
}

}  // namespace

bool adam_cpu_available() { return available(); }

void adam_cpu_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamCpuStep& s) {
  step_avx2(p, g, m, v, n, s);
}

#else

bool adam_cpu_available() { return false; }
void adam_cpu_step(float*, const float*, float*, float*, int64_t, const AdamCpuStep&) {}

#endif

}  // namespace gpas
