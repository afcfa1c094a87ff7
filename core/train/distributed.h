// Data parallelism through PyTorch's distributed engine (c10d): Gloo on the CPU, NCCL on GPUs.
// Ranks come from the usual environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT),
// so torchrun-style launchers, srun and `gpas sweep run` all start ranks the same way.
#pragma once
#include <memory>
#include <vector>

#include <torch/torch.h>

namespace gpas {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual int local_rank() const = 0;
  // In-place sum across ranks (no-op with one rank).
  virtual void allreduce_sum(std::vector<torch::Tensor>& tensors) = 0;
  virtual void barrier() = 0;
};

// One rank, no communication.
std::unique_ptr<Collective> make_single_process();
// Reads the environment; WORLD_SIZE unset or 1 gives the single-process collective.
std::unique_ptr<Collective> make_collective_from_env(const torch::Device& device);

}  // namespace gpas
