// The head's GEMMs in AVX-512F intrinsics (head_gemm.h), chosen at run time. Only the functions
// marked GPAS_AVX512 are compiled for AVX-512; the rest of gpas keeps the baseline target.
#include "core/model/head_gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GPAS_HAVE_AVX512_KERNELS 1
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdlib>

namespace gpas {

namespace {
constexpr int64_t kPanel = 32;  // vocabulary columns of a packed W^T panel (two vectors)
}  // namespace

#ifdef GPAS_HAVE_AVX512_KERNELS

#define GPAS_AVX512 __attribute__((target("avx512f")))
#define GPAS_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline

namespace {

constexpr int64_t kLogitRows = 12;  // rows of a logits tile: 12 x 2 accumulators
constexpr int64_t kRows = 6;        // rows of a dh or dW tile: 6 x 4 accumulators (64 columns)
constexpr int64_t kBlockV = 512;    // dh: the vocabulary block whose W rows stay in L2
constexpr int64_t kBlockRows = 512; // dW: the rows reduced before dW's tile goes back to memory

// R rows of h against one packed panel: logits[r][0:nj), K = c.
template <int R>
GPAS_AVX512_INLINE void logits_tile(const float* h, int64_t c, const float* panel, float* out, int64_t ldl,
                                    int64_t nj) {
  __m512 a[R][2];
  for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < c; ++k) {
    const __m512 w0 = _mm512_loadu_ps(panel + k * kPanel), w1 = _mm512_loadu_ps(panel + k * kPanel + 16);
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(h[r * c + k]);
      a[r][0] = _mm512_fmadd_ps(b, w0, a[r][0]);
      a[r][1] = _mm512_fmadd_ps(b, w1, a[r][1]);
    }
  }
  const __mmask16 m0 = nj >= 16 ? 0xffff : __mmask16((1u << nj) - 1);
  const __mmask16 m1 = nj >= 32 ? 0xffff : nj <= 16 ? 0 : __mmask16((1u << (nj - 16)) - 1);
  for (int r = 0; r < R; ++r) {
    _mm512_mask_storeu_ps(out + r * ldl, m0, a[r][0]);
    _mm512_mask_storeu_ps(out + r * ldl + 16, m1, a[r][1]);
  }
}

// dh and dW alike: R output rows of 64 columns, out[r] (+)= sum over k in [k0, k1) of
// g(r, k) * x[k * c : k * c + 64]. For dh (kDw false) g(r, k) is g[r * ldg + k] and x is W; for
// dW, g[k * ldg + r] (g's columns) and x is h, and g's rows are V floats apart: the hardware
// prefetcher does not follow them, so the next tiles' cache line is asked for with each row (past
// the row's end, or the buffer's on the last row, a prefetch does nothing: it never faults on x86).
template <int R, bool kDw>
GPAS_AVX512_INLINE void rank1_tile(const float* g, int64_t ldg, const float* x, int64_t c, int64_t k0, int64_t k1,
                                   float* out, bool first) {
  __m512 a[R][4];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) a[r][q] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(out + r * c + 16 * q);
  for (int64_t k = k0; k < k1; ++k) {
    const float* xk = x + k * c;
    const __m512 x0 = _mm512_loadu_ps(xk), x1 = _mm512_loadu_ps(xk + 16), x2 = _mm512_loadu_ps(xk + 32),
                 x3 = _mm512_loadu_ps(xk + 48);
    const float* gk = kDw ? g + k * ldg : g + k;
    if (kDw) _mm_prefetch(reinterpret_cast<const char*>(gk + 16), _MM_HINT_T0);
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(kDw ? gk[r] : gk[r * ldg]);
      a[r][0] = _mm512_fmadd_ps(b, x0, a[r][0]);
      a[r][1] = _mm512_fmadd_ps(b, x1, a[r][1]);
      a[r][2] = _mm512_fmadd_ps(b, x2, a[r][2]);
      a[r][3] = _mm512_fmadd_ps(b, x3, a[r][3]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) _mm512_storeu_ps(out + r * c + 16 * q, a[r][q]);
}

// The tile for `rows` (1..N) rows: one instantiation per count, chosen at run time.
template <int N, template <int> class Tile, class... A>
GPAS_AVX512_INLINE void tile_of(int64_t rows, A... a) {
  if constexpr (N > 0) {
    if (rows == N) return Tile<N>::run(a...);
    tile_of<N - 1, Tile>(rows, a...);
  }
}
template <int R> struct LogitsTile {
  GPAS_AVX512_INLINE static void run(const float* h, int64_t c, const float* p, float* o, int64_t ldl, int64_t nj) {
    logits_tile<R>(h, c, p, o, ldl, nj);
  }
};
template <int R> struct DhTile {
  GPAS_AVX512_INLINE static void run(const float* g, int64_t ldg, const float* w, int64_t c, int64_t k0, int64_t k1,
                                     float* dh, bool first) {
    rank1_tile<R, false>(g, ldg, w, c, k0, k1, dh, first);
  }
};
template <int R> struct DwTile {
  GPAS_AVX512_INLINE static void run(const float* g, int64_t ldg, const float* h, int64_t c, int64_t i0, int64_t i1,
                                     float* dw, bool first) {
    rank1_tile<R, true>(g, ldg, h, c, i0, i1, dw, first);
  }
};

