#include "core/train/step.h"

#include <cstdlib>

#include <ATen/ThreadLocalState.h>

#include "core/common/error.h"
#include "core/common/launch_env.h"
#include "core/model/compat.h"
#include "core/train/optimizers.h"
#include "core/train/schedule.h"

namespace gpas {

DeviceBatch to_device(const TokenBatch& b, const torch::Device& device) {
  auto opts = torch::TensorOptions().dtype(torch::kInt32);
  auto in = torch::from_blob(const_cast<int32_t*>(b.inputs.data()), {b.rows, b.seq}, opts);
  auto tg = torch::from_blob(const_cast<int32_t*>(b.targets.data()), {b.rows, b.seq}, opts);
  DeviceBatch d;
  d.loss_tokens = b.loss_tokens();
  if (device.is_cuda()) {
    // Pinned staging buffers; the caching host allocator keeps each alive until its copy is done.
    auto stage = [&](const torch::Tensor& host) {
      auto pinned = torch::empty(host.sizes(), torch::dtype(torch::kInt32).pinned_memory(true));
      pinned.copy_(host);
      return pinned.to(device, /*non_blocking=*/true).to(torch::kInt64);
    };
    d.inputs = stage(in);
    d.targets = stage(tg);
  } else {
    d.inputs = in.to(torch::kInt64);  // copies: the TokenBatch is reused
    d.targets = tg.to(torch::kInt64);
  }
  return d;
}

torch::Tensor grad_norm_tensor(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm(2, torch::kFloat32));
  if (norms.empty()) return torch::zeros({});
  return torch::stack(norms).norm();
}

void clip_to(const std::vector<torch::Tensor>& params, const torch::Tensor& norm, double max_norm) {
  torch::NoGradGuard no_grad;
  auto coef = (max_norm / (norm + 1e-6)).clamp_max(1.0);  // () on the device
  for (const auto& p : params)
    if (p.grad().defined()) p.grad().mul_(coef.to(p.grad().scalar_type()));
}

TrainStep::TrainStep(Transformer& model, const TrainConfig& cfg, Collective& coll)
    : model_(model), cfg_(cfg), coll_(coll) {
  for (auto& p : model_->parameters())
    if (p.requires_grad()) trainable_.push_back(p);
  for (auto& g : model_->gates())
    if (g.requires_grad()) gates_.push_back(g);
  opt_ = make_optimizer(model_, trainable_, cfg, coll_.world());  // adam | adamw | lisa
  if (coll_.backend() != "single") {  // a c10d group, even of one
    sync_ = std::make_unique<GradSync>(coll_, trainable_, int64_t(rendezvous_env().bucket_mib * (1 << 20)));
  }
}

int64_t cpu_shards(const torch::Device& device, int64_t rows) {
#ifdef _OPENMP
  const int64_t threads = at::get_num_threads();
  return device.is_cpu() && threads > 1 && threads <= kMaxCpuShards && rows >= threads ? threads : 1;
#else  // at::parallel_for is serial here: shards would run one after another
  (void)device, (void)rows;
  return 1;
#endif
}

void parallel_shards(int64_t rows, int64_t shards,
                     const std::function<void(int64_t s, int64_t r0, int64_t r1)>& run) {
  const at::ThreadLocalState caller;  // grad mode, autocast and inference keys, profiler, hooks
  at::parallel_for(0, shards, 1, [&](int64_t lo, int64_t hi) {
    at::ThreadLocalStateGuard same_state_here(caller);
    for (int64_t s = lo; s < hi; ++s) run(s, rows * s / shards, rows * (s + 1) / shards);
  });
}

