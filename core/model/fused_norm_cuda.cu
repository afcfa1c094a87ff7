// add_gpas_rmsnorm's kernels (fused_norm.h has the formulas). One row of C values per block
// iteration, the grid striding over rows; every rounding is where the unfused ATen ops round
// (to T after each op in T, fp32 inside the norm), so the two paths differ only in the order
// of the fp32 sums. Nothing synchronises with the host: s is read on the device, and the
// backward's per-block partial sums of dw and ds are reduced by ATen on the same stream.
#include "core/model/fused_norm_cuda.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace gpas::cuda {

namespace {

// The sum of v over the block (blockDim.x a multiple of 32, at most 1024), in every thread.
__device__ float block_sum(float v, float* shared /* 32 floats */) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? shared[lane] : 0.f;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  v = shared[0];
  __syncthreads();  // shared is reused by the next call
  return v;
}

// x' from y: y - round(s y) with stopgrad, y round(1 - s) without (in T, as gpas_scale).
template <typename T>
__device__ float gpas_value(float y, float sd, float one_minus, bool stopgrad) {
  return stopgrad ? float(T(y - float(T(sd * y)))) : float(T(y * one_minus));
}

template <typename T, typename W, typename O>
__global__ void forward_kernel(const T* __restrict__ x, const T* __restrict__ o,
                               const float* __restrict__ s, bool stopgrad,
                               const W* __restrict__ w, float eps, int64_t rows, int C,
                               T* __restrict__ y_out, T* __restrict__ xp_out,
                               O* __restrict__ n_out, float* __restrict__ rstd_out) {
  __shared__ float red[32];
  const float sd = s ? float(T(*s)) : 0.f;
  const float one_minus = float(T(1.f - sd));
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * C;
    float sq = 0.f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      const float y = float(T(float(x[base + c]) + float(o[base + c])));
      float xp = y;
      if (s) {
        xp = gpas_value<T>(y, sd, one_minus, stopgrad);
        y_out[base + c] = T(y);
      }
      xp_out[base + c] = T(xp);
      sq += xp * xp;
    }
    const float rstd = rsqrtf(block_sum(sq, red) / float(C) + eps);
    if (threadIdx.x == 0) rstd_out[r] = rstd;
    for (int c = threadIdx.x; c < C; c += blockDim.x)  // this thread wrote these x' values
      n_out[base + c] = O(float(w[c]) * float(T(float(xp_out[base + c]) * rstd)));
  }
}

// gw_part (gridDim.x, C): this block's sum of dn * xhat over its rows; gs_part (gridDim.x): its
// sum of dx' * y (null unless ds is wanted). Each thread owns columns c = threadIdx.x + k blockDim.
template <typename T, typename W, typename O>
__global__ void backward_kernel(const T* __restrict__ gxp, const O* __restrict__ gn,
                                const T* __restrict__ y, const T* __restrict__ xp,
                                const float* __restrict__ rstd, const W* __restrict__ w,
                                const float* __restrict__ s, bool stopgrad, int64_t rows, int C,
                                T* __restrict__ g_out, float* __restrict__ gw_part,
                                float* __restrict__ gs_part) {
  __shared__ float red[32];
  extern __shared__ float gw_acc[];  // (C)
  for (int c = threadIdx.x; c < C; c += blockDim.x) gw_acc[c] = 0.f;
  const float sd = s ? float(T(*s)) : 0.f;
  const float one_minus = float(T(1.f - sd));
  float gs_acc = 0.f;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * C;
    const float rs = rstd[r];
    float dot = 0.f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      const float xh = float(xp[base + c]) * rs;
      const float gxh = float(T(float(O(float(gn[base + c]) * float(w[c])))));
      dot += gxh * xh;
    }
    const float mean_dot = block_sum(dot, red) / float(C);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      const float xh = float(xp[base + c]) * rs;
      const float gnf = float(gn[base + c]);
      const float gxh = float(T(float(O(gnf * float(w[c])))));
      gw_acc[c] += float(O(gnf * float(T(xh))));
      float g = float(T(rs * (gxh - xh * mean_dot)));
      if (gxp) g = float(T(g + float(gxp[base + c])));
      if (gs_part) gs_acc += g * float(y[base + c]);
      g_out[base + c] = (s && !stopgrad) ? T(g * one_minus) : T(g);
    }
  }
  for (int c = threadIdx.x; c < C; c += blockDim.x) gw_part[int64_t(blockIdx.x) * C + c] = gw_acc[c];
  if (gs_part) {
    gs_acc = block_sum(gs_acc, red);
    if (threadIdx.x == 0) gs_part[blockIdx.x] = gs_acc;
  }
}

