// The exp is Cephes' expf polynomial (about 1 ulp), in GCC/Clang vector extensions compiled for
// AVX2 + FMA only in this file's functions; the rest of gpas keeps the baseline x86-64 target.
#include "core/model/softmax_rows.h"

#include <cmath>
#include <cstring>

namespace gpas {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

namespace {

typedef float V8 __attribute__((vector_size(32)));
typedef int I8 __attribute__((vector_size(32)));
#define GPAS_AVX2 __attribute__((target("avx2,fma")))
#define GPAS_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

constexpr float kLog2e = 1.44269504088896341f, kC1 = 0.693359375f, kC2 = -2.12194440e-4f;
constexpr float kLow = -87.33654f;  // exp below it is a denormal; inputs here are x - max <= 0
constexpr float kP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                         4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

GPAS_AVX2_INLINE V8 splat(float a) { return V8{a, a, a, a, a, a, a, a}; }
GPAS_AVX2_INLINE V8 load(const float* p) { V8 r; std::memcpy(&r, p, sizeof r); return r; }
GPAS_AVX2_INLINE void store(float* p, V8 a) { std::memcpy(p, &a, sizeof a); }

GPAS_AVX2_INLINE V8 exp8(V8 x) {
  x = x < splat(kLow) ? splat(kLow) : x;
  V8 fx = x * splat(kLog2e) + splat(0.5f);
  V8 n = __builtin_convertvector(__builtin_convertvector(fx, I8), V8);  // toward zero
  n += __builtin_convertvector(n > fx, V8);                             // floor (true is -1)
  V8 r = x - n * splat(kC1) - n * splat(kC2);
  V8 p = splat(kP[0]);
  for (int i = 1; i < 6; ++i) p = p * r + splat(kP[i]);
  V8 y = p * r * r + r + splat(1.0f);
  I8 e = (__builtin_convertvector(n, I8) + 127) << 23;
  return y * (V8)e;
}

GPAS_AVX2_INLINE float exp1(float x) {
  x = x < kLow ? kLow : x;
  float n = std::floor(x * kLog2e + 0.5f);
  float r = x - n * kC1 - n * kC2;
  float p = kP[0];
  for (int i = 1; i < 6; ++i) p = p * r + kP[i];
  float y = p * r * r + r + 1.0f;
  int e = (int(n) + 127) << 23;
  float s;
  std::memcpy(&s, &e, sizeof s);
  return y * s;
}

GPAS_AVX2 void rows_avx2(float* x, int64_t rows, int64_t v, const int64_t* targets, float* loss, bool grad) {
  const int64_t vv = v / 8 * 8;
  for (int64_t i = 0; i < rows; ++i) {
    float* row = x + i * v;
    V8 m8 = splat(-INFINITY);
    for (int64_t j = 0; j < vv; j += 8) {
      V8 a = load(row + j);
      m8 = a > m8 ? a : m8;
    }
    float m = -INFINITY;
    for (int k = 0; k < 8; ++k) m = m8[k] > m ? m8[k] : m;
    for (int64_t j = vv; j < v; ++j) m = row[j] > m ? row[j] : m;
    const float picked = row[targets[i]] - m;
    V8 s8 = splat(0.0f), mm = splat(m);
    for (int64_t j = 0; j < vv; j += 8) {
      V8 e = exp8(load(row + j) - mm);
      store(row + j, e);
      s8 += e;
    }
    float s = 0;
    for (int k = 0; k < 8; ++k) s += s8[k];
    for (int64_t j = vv; j < v; ++j) s += (row[j] = exp1(row[j] - m));
    loss[i] = std::log(s) - picked;
    if (!grad) continue;
    const float inv = 1.0f / s;
    V8 inv8 = splat(inv);
    for (int64_t j = 0; j < vv; j += 8) store(row + j, load(row + j) * inv8);
    for (int64_t j = vv; j < v; ++j) row[j] *= inv;
    row[targets[i]] -= 1.0f;
  }
}

}  // namespace

bool softmax_xent_rows_available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

void softmax_xent_rows(float* x, int64_t rows, int64_t v, const int64_t* targets, float* loss, bool grad) {
  rows_avx2(x, rows, v, targets, loss, grad);
}

#else

bool softmax_xent_rows_available() { return false; }
void softmax_xent_rows(float*, int64_t, int64_t, const int64_t*, float*, bool) {}

#endif

}  // namespace gpas
