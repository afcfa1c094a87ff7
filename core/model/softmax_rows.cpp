// The row kernel in AVX2 + FMA (avx2.h), chosen at run time.
#include "core/model/softmax_rows.h"

#include "core/model/avx2.h"

namespace gpas {

#ifdef GPAS_HAVE_AVX2_KERNELS

namespace {

using namespace avx2;

GPAS_AVX2 void rows_avx2(float* x, int64_t rows, int64_t v, const int64_t* targets, float* loss, bool grad) {
  const int64_t vv = v / 8 * 8;
  for (int64_t i = 0; i < rows; ++i) {
    float* row = x + i * v;
    const float m = max_row(row, v);
    const float picked = row[targets[i]] - m;
    const float s = exp_row(row, v, m);
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

bool softmax_xent_rows_available() { return available(); }

void softmax_xent_rows(float* x, int64_t rows, int64_t v, const int64_t* targets, float* loss, bool grad) {
  rows_avx2(x, rows, v, targets, loss, grad);
}

#else

bool softmax_xent_rows_available() { return false; }
void softmax_xent_rows(float*, int64_t, int64_t, const int64_t*, float*, bool) {}

#endif

}  // namespace gpas
