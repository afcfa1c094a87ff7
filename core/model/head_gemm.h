// The LM head's three matrix products for fp32 on an x86 CPU with AVX-512, at the shapes the
// chunked loss gives them: hidden size C of 64 or 128 (tiny and 16 x 64: 64, 9m: 128; larger
// sizes are not measured and keep ATen's), vocabulary V of thousands, a chunk of rows. OpenBLAS
// runs these at 74-96 GFLOP/s on one Zen 4 thread (`gpas bench head`) against ~100 for a square
// product: with K = 64 its packing is a large share of the work, and for dW it reads G's columns at
// a stride of V floats. Here nothing is packed but W^T, once per call, and each tile keeps its
// accumulators in registers through the reduction (or a block of 512 of it, in a fixed order):
//   logits = h W^T   12 rows x 32 vocabulary columns a tile, K = C
//   dh     = G W     6 rows x 64 hidden columns a tile, K = V in blocks of 512
//   dW     = G^T h   6 vocabulary rows x 64 hidden columns a tile, K = rows, G's next line prefetched
// Each output element is one fixed sequence of FMAs, whatever the thread count or tile: results
// repeat to the bit. No LibTorch here; the caller splits the rows (or dW's rows) across threads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace gpas {

// Whether these kernels run here for hidden size c: an x86 CPU with AVX-512F, c 64 or 128.
bool head_gemm_available(int64_t c);

// W (v x c, row-major) as W^T in panels of 32 vocabulary columns (the last one zero-padded):
// head_pack_floats(v, c) floats. head_pack writes panels [p0, p1) of head_pack_panels(v), so
// threads can share the work.
int64_t head_pack_panels(int64_t v);
size_t head_pack_floats(int64_t v, int64_t c);
void head_pack(const float* w, int64_t v, int64_t c, int64_t p0, int64_t p1, float* packed);

// logits (rows x v, row stride ldl) = h (rows x c) W^T, W given packed.
void head_logits(const float* h, int64_t rows, int64_t c, const float* packed, int64_t v, float* logits,
                 int64_t ldl);

// dh (rows x c) = g (rows x v, row stride ldg) W (v x c).
void head_dh(const float* g, int64_t rows, int64_t v, int64_t ldg, const float* w, int64_t c, float* dh);

// dW's rows [j0, j1) (v x c) = (accumulate ? dW + : ) g[:, j0:j1]^T h; g is rows x ldg, h rows x c.
void head_dw(const float* g, int64_t rows, int64_t ldg, const float* h, int64_t c, int64_t j0, int64_t j1,
             float* dw, bool accumulate);

}  // namespace gpas
