// Gradient reduction across data-parallel ranks, overlapped with backward (as PyTorch's DDP does):
// the gradients live in a few flat buckets (each parameter's .grad is a view into one), and a
// bucket's all-reduce starts as soon as backward has finished writing it, while backward goes on
// with the layers below. With one rank there is nothing to do and no GradSync is made.
// Not here: the loss, clipping, the optimizer (step.h).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "core/train/distributed.h"

namespace gpas {

class GradSync {
 public:
  // `params` in registration order (backward reaches them roughly in reverse). bucket_bytes caps
  // a bucket (GPAS_BUCKET_MB, default 25 MiB as DDP's); the first bucket to fill is kept small
  // (1 MiB) so communication starts early.
  GradSync(Collective& coll, std::vector<torch::Tensor> params, int64_t bucket_bytes);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  void zero();  // every gradient := 0 (in place: the views stay)
  // The next backward is the update's last: launch each bucket's reduction once it is complete.
  void arm();
  // After that backward: launch what is left together with `extras` (fp32 scalars such as the
  // loss sum and the token count, summed in the same collective as the last bucket where its
  // dtype allows), wait for everything. Gradients and extras then hold the sums of all ranks.
  void finish(std::vector<torch::Tensor>& extras);
  // Multiplies every gradient by the device scalar `s` (token weighting after the reduction).
  void scale(const torch::Tensor& s);

  int buckets() const { return int(buckets_.size()); }
  int launched_during_backward() const { return launched_early_; }

 private:
  struct Bucket {
    torch::Tensor flat;           // gradients, then (extras bucket only) a tail of extra slots
    std::vector<int> members;     // parameter indices
    int64_t grad_numel = 0;
    int ready = 0;
    bool launched = false;
    std::function<void()> wait;
  };
  void on_grad(int param);
  void launch(Bucket& b);

  Collective& coll_;
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> views_;  // params_[i].grad() is views_[i]
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // hooks outlive this object
  std::vector<int> bucket_of_;
  std::vector<Bucket> buckets_;
  std::vector<int> complete_;     // buckets whose every member has been hooked
  int extras_bucket_ = -1;        // fp32 bucket with the tail for extras (-1: none)
  static constexpr int64_t kExtraSlots = 8;
  bool armed_ = false;
  int launched_early_ = 0;
};

}  // namespace gpas
