// One optimizer update, the function the trainer and `gpas bench train` share: forward and
// backward over the update's micro-batches, the gradient reduction across ranks (overlapped with
// backward, grad_sync.h), clipping, the step's learning rate and Adam. Nothing here waits for the
// device: the loss, token count, gradient norm and stop votes come back as device scalars that
// the caller reads only when it logs. Not here: data, schedules of logging, checkpoints, journals.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/data/batch.h"
#include "core/model/model.h"
#include "core/train/distributed.h"
#include "core/train/grad_sync.h"

namespace gpas {

// A micro-batch on the device: (B, T) int64 inputs and targets (-1 = not in the loss).
struct DeviceBatch {
  torch::Tensor inputs, targets;
  int64_t loss_tokens = 0;  // known on the host, so counting needs no sync
};
// Copies a host micro-batch to `device`: through pinned memory and non-blocking on CUDA, so the
// copy of the next step's batch overlaps this step's compute.
DeviceBatch to_device(const TokenBatch& b, const torch::Device& device);

struct StepOptions {
  bool probe = false;          // activation variances of the first micro-batch (model->probe)
  bool stop_vote = false;      // this rank saw a stop signal (summed with the gradients)
  bool need_grad_norm = false; // compute the norm even when nothing is clipped
  std::function<void()> after_reduce;  // gradients final, not yet clipped (gradient probes)
};

struct StepResult {
  torch::Tensor loss_sum;    // () fp32: summed token loss of all ranks
  torch::Tensor tokens;      // () fp32: loss tokens of all ranks
  torch::Tensor grad_norm;   // () fp32: before clipping; undefined unless needed
  torch::Tensor stop_votes;  // () fp32: ranks that voted to stop; undefined with one rank
};

class TrainStep {
 public:
  TrainStep(Transformer& model, const TrainConfig& cfg, Collective& coll);
  torch::optim::Adam& optimizer() { return *opt_; }
  const std::vector<torch::Tensor>& trainable() const { return trainable_; }
  // Gradient buckets, and how many of them the last update sent while backward still ran.
  int grad_buckets() const { return sync_ ? sync_->buckets() : 0; }
  int buckets_overlapped() const { return sync_ ? sync_->launched_during_backward() : 0; }
  // Runs update `step` (0-based; its learning rate is lr_at(step)) on `micro`: accumulation
  // over the micro-batches, one reduction, clipping, Adam.
  StepResult run(int64_t step, std::vector<DeviceBatch>& micro, const StepOptions& o = {});

 private:
  Transformer model_;
  TrainConfig cfg_;
  Collective& coll_;
  std::vector<torch::Tensor> trainable_, gates_;
  std::unique_ptr<torch::optim::Adam> opt_;
  std::unique_ptr<GradSync> sync_;  // only in a c10d group
};

// How many shards of rows a batch of `rows` runs in, side by side, one per thread, each shard's
// kernels single-threaded: torch's intra-op thread count on the CPU where every thread gets a row
// and there are at most kMaxCpuShards threads, else 1 (the kernels share the threads out). Each
// shard holds its own gradients until they are added: (shards - 1) x the parameters' size more
// memory, hence the cap. On the 2-core EPYC two shards ran 1.12-1.66x the tokens/s of one graph
// on two threads (README, Speed); more threads are not measured. The bits depend on the count.
constexpr int64_t kMaxCpuShards = 8;
int64_t cpu_shards(const torch::Device& device, int64_t rows);
// Runs run(s, r0, r1) for each shard s in [0, shards) of `rows` rows ([r0, r1): shard s's rows)
// in one parallel region, each with the caller's thread-local state (grad mode, autocast,
// inference mode, profiler): at::parallel_for alone does not carry it.
void parallel_shards(int64_t rows, int64_t shards,
                     const std::function<void(int64_t s, int64_t r0, int64_t r1)>& run);

// The global L2 norm of the gradients of `params`, as a device scalar (fp32).
torch::Tensor grad_norm_tensor(const std::vector<torch::Tensor>& params);
// Scales the gradients so that their norm `norm` becomes at most max_norm (torch's
// clip_grad_norm_ rule, coefficient max_norm / (norm + 1e-6)), on the device.
void clip_to(const std::vector<torch::Tensor>& params, const torch::Tensor& norm, double max_norm);

}  // namespace gpas
