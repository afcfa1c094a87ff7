// Each head's products are small (T x T x D, T and D a few dozen), too small for BLAS calls to
// pay off one by one: they are done here in register tiles of up to 4 rows x 16 columns, over
// copies of the head padded to Dp = D rounded up to 16 (zeros in the padding) and score rows of
// Tp = T rounded up to 16 floats, so that every tile loads and stores whole vectors. Causal
// products skip the tiles above the diagonal. The exp is avx2.h's.
#include "core/model/attention_cpu.h"

#include <type_traits>
#include <vector>

#include "core/model/avx2.h"

namespace gpas {

#ifdef GPAS_HAVE_AVX2_KERNELS

namespace {

using namespace avx2;

int64_t round16(int64_t n) { return attention_p_cols(n); }

// dst row t (Dp floats, zero past D) = rope(src row t): x * cos + rotate_half(x) * sin, with
// rotate_half(x) = (-x[D/2:], x[:D/2]) (layers.cpp's apply_rope), times scale.
GPAS_AVX2_INLINE void rope_rows(const float* src, int64_t stride, const AttentionHead& h, float scale,
                                float* dst, int64_t Dp) {
  const int64_t D = h.D, half = D / 2;
  for (int64_t t = 0; t < h.T; ++t) {
    const float* x = src + t * stride;
    const float *c = h.cos + t * D, *s = h.sin + t * D;
    float* y = dst + t * Dp;
    for (int64_t d = 0; d < half; ++d) y[d] = (x[d] * c[d] - x[d + half] * s[d]) * scale;
    for (int64_t d = half; d < D; ++d) y[d] = (x[d] * c[d] + x[d - half] * s[d]) * scale;
    for (int64_t d = D; d < Dp; ++d) y[d] = 0.0f;
  }
}

// The transpose of rope: dst row t (at dst + t * stride, D floats) = the gradient of x from
// g row t (Dp floats).
GPAS_AVX2_INLINE void unrope_rows(const float* g, int64_t Dp, const AttentionHead& h, float* dst,
                                  int64_t stride) {
  const int64_t D = h.D, half = D / 2;
  for (int64_t t = 0; t < h.T; ++t) {
    const float* dy = g + t * Dp;
    const float *c = h.cos + t * D, *s = h.sin + t * D;
    float* dx = dst + t * stride;
    for (int64_t d = 0; d < half; ++d) dx[d] = dy[d] * c[d] + dy[d + half] * s[d + half];
    for (int64_t d = half; d < D; ++d) dx[d] = dy[d] * c[d] - dy[d - half] * s[d - half];
  }
}

// Copy T rows of D floats (row stride `stride`) into rows of Dp floats, zero past D.
GPAS_AVX2_INLINE void pad_rows(const float* src, int64_t stride, int64_t T, int64_t D, float* dst, int64_t Dp) {
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t d = 0; d < D; ++d) dst[t * Dp + d] = src[t * stride + d];
    for (int64_t d = D; d < Dp; ++d) dst[t * Dp + d] = 0.0f;
  }
}

// bT (Dp x Tp) = the transpose of b (T rows of Dp floats), zero in columns T..Tp-1.
GPAS_AVX2_INLINE void transpose(const float* b, int64_t T, int64_t Dp, int64_t Tp, float* bT) {
  for (int64_t d = 0; d < Dp; ++d) {
    for (int64_t t = 0; t < T; ++t) bT[d * Tp + t] = b[t * Dp + d];
    for (int64_t t = T; t < Tp; ++t) bT[d * Tp + t] = 0.0f;
  }
}

// The tiles are up to 4 rows x 16 columns (two vectors): per step of the inner loop two vector
// loads and four broadcasts feed eight FMAs, so the loop waits on the FMA units, not on loads.

