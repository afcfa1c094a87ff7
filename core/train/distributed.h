// Data parallelism through PyTorch's distributed engine (c10d): Gloo for CPU ranks, NCCL for CUDA
// ranks (when LibTorch has it), both on one TCPStore rendezvous. Ranks come from the usual
// environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so torchrun-style
// launchers, srun and `gpas sweep run` all start ranks the same way. Bucketed gradient
// reduction during backward is grad_sync.h's; this file only moves tensors.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace gpas {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual int local_rank() const = 0;
  virtual std::string backend() const = 0;  // single | gloo | nccl
  // In-place sum across ranks, blocking; packed into one fp64 buffer, so counts and sums are
  // exact (no-op with one rank).
  virtual void allreduce_sum(std::vector<torch::Tensor>& tensors) = 0;
  // Starts an in-place sum of one contiguous tensor across ranks and returns a function that
  // waits for it. NCCL works on the device's stream; Gloo on its own threads.
  virtual std::function<void()> allreduce_async(torch::Tensor flat) = 0;
  virtual void barrier() = 0;
};

// One rank, no communication.
std::unique_ptr<Collective> make_single_process();
// Reads the environment; WORLD_SIZE unset or 1 gives the single-process collective. A CUDA
// `device` uses NCCL where this LibTorch has it. GPAS_DIST_BACKEND=gloo|nccl names the backend,
// and with it even one rank runs in a c10d group of one (tests, a one-GPU NCCL check).
std::unique_ptr<Collective> make_collective_from_env(const torch::Device& device);

}  // namespace gpas
