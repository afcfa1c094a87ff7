// The one place that knows which LibTorch it is built against (Debian's 1.13 CPU, or 2.x with
// CUDA on GPU hosts). Everything version-specific goes through these few functions.
#pragma once
#include <chrono>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace c10d {
class Store;
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace gpas::compat {

// Causal scaled-dot-product attention, q/k/v (B, H, T, D) -> (B, H, T, D). Uses LibTorch's fused
// kernel where the version has one (flash / memory-efficient on the GPU in 2.x).
torch::Tensor causal_sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// Turns bf16 autocast on/off for the device type of `device` (bf16-mixed precision).
void set_bf16_autocast(const torch::Device& device, bool enabled);

// The class c10d's Gloo and NCCL groups derive from: ProcessGroup in 1.13, Backend in 2.x.
#if TORCH_VERSION_MAJOR >= 2
using ProcessGroupBase = c10d::Backend;
#else
using ProcessGroupBase = c10d::ProcessGroup;
#endif

// Peak bytes the CUDA caching allocator has handed out on `device` since the last reset (-1 without
// CUDA), and the reset.
int64_t cuda_peak_allocated(int device);
void cuda_reset_peak(int device);

// c10d's TCPStore for a rendezvous (rank 0 serves). Debian's 2.x build has no libuv, which 2.4+
// asks for by default: the classic server is used on every version.
c10::intrusive_ptr<c10d::Store> make_tcp_store(const std::string& host, int port, bool is_server,
                                               int workers, std::chrono::seconds timeout);

// LibTorch's fused Adam step (at::_fused_adam_ / _fused_adamw_: one kernel over a list of tensors)
// where the version has one for tensors on `device`: CUDA from 2.1, the CPU from 2.4; never in 1.13.
bool has_fused_adam(const torch::Device& device);

// One fused Adam update of params from grads, exp_avgs and exp_avg_sqs in place: torch::optim::Adam's
// arithmetic, with weight_decay as L2 (added to the gradient) or, decoupled, p *= 1 - lr * wd before
// the update (torch's AdamW). All tensors contiguous, of one device (has_fused_adam) and one
// floating dtype; step: a float32 scalar on that device, the step count after this update's
// increment (the kernel reads it; as PyTorch's own Adam, the caller increments). Throws where
// has_fused_adam is false.
void fused_adam(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
                const std::vector<torch::Tensor>& exp_avgs,
                const std::vector<torch::Tensor>& exp_avg_sqs, const torch::Tensor& step, double lr,
                double beta1, double beta2, double weight_decay, double eps, bool decoupled);


// The key of a parameter in torch::optim::Optimizer::state(): its TensorImpl's address printed as a
// string in 1.13 (c10::guts::to_string, gone in 2.6), the address itself (void*) in 2.6. The key
// type is read from the map, so no version number is guessed.
using OptimizerStateKey =
    std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;
namespace detail {
inline std::string state_key(c10::TensorImpl* p, std::string*) {
  std::ostringstream os;
  os << p;
  return os.str();
}
inline void* state_key(c10::TensorImpl* p, void**) { return p; }
}  // namespace detail
inline OptimizerStateKey optimizer_state_key(const torch::Tensor& p) {
  return detail::state_key(p.unsafeGetTensorImpl(), static_cast<OptimizerStateKey*>(nullptr));
}

}  // namespace gpas::compat
