// sigmoid(x) from e = exp(-|x|) (avx2.h's exp, whose input is then never positive):
// 1 / (1 + e) for x >= 0, e / (1 + e) below, exact at both ends with no overflow.
#include "core/model/swiglu_cpu.h"

#include "core/model/avx2.h"

namespace gpas {

#ifdef GPAS_HAVE_AVX2_KERNELS

namespace {

using namespace avx2;

GPAS_AVX2_INLINE V8 sigmoid8(V8 x) {
  const V8 e = exp8(x < splat(0.0f) ? x : -x);
  const V8 r = splat(1.0f) / (splat(1.0f) + e);
  return x < splat(0.0f) ? e * r : r;
}

GPAS_AVX2_INLINE float sigmoid1(float x) {
  const float e = exp1(x < 0.0f ? x : -x);
  const float r = 1.0f / (1.0f + e);
  return x < 0.0f ? e * r : r;
}

GPAS_AVX2 void forward_avx2(const float* g, const float* u, float* out, int64_t n) {
  const int64_t nv = n / 8 * 8;
  for (int64_t i = 0; i < nv; i += 8) {
    const V8 x = load(g + i);
    store(out + i, x * sigmoid8(x) * load(u + i));
  }
  for (int64_t i = nv; i < n; ++i) out[i] = g[i] * sigmoid1(g[i]) * u[i];
}

GPAS_AVX2 void backward_avx2(const float* g, const float* u, const float* dout, float* dg, float* du,
                             int64_t n) {
  const int64_t nv = n / 8 * 8;
  const V8 one = splat(1.0f);
  for (int64_t i = 0; i < nv; i += 8) {
    const V8 x = load(g + i), s = sigmoid8(x), d = load(dout + i);
    store(du + i, d * (x * s));
    store(dg + i, d * load(u + i) * s * (one + x * (one - s)));
  }
  for (int64_t i = nv; i < n; ++i) {
    const float x = g[i], s = sigmoid1(x);
    du[i] = dout[i] * (x * s);
    dg[i] = dout[i] * u[i] * s * (1.0f + x * (1.0f - s));
  }
}

}  // namespace

bool swiglu_cpu_available() { return available(); }

void swiglu_forward(const float* g, const float* u, float* out, int64_t n) { forward_avx2(g, u, out, n); }

void swiglu_backward(const float* g, const float* u, const float* dout, float* dg, float* du, int64_t n) {
  backward_avx2(g, u, dout, dg, du, n);
}

#else

bool swiglu_cpu_available() { return false; }
void swiglu_forward(const float*, const float*, float*, int64_t) {}
void swiglu_backward(const float*, const float*, const float*, float*, float*, int64_t) {}

#endif

}  // namespace gpas
