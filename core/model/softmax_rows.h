// The chunked loss's row kernel for fp32 on an x86 CPU with AVX2 and FMA: for each row of logits
// (in cache), its max, exp(x - max) and their sum, the row's loss log(sum) - (x_t - max), and
// the softmax minus the one-hot written over the row: three passes and one exp per logit, where
// ATen's ops take five passes. No LibTorch here; the caller splits rows across threads.
#pragma once
#include <cstdint>

namespace gpas {

// Whether softmax_xent_rows can run here (an x86 CPU with AVX2 and FMA).
bool softmax_xent_rows_available();

// x: rows x v, row-major (stride v); targets: rows, each in [0, v); loss: rows (out).
// grad: overwrite x with softmax(x) - onehot(target); else x holds exp(x - max) after.
void softmax_xent_rows(float* x, int64_t rows, int64_t v, const int64_t* targets, float* loss, bool grad);

}  // namespace gpas