// Rows i0..i0+R-1 of c (row stride Tp) = a (those rows, Dp floats each) x bT (Dp x Tp), for the
// columns 0..round16(i0 + R) - 1: every column a causal row among them needs.
template <int R>
GPAS_AVX2_INLINE void rows_times_bT(const float* a, int64_t Dp, const float* bT, int64_t Tp, int64_t i0,
                                    float* c) {
  const int64_t cols = round16(i0 + R);
  for (int64_t j = 0; j < cols; j += 16) {
    V8 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = splat(0.0f);
    for (int64_t d = 0; d < Dp; ++d) {
      const V8 b0 = load(bT + d * Tp + j), b1 = load(bT + d * Tp + j + 8);
      for (int r = 0; r < R; ++r) {
        const V8 ar = splat(a[(i0 + r) * Dp + d]);
        acc[r][0] += ar * b0;
        acc[r][1] += ar * b1;
      }
    }
    for (int r = 0; r < R; ++r) {
      store(c + (i0 + r) * Tp + j, acc[r][0]);
      store(c + (i0 + r) * Tp + j + 8, acc[r][1]);
    }
  }
}

// Rows i0..i0+R-1 of c (Dp floats each) = sum over j of w(i, j) b[j] for j in [j_begin, j_end)
// (b: rows of Dp floats), w(i, j) = a[i * a_row + j * a_col]: a lower-triangular a times b
// (a_row = Tp, a_col = 1, j < i0 + R), or its transpose times b (a_row = 1, a_col = Tp, j >= i0).
template <int R>
GPAS_AVX2_INLINE void weighted_rows(const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t Dp,
                                    int64_t i0, int64_t j_begin, int64_t j_end, float* c) {
  for (int64_t d = 0; d < Dp; d += 16) {
    V8 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = splat(0.0f);
    for (int64_t j = j_begin; j < j_end; ++j) {
      const V8 b0 = load(b + j * Dp + d), b1 = load(b + j * Dp + d + 8);
      for (int r = 0; r < R; ++r) {
        const V8 w = splat(a[(i0 + r) * a_row + j * a_col]);
        acc[r][0] += w * b0;
        acc[r][1] += w * b1;
      }
    }
    for (int r = 0; r < R; ++r) {
      store(c + (i0 + r) * Dp + d, acc[r][0]);
      store(c + (i0 + r) * Dp + d + 8, acc[r][1]);
    }
  }
}

// Rows i0.. of c = sum over j <= i of a[i][j] b[j] (a: rows of Tp floats, zero after the diagonal).
template <int R>
GPAS_AVX2_INLINE void lower_times_b(const float* a, int64_t Tp, const float* b, int64_t Dp, int64_t i0,
                                    float* c) {
  weighted_rows<R>(a, Tp, 1, b, Dp, i0, 0, i0 + R, c);
}

// Rows j0.. of c = sum over i >= j of a[i][j] b[i]: the transpose of a lower-triangular a times b.
template <int R>
GPAS_AVX2_INLINE void lowerT_times_b(const float* a, int64_t Tp, const float* b, int64_t Dp, int64_t T,
                                     int64_t j0, float* c) {
  weighted_rows<R>(a, 1, Tp, b, Dp, j0, j0, T, c);
}

// fn<R>(i0) over the rows 0..T-1 in blocks of 4 and the 1-3 left over.
template <class Fn>
GPAS_AVX2_INLINE void row_blocks(int64_t T, const Fn& fn) {
  int64_t i = 0;
  for (; i + 4 <= T; i += 4) fn(std::integral_constant<int, 4>{}, i);
  switch (T - i) {
    case 3: fn(std::integral_constant<int, 3>{}, i); break;
    case 2: fn(std::integral_constant<int, 2>{}, i); break;
    case 1: fn(std::integral_constant<int, 1>{}, i); break;
    default: break;
  }
}

GPAS_AVX2 void forward_avx2(const AttentionHead& h, float* out, int64_t out_stride, float* p) {
  const int64_t T = h.T, D = h.D, Dp = round16(D), Tp = round16(T);
  std::vector<float> buf(3 * T * Dp + Dp * Tp);
  float *qr = buf.data(), *kr = qr + T * Dp, *v = kr + T * Dp, *kT = v + T * Dp;
  rope_rows(h.q, h.q_stride, h, h.scale, qr, Dp);
  rope_rows(h.k, h.k_stride, h, 1.0f, kr, Dp);
  pad_rows(h.v, h.v_stride, T, D, v, Dp);
  transpose(kr, T, Dp, Tp, kT);
  row_blocks(T, [&](auto R, int64_t i0) GPAS_AVX2_LAMBDA { rows_times_bT<R>(qr, Dp, kT, Tp, i0, p); });
  for (int64_t t = 0; t < T; ++t) {  // softmax over keys 0..t, zero after
    float* row = p + t * Tp;
    const int64_t n = t + 1;
    const float inv = 1.0f / exp_row(row, n, max_row(row, n));
    for (int64_t j = 0; j < n; ++j) row[j] *= inv;
    for (int64_t j = n; j < Tp; ++j) row[j] = 0.0f;
  }
  float* o = kr;  // kr is done with: the output rows, Dp floats each
  row_blocks(T, [&](auto R, int64_t i0) GPAS_AVX2_LAMBDA { lower_times_b<R>(p, Tp, v, Dp, i0, o); });
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) out[t * out_stride + d] = o[t * Dp + d];
}