StepResult TrainStep::run(int64_t step, std::vector<DeviceBatch>& micro, const StepOptions& o) {
  const double lr = lr_at(step, cfg_);
  for (auto& g : opt_->param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
  const int64_t accum = int64_t(micro.size());
  const int world = coll_.world();
  const bool mixed = cfg_.precision == "bf16-mixed";
  const bool per_micro = cfg_.loss_weighting == "micro_mean";

  int64_t local_tokens = 0;
  for (const auto& m : micro) local_tokens += m.loss_tokens;
  // Token weighting divides by the update's loss tokens of all ranks. Alone they are known here;
  // in a group the division waits for their sum, which travels with the gradients:
  // backward uses the update's token slots and the gradients are rescaled after the reduction.
  double slots = 0;
  for (const auto& m : micro) slots += double(m.targets.numel());
  slots *= world;
  const double denom = !sync_ ? double(std::max<int64_t>(local_tokens, 1)) : slots;

  if (sync_) sync_->zero();  // also resets the count of buckets sent during backward
  else
    for (auto& p : trainable_) p.mutable_grad() = torch::Tensor();
  const auto dev = micro.front().inputs.device();
  auto loss_sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(dev));
  auto autocast = [&](bool on) {  // per thread
    if (mixed) compat::set_bf16_autocast(dev, on);
  };
  // The loss of rows [r0, r1) of micro-batch m, divided as the weighting says.
  auto scaled_loss = [&](int64_t m, torch::Tensor& l, int64_t r0, int64_t r1) {
    autocast(true);
    auto h = model_->hidden(micro[m].inputs.slice(0, r0, r1));                 // (b, T, C)
    l = model_->chunked_loss_sum(h, micro[m].targets.slice(0, r0, r1));        // (), logits never whole
    autocast(false);
    if (per_micro)  // the reference: mean over the micro-batch, averaged over micro-batches and ranks
      return l / double(std::max<int64_t>(micro[m].loss_tokens, 1)) / double(accum * world);
    return l / denom;
  };
  // Not in a c10d group: its gradient hooks count on one backward per micro-batch.
  std::vector<torch::Tensor> wrt;  // what trains now (LISA freezes layers for a while)
  if (!sync_)
    for (auto& p : trainable_)
      if (p.requires_grad()) wrt.push_back(p);
  for (int64_t m = 0; m < accum; ++m) {
    const int64_t rows = micro[m].inputs.size(0);
    const int64_t shards = sync_ ? 1 : cpu_shards(dev, rows);
    if (shards == 1) {
      model_->probe = o.probe && m == 0;
      if (sync_ && m == accum - 1) sync_->arm();
      torch::Tensor l;
      scaled_loss(m, l, 0, rows).backward();
      model_->probe = false;
      loss_sum += l.detach().to(torch::kFloat64);
      continue;
    }
    // One shard of rows per thread, each shard's forward and backward single-threaded (nested
    // parallel regions run inline, OpenBLAS too), side by side. Each shard's gradients come back
    // apart and are added in shard order, so the bits do not depend on which shard ends first.
    if (o.probe && m == 0) {  // the probes see the whole micro-batch, as unsharded
      torch::NoGradGuard no_grad;
      model_->probe = true;
      autocast(true);
      model_->hidden(micro[m].inputs);
      autocast(false);
      model_->probe = false;
    }
    std::vector<std::vector<torch::Tensor>> grads(shards);
    std::vector<torch::Tensor> losses(shards);
    parallel_shards(rows, shards, [&](int64_t s, int64_t r0, int64_t r1) {
      auto l = scaled_loss(m, losses[s], r0, r1);
      grads[s] = torch::autograd::grad({l}, wrt, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    });
    for (int64_t s = 0; s < shards; ++s) {
      for (size_t i = 0; i < wrt.size(); ++i) {
        auto& g = grads[s][i];
        if (!g.defined()) continue;
        auto& to = wrt[i].mutable_grad();
        // Kept as it is only where nothing else holds it (two parameters could get one tensor).
        if (!to.defined()) to = g.is_contiguous() && g.use_count() == 1 ? std::move(g) : g.clone(at::MemoryFormat::Contiguous);
        else to.add_(g);
      }
      loss_sum += losses[s].detach().to(torch::kFloat64);
    }
  }

  StepResult r;
  r.loss_sum = loss_sum;
  r.tokens = torch::full({}, double(local_tokens), torch::dtype(torch::kFloat64).device(dev));
  if (sync_) {
    r.stop_votes = torch::full({}, o.stop_vote ? 1.0 : 0.0, torch::dtype(torch::kFloat64).device(dev));
    std::vector<torch::Tensor> extras = {r.loss_sum, r.tokens, r.stop_votes};
    sync_->finish(extras);
    if (!per_micro) sync_->scale(slots / r.tokens.clamp_min(1.0));
  }
  if (o.after_reduce) o.after_reduce();

  // Clipping as the reference does it: every parameter (gates included) by the global norm,
  // then the gates alone by theirs. The norm logged is the one before any clipping.
  const bool clip = cfg_.grad_clip > 0;
  if (clip || o.need_grad_norm) r.grad_norm = grad_norm_tensor(trainable_);
  if (clip) clip_to(trainable_, r.grad_norm, cfg_.grad_clip);
  if (!gates_.empty() && cfg_.gate_grad_clip > 0)
    clip_to(gates_, grad_norm_tensor(gates_), cfg_.gate_grad_clip);
  opt_->step();
  return r;
}

}  // namespace gpas
