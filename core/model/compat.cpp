#include "core/model/compat.h"

#include <stdexcept>

#include <ATen/autocast_mode.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef GPAS_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace gpas::compat {

torch::Tensor causal_sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                          /*is_causal=*/true);
#else
  return std::get<0>(at::_scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                       /*need_attn_weights=*/false,
                                                       /*is_causal=*/true));
#endif
}

void set_bf16_autocast(const torch::Device& device, bool enabled) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(device.type(), enabled);
  at::autocast::set_autocast_dtype(device.type(), at::kBFloat16);
#else
  if (device.is_cuda()) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
#endif
  if (!enabled) at::autocast::clear_cache();
}

int64_t cuda_peak_allocated(int device) {
#ifdef GPAS_WITH_CUDA
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  return stats.allocated_bytes[0].peak;  // [0]: StatType::AGGREGATE (its namespace moved in 2.5)
#else
  (void)device;
  return -1;
#endif
}

void cuda_reset_peak(int device) {
#ifdef GPAS_WITH_CUDA
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
#else
  (void)device;
#endif
}

bool has_fused_adam(const torch::Device& device) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return device.is_cuda() || device.is_cpu();
#elif TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1  // _fused_adamw_ came in 2.1
  return device.is_cuda();
#else
  (void)device;
  return false;
#endif
}

void fused_adam(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
                const std::vector<torch::Tensor>& exp_avgs,
                const std::vector<torch::Tensor>& exp_avg_sqs, const torch::Tensor& step, double lr,
                double beta1, double beta2, double weight_decay, double eps, bool decoupled) {
  if (params.empty()) return;
  if (!has_fused_adam(params.front().device()))
    throw std::logic_error("compat::fused_adam: no fused Adam kernel for " +
                           params.front().device().str() + " in this LibTorch");
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  // The kernel reads one step count per tensor (it never writes them): one tensor serves them all.
  const std::vector<torch::Tensor> steps(params.size(), step);
  if (decoupled)
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1,
                      beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
  else
    at::_fused_adam_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1,
                     beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
#else
  (void)grads, (void)exp_avgs, (void)exp_avg_sqs, (void)step, (void)lr, (void)beta1, (void)beta2,
      (void)weight_decay, (void)eps, (void)decoupled;
#endif
}

c10::intrusive_ptr<c10d::Store> make_tcp_store(const std::string& host, int port, bool is_server,
                                               int workers, std::chrono::seconds timeout) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(port);
  so.isServer = is_server;
  so.numWorkers = workers;
  so.timeout = timeout;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  so.useLibUV = false;
#endif
  return c10::make_intrusive<c10d::TCPStore>(host, so);
}

}  // namespace gpas::compat