GPAS_AVX2 void backward_avx2(const AttentionHead& h, const float* p, const float* dout,
                             int64_t dout_stride, float* dq, float* dk, float* dv, int64_t d_stride) {
  const int64_t T = h.T, D = h.D, Dp = round16(D), Tp = round16(T);
  std::vector<float> buf(5 * T * Dp + Dp * Tp + T * Tp);
  float *qr = buf.data(), *kr = qr + T * Dp, *g = kr + T * Dp, *gq = g + T * Dp, *gk = gq + T * Dp;
  float *vT = gk + T * Dp, *ds = vT + Dp * Tp;
  rope_rows(h.q, h.q_stride, h, 1.0f, qr, Dp);
  rope_rows(h.k, h.k_stride, h, 1.0f, kr, Dp);
  pad_rows(dout, dout_stride, T, D, g, Dp);
  pad_rows(h.v, h.v_stride, T, D, gq, Dp);  // v, padded, for the moment
  transpose(gq, T, Dp, Tp, vT);
  // dv = p^T g, written straight into gk's space and copied out.
  row_blocks(T, [&](auto R, int64_t j0) GPAS_AVX2_LAMBDA { lowerT_times_b<R>(p, Tp, g, Dp, T, j0, gk); });
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) dv[t * d_stride + d] = gk[t * Dp + d];
  // dp = g v^T, then the softmax's backward: ds = p * (dp - sum_j p dp) * scale.
  row_blocks(T, [&](auto R, int64_t i0) GPAS_AVX2_LAMBDA { rows_times_bT<R>(g, Dp, vT, Tp, i0, ds); });
  for (int64_t t = 0; t < T; ++t) {
    const float* pt = p + t * Tp;
    float* row = ds + t * Tp;
    const int64_t n = t + 1;
    float c = 0.0f;
    for (int64_t j = 0; j < n; ++j) c += pt[j] * row[j];
    for (int64_t j = 0; j < n; ++j) row[j] = pt[j] * (row[j] - c) * h.scale;
    for (int64_t j = n; j < Tp; ++j) row[j] = 0.0f;
  }
  // dq = ds k, dk = ds^T q.
  row_blocks(T, [&](auto R, int64_t i0) GPAS_AVX2_LAMBDA { lower_times_b<R>(ds, Tp, kr, Dp, i0, gq); });
  row_blocks(T, [&](auto R, int64_t j0) GPAS_AVX2_LAMBDA { lowerT_times_b<R>(ds, Tp, qr, Dp, T, j0, gk); });
  unrope_rows(gq, Dp, h, dq, d_stride);
  unrope_rows(gk, Dp, h, dk, d_stride);
}

}  // namespace

bool attention_cpu_available() { return available(); }

void attention_head_forward(const AttentionHead& h, float* out, int64_t out_stride, float* p) {
  forward_avx2(h, out, out_stride, p);
}

void attention_head_backward(const AttentionHead& h, const float* p, const float* dout,
                             int64_t dout_stride, float* dq, float* dk, float* dv, int64_t d_stride) {
  backward_avx2(h, p, dout, dout_stride, dq, dk, dv, d_stride);
}

#else

bool attention_cpu_available() { return false; }
void attention_head_forward(const AttentionHead&, float*, int64_t, float*) {}
void attention_head_backward(const AttentionHead&, const float*, const float*, int64_t, float*, float*,
                             float*, int64_t) {}

#endif

}  // namespace gpas