GPAS_AVX512 void logits_avx512(const float* h, int64_t rows, int64_t c, const float* packed, int64_t v,
                               float* logits, int64_t ldl) {
  // A block of 12 rows against every panel in turn: the block's h stays in L1 (6 KiB at C = 128),
  // the panels (all of W^T: 8.2 MB at vocabulary 32000, C = 64) stream from L3, each logits row is
  // written in order.
  for (int64_t i = 0; i < rows; i += kLogitRows) {
    const int64_t n = std::min(kLogitRows, rows - i);
    for (int64_t j = 0; j < v; j += kPanel) {
      const int64_t nj = std::min(kPanel, v - j);
      const float* panel = packed + j * c;
      float* out = logits + i * ldl + j;
      if (n == kLogitRows) logits_tile<kLogitRows>(h + i * c, c, panel, out, ldl, nj);
      else tile_of<kLogitRows - 1, LogitsTile>(n, h + i * c, c, panel, out, ldl, nj);
    }
  }
}

GPAS_AVX512 void dh_avx512(const float* g, int64_t rows, int64_t v, int64_t ldg, const float* w, int64_t c,
                           float* dh) {
  for (int64_t k0 = 0; k0 < v; k0 += kBlockV) {
    const int64_t k1 = std::min(v, k0 + kBlockV);
    for (int64_t i = 0; i < rows; i += kRows) {
      const int64_t n = std::min(kRows, rows - i);
      for (int64_t q = 0; q < c; q += 64) {
        const float* gi = g + i * ldg;
        float* out = dh + i * c + q;
        if (n == kRows) DhTile<kRows>::run(gi, ldg, w + q, c, k0, k1, out, k0 == 0);
        else tile_of<kRows - 1, DhTile>(n, gi, ldg, w + q, c, k0, k1, out, k0 == 0);
      }
    }
  }
}

GPAS_AVX512 void dw_avx512(const float* g, int64_t rows, int64_t ldg, const float* h, int64_t c, int64_t j0,
                           int64_t j1, float* dw, bool accumulate) {
  for (int64_t i0 = 0; i0 < rows; i0 += kBlockRows) {
    const int64_t i1 = std::min(rows, i0 + kBlockRows);
    const bool first = i0 == 0 && !accumulate;
    for (int64_t j = j0; j < j1; j += kRows) {
      const int64_t n = std::min(kRows, j1 - j);
      for (int64_t q = 0; q < c; q += 64) {
        float* out = dw + j * c + q;
        if (n == kRows) DwTile<kRows>::run(g + j, ldg, h + q, c, i0, i1, out, first);
        else tile_of<kRows - 1, DwTile>(n, g + j, ldg, h + q, c, i0, i1, out, first);
      }
    }
  }
}

}  // namespace

bool head_gemm_available(int64_t c) {
  static const bool cpu = __builtin_cpu_supports("avx512f");  // the CPU and the OS's zmm state
  return cpu && (c == 64 || c == 128);
}

void head_logits(const float* h, int64_t rows, int64_t c, const float* packed, int64_t v, float* logits,
                 int64_t ldl) {
  logits_avx512(h, rows, c, packed, v, logits, ldl);
}

void head_dh(const float* g, int64_t rows, int64_t v, int64_t ldg, const float* w, int64_t c, float* dh) {
  dh_avx512(g, rows, v, ldg, w, c, dh);
}

void head_dw(const float* g, int64_t rows, int64_t ldg, const float* h, int64_t c, int64_t j0, int64_t j1,
             float* dw, bool accumulate) {
  dw_avx512(g, rows, ldg, h, c, j0, j1, dw, accumulate);
}

#else

bool head_gemm_available(int64_t) { return false; }
// Never called where head_gemm_available is false.
void head_logits(const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t) { std::abort(); }
void head_dh(const float*, int64_t, int64_t, int64_t, const float*, int64_t, float*) { std::abort(); }
void head_dw(const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float*, bool) { std::abort(); }

#endif

int64_t head_pack_panels(int64_t v) { return (v + kPanel - 1) / kPanel; }

size_t head_pack_floats(int64_t v, int64_t c) { return size_t(head_pack_panels(v) * kPanel * c); }

void head_pack(const float* w, int64_t v, int64_t c, int64_t p0, int64_t p1, float* packed) {
  for (int64_t p = p0; p < p1; ++p) {
    float* panel = packed + p * kPanel * c;
    for (int64_t jj = 0; jj < kPanel; ++jj) {
      const int64_t j = p * kPanel + jj;
      if (j < v)
        for (int64_t k = 0; k < c; ++k) panel[k * kPanel + jj] = w[j * c + k];
      else
        for (int64_t k = 0; k < c; ++k) panel[k * kPanel + jj] = 0.0f;
    }
  }
}

}  // namespace gpas