// Threads per block: about 4 values per thread, a multiple of 32, 32..256.
int threads_for(int64_t C) {
  int64_t t = ((C + 3) / 4 + 31) / 32 * 32;
  return int(std::clamp<int64_t>(t, 32, 256));
}

int blocks_for(int64_t rows, int threads) {
  const int sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return int(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(sms) * (2048 / threads))));
}

// Calls f.template operator()<T, W, O>() for the dtypes of x and w (w: T or fp32).
template <typename F>
void dispatch(const at::Tensor& x, const at::Tensor& w, F&& f) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "fused_norm", [&] {
    using T = scalar_t;
    if (w.scalar_type() == at::kFloat) f(T(), float(), float());
    else { TORCH_CHECK(w.scalar_type() == x.scalar_type(), "fused_norm: weight dtype"); f(T(), T(), T()); }
  });
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> fused_norm_forward(
    const at::Tensor& x, const at::Tensor& o, const at::Tensor& s, bool stopgrad,
    const at::Tensor& w, double eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t C = x.size(-1), rows = x.numel() / C;
  at::Tensor y = s.defined() ? at::empty_like(x) : at::Tensor();
  at::Tensor xp = at::empty_like(x);
  at::Tensor n = at::empty_like(x, x.options().dtype(at::result_type(w, x)));
  auto shape = x.sizes().vec();  // rstd: (..., 1)
  shape.back() = 1;
  at::Tensor rstd = at::empty(shape, x.options().dtype(at::kFloat));
  if (rows == 0) return {y, xp, n, rstd};
  const int threads = threads_for(C), blocks = blocks_for(rows, threads);
  auto stream = at::cuda::getCurrentCUDAStream();
  dispatch(x, w, [&](auto t, auto wt, auto ot) {
    using T = decltype(t);
    using W = decltype(wt);
    using O = std::conditional_t<std::is_same_v<W, float>, float, T>;
    forward_kernel<T, W, O><<<blocks, threads, 0, stream>>>(
        x.data_ptr<T>(), o.data_ptr<T>(), s.defined() ? s.data_ptr<float>() : nullptr, stopgrad,
        w.data_ptr<W>(), float(eps), rows, int(C), y.defined() ? y.data_ptr<T>() : nullptr,
        xp.data_ptr<T>(), n.data_ptr<O>(), rstd.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {y, xp, n, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_norm_backward(
    const at::Tensor& gxp, const at::Tensor& gn, const at::Tensor& y, const at::Tensor& xp,
    const at::Tensor& rstd, const at::Tensor& w, const at::Tensor& s, bool stopgrad, bool want_gs) {
  const c10::cuda::CUDAGuard guard(xp.device());
  const int64_t C = xp.size(-1), rows = xp.numel() / C;
  at::Tensor g = at::empty_like(xp);
  const int threads = threads_for(C), blocks = blocks_for(rows, threads);
  at::Tensor gw_part = at::empty({blocks, C}, xp.options().dtype(at::kFloat));
  at::Tensor gs_part = want_gs ? at::empty({blocks}, xp.options().dtype(at::kFloat)) : at::Tensor();
  if (rows == 0)
    return {g, at::zeros_like(w), want_gs ? at::zeros({}, xp.options().dtype(at::kFloat)) : at::Tensor()};
  auto stream = at::cuda::getCurrentCUDAStream();
  dispatch(xp, w, [&](auto t, auto wt, auto ot) {
    using T = decltype(t);
    using W = decltype(wt);
    using O = std::conditional_t<std::is_same_v<W, float>, float, T>;
    backward_kernel<T, W, O><<<blocks, threads, size_t(C) * sizeof(float), stream>>>(
        gxp.defined() ? gxp.data_ptr<T>() : nullptr, gn.data_ptr<O>(), y.data_ptr<T>(),
        xp.data_ptr<T>(), rstd.data_ptr<float>(), w.data_ptr<W>(),
        s.defined() ? s.data_ptr<float>() : nullptr, stopgrad, rows, int(C), g.data_ptr<T>(),
        gw_part.data_ptr<float>(), want_gs ? gs_part.data_ptr<float>() : nullptr);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  at::Tensor gw = gw_part.sum(0).to(w.scalar_type());
  at::Tensor gs = want_gs ? gs_part.sum().neg() : at::Tensor();
  return {g, gw, gs};
}

}  // namespace gpas::cuda
