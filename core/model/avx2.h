// AVX2 + FMA building blocks for gpas's CPU kernels (softmax_rows.cpp, attention_cpu.cpp), in
// GCC/Clang vector extensions. Only functions marked GPAS_AVX2 are compiled for AVX2 + FMA; the
// rest of gpas keeps the baseline x86-64 target, and callers check cpu_has_avx2_fma() first.
// The exp is Cephes' expf polynomial (about 1 ulp) for inputs <= 0 (x - max).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GPAS_HAVE_AVX2_KERNELS 1

#include <cmath>
#include <cstring>

#define GPAS_AVX2 __attribute__((target("avx2,fma")))
#define GPAS_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline
#define GPAS_AVX2_LAMBDA __attribute__((target("avx2,fma"), always_inline))

namespace gpas::avx2 {

typedef float V8 __attribute__((vector_size(32)));
typedef int I8 __attribute__((vector_size(32)));

inline bool available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

constexpr float kLog2e = 1.44269504088896341f, kC1 = 0.693359375f, kC2 = -2.12194440e-4f;
constexpr float kLow = -87.33654f;  // exp below it is a denormal
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

// The row's max (n >= 1 floats).
GPAS_AVX2_INLINE float max_row(const float* row, int64_t n) {
  const int64_t nv = n / 8 * 8;
  V8 m8 = splat(-INFINITY);
  for (int64_t j = 0; j < nv; j += 8) {
    V8 a = load(row + j);
    m8 = a > m8 ? a : m8;
  }
  float m = -INFINITY;
  for (int k = 0; k < 8; ++k) m = m8[k] > m ? m8[k] : m;
  for (int64_t j = nv; j < n; ++j) m = row[j] > m ? row[j] : m;
  return m;
}

// row[j] = exp(row[j] - m) for j < n; returns their sum.
GPAS_AVX2_INLINE float exp_row(float* row, int64_t n, float m) {
  const int64_t nv = n / 8 * 8;
  V8 s8 = splat(0.0f), mm = splat(m);
  for (int64_t j = 0; j < nv; j += 8) {
    V8 e = exp8(load(row + j) - mm);
    store(row + j, e);
    s8 += e;
  }
  float s = 0;
  for (int k = 0; k < 8; ++k) s += s8[k];
  for (int64_t j = nv; j < n; ++j) s += (row[j] = exp1(row[j] - m));
  return s;
}

}  // namespace gpas::avx2

#endif
