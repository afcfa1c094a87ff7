#include "core/model/rmsnorm_cpu.h"

#include <cmath>

#include "core/model/avx2.h"

namespace gpas {

#ifdef GPAS_HAVE_AVX2_KERNELS

namespace {

using namespace avx2;

GPAS_AVX2_INLINE float sum8(V8 a) {
  float s = 0.0f;
  for (int k = 0; k < 8; ++k) s += a[k];
  return s;
}

GPAS_AVX2 void forward_avx2(const float* x, const float* w, int64_t n, int64_t C, float eps, float* out,
                            float* rstd) {
  const int64_t cv = C / 8 * 8;
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * C;
    float* oi = out + i * C;
    V8 s8 = splat(0.0f);
    for (int64_t c = 0; c < cv; c += 8) {
      const V8 a = load(xi + c);
      s8 += a * a;
    }
    float s = sum8(s8);
    for (int64_t c = cv; c < C; ++c) s += xi[c] * xi[c];
    const float r = 1.0f / std::sqrt(s / float(C) + eps);
    rstd[i] = r;
    const V8 r8 = splat(r);
    for (int64_t c = 0; c < cv; c += 8) store(oi + c, load(w + c) * (load(xi + c) * r8));
    for (int64_t c = cv; c < C; ++c) oi[c] = w[c] * (xi[c] * r);
  }
}

GPAS_AVX2 void backward_avx2(const float* x, const float* w, const float* rstd, const float* g, int64_t n,
                             int64_t C, float* dx, float* gw) {
  const int64_t cv = C / 8 * 8;
  for (int64_t i = 0; i < n; ++i) {
    const float *xi = x + i * C, *gi = g + i * C;
    float* di = dx + i * C;
    const float r = rstd[i];
    const V8 r8 = splat(r);
    V8 d8 = splat(0.0f);
    for (int64_t c = 0; c < cv; c += 8) {
      const V8 xh = load(xi + c) * r8, gv = load(gi + c);
      store(gw + c, load(gw + c) + gv * xh);
      d8 += gv * load(w + c) * xh;
    }
    float dot = sum8(d8);
    for (int64_t c = cv; c < C; ++c) {
      const float xh = xi[c] * r;
      gw[c] += gi[c] * xh;
      dot += gi[c] * w[c] * xh;
    }
    const float mean = dot / float(C);
    const V8 m8 = splat(mean);
    for (int64_t c = 0; c < cv; c += 8) {
      const V8 xh = load(xi + c) * r8;
      store(di + c, r8 * (load(gi + c) * load(w + c) - xh * m8));
    }
    for (int64_t c = cv; c < C; ++c) di[c] = r * (gi[c] * w[c] - xi[c] * r * mean);
  }
}

}  // namespace

bool rmsnorm_cpu_available() { return available(); }

void rmsnorm_forward(const float* x, const float* w, int64_t n, int64_t C, float eps, float* out,
                     float* rstd) {
  forward_avx2(x, w, n, C, eps, out, rstd);
}

void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* g, int64_t n,
                      int64_t C, float* dx, float* gw) {
  backward_avx2(x, w, rstd, g, n, C, dx, gw);
}

#else

bool rmsnorm_cpu_available() { return false; }
void rmsnorm_forward(const float*, const float*, int64_t, int64_t, float, float*, float*) {}
void rmsnorm_backward(const float*, const float*, const float*, const float*, int64_t, int64_t, float*,
                      float*) {}

#endif

}  // namespace gpas
