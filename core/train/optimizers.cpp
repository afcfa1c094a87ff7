// Adam (torch's, L2 decay) and AdamW as Adam with the decay applied first (p *= 1 - lr * wd, then
// Adam without decay: torch's AdamW order), both through LibTorch's fused Adam kernel where it has
// one, and LISA on top of AdamW. LISA's update counter is saved with the optimizer state,
// so a resumed run trains the same layers as an uninterrupted one.
#include "core/train/optimizers.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "core/common/error.h"
#include "core/model/compat.h"
#include "core/train/adam_cpu.h"

namespace gpas {

namespace {

// gpas's own one-pass kernel (adam_cpu.h) for fp32 CPU tensors where LibTorch has none (1.13).
bool own_cpu_kernel(const torch::Tensor& p) {
  return p.is_cpu() && p.scalar_type() == torch::kFloat32 && !compat::has_fused_adam(p.device()) &&
         adam_cpu_available();
}

// torch::optim::Adam with its update through a fused kernel where there is one for the
// parameters (LibTorch's, compat::has_fused_adam, or gpas's for fp32 on the CPU;
// train.fused_adam), else torch's own per-parameter step. Both keep the same AdamParamState (step, exp_avg, exp_avg_sq), so a
// checkpoint written by either loads in the other; a parameter without a gradient neither moves
// nor gains state in either. decoupled_wd > 0: AdamW's decay p *= 1 - lr * wd before the update
// (the options' L2 weight_decay is then 0).
class Adam : public torch::optim::Adam {
 public:
  Adam(const std::vector<torch::Tensor>& params, const TrainConfig& c, bool decoupled)
      : torch::optim::Adam(params, torch::optim::AdamOptions(c.lr)
                                       .betas({c.adam_beta1, c.adam_beta2})
                                       .eps(c.adam_eps)
                                       .weight_decay(decoupled ? 0.0 : c.weight_decay)),
        decoupled_wd_(decoupled ? c.weight_decay : 0.0),
        fused_(c.fused_adam) {}

  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::Tensor loss;
    if (closure) {
      at::AutoGradMode grad(true);
      loss = closure();
    }
    torch::NoGradGuard ng;
    last_fused_ = fused_ && fused_step();
    if (last_fused_) return loss;
    if (decoupled_wd_ > 0) {
      for (auto& g : param_groups()) {
        const double lr = static_cast<torch::optim::AdamOptions&>(g.options()).lr();
        for (auto& p : g.params())
          if (p.grad().defined()) p.mul_(1.0 - lr * decoupled_wd_);
      }
    }
    torch::optim::Adam::step();
    return loss;
  }

  bool last_step_fused() const { return last_fused_; }

 private:
  // Whether every parameter with a gradient (and its state, if any) can go to the fused kernel.
  bool fusable() const {
    for (const auto& g : param_groups()) {
      if (static_cast<const torch::optim::AdamOptions&>(g.options()).amsgrad()) return false;
      for (const auto& p : g.params()) {
        const auto& grad = p.grad();
        if (!grad.defined()) continue;
        if (!fused_adam_available(p.device(), p.scalar_type()) || !p.is_floating_point() || grad.is_sparse() ||
            grad.scalar_type() != p.scalar_type() || grad.device() != p.device() ||
            !p.is_contiguous() || !grad.is_contiguous())
          return false;
        auto it = state_.find(compat::optimizer_state_key(p));
        if (it == state_.end()) continue;
        const auto& st = static_cast<const torch::optim::AdamParamState&>(*it->second);
        for (const auto* t : {&st.exp_avg(), &st.exp_avg_sq()})
          if (!t->defined() || t->sizes() != p.sizes() || t->scalar_type() != p.scalar_type() ||
              t->device() != p.device() || !t->is_contiguous())
            return false;
      }
    }
    return true;
  }

  // One kernel per (group, device, dtype, step count): the count differs where LISA dropped a
  // layer's state. As PyTorch's Adam(fused=True), the step is counted here, then the kernel runs.
  bool fused_step() {
    if (!fusable()) return false;
    struct Bucket {
      std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    };
    for (auto& g : param_groups()) {
      const auto& o = static_cast<torch::optim::AdamOptions&>(g.options());
      std::map<std::tuple<std::string, int, int64_t>, Bucket> buckets;
      for (auto& p : g.params()) {
        if (!p.grad().defined()) continue;
        const auto key = compat::optimizer_state_key(p);
        auto it = state_.find(key);
        if (it == state_.end()) {  // as torch::optim::Adam initialises it
          auto st = std::make_unique<torch::optim::AdamParamState>();
          st->step(0);
          st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          it = state_.insert({key, std::move(st)}).first;
        }
        auto& st = static_cast<torch::optim::AdamParamState&>(*it->second);
        st.step(st.step() + 1);
        auto& b = buckets[{p.device().str(), int(p.scalar_type()), st.step()}];
        b.params.push_back(p);
        b.grads.push_back(p.grad());
        b.exp_avgs.push_back(st.exp_avg());
        b.exp_avg_sqs.push_back(st.exp_avg_sq());
      }
      const bool decoupled = decoupled_wd_ > 0;
      for (auto& [k, b] : buckets) {
        if (own_cpu_kernel(b.params.front())) {
          own_step(b, std::get<2>(k), o, decoupled);
          continue;
        }
        auto step = torch::full({}, double(std::get<2>(k)),
                                torch::dtype(torch::kFloat32).device(b.params.front().device()));
        compat::fused_adam(b.params, b.grads, b.exp_avgs, b.exp_avg_sqs, step, o.lr(),
                           std::get<0>(o.betas()), std::get<1>(o.betas()),
                           decoupled ? decoupled_wd_ : o.weight_decay(), o.eps(), decoupled);
      }
    }
    return true;
  }

  template <class Bucket>
  void own_step(const Bucket& b, int64_t step, const torch::optim::AdamOptions& o, bool decoupled) {
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    const AdamCpuStep s{float(o.lr()), float(beta1), float(beta2), float(o.eps()),
                        float(decoupled ? decoupled_wd_ : o.weight_decay()), decoupled,
                        float(1.0 - std::pow(beta1, double(step))),
                        float(std::sqrt(1.0 - std::pow(beta2, double(step))))};
    for (size_t i = 0; i < b.params.size(); ++i) {
      float *p = b.params[i].template data_ptr<float>(), *m = b.exp_avgs[i].template data_ptr<float>();
      float* v = b.exp_avg_sqs[i].template data_ptr<float>();
      const float* g = b.grads[i].template data_ptr<float>();
      at::parallel_for(0, b.params[i].numel(), 1 << 15, [&](int64_t begin, int64_t end) {
        adam_cpu_step(p + begin, g + begin, m + begin, v + begin, end - begin, s);
      });
      // Written through raw pointers: count the in-place change as ATen's ops would, so autograd
      // still refuses a graph that saved the old value.
      for (const auto* t : {&b.params[i], &b.exp_avgs[i], &b.exp_avg_sqs[i]})
        t->unsafeGetTensorImpl()->bump_version();
    }
  }

  double decoupled_wd_;
  bool fused_;
  bool last_fused_ = false;
};

class AdamW : public Adam {
 public:
  AdamW(const std::vector<torch::Tensor>& params, const TrainConfig& c) : Adam(params, c, true) {}
};

class Lisa : public AdamW {
 public:
  Lisa(Transformer& model, const std::vector<torch::Tensor>& trainable, const TrainConfig& c)
      : AdamW(trainable, c), count_(c.lisa_layers), interval_(c.lisa_interval), seed_(uint64_t(c.seed)) {
    std::set<const void*> can_train;
    for (const auto& p : trainable) can_train.insert(p.unsafeGetTensorImpl());
    for (const auto& b : model->blocks) {
      std::vector<torch::Tensor> ps;
      for (auto& p : b->parameters())
        if (can_train.count(p.unsafeGetTensorImpl())) ps.push_back(p);
      layers_.push_back(ps);
    }
    apply();
  }

  torch::Tensor step(LossClosure closure = nullptr) override {
    // Several ranks would zero-fill missing gradients; a frozen layer must not move or gain state.
    for (auto& ps : layers_)
      for (auto& p : ps)
        if (!p.requires_grad()) p.mutable_grad() = torch::Tensor();
    auto r = AdamW::step(std::move(closure));
    ++updates_;
    if (updates_ % interval_ == 0) apply();
    return r;
  }

  void save(torch::serialize::OutputArchive& ar) const override {
    AdamW::save(ar);
    ar.write("lisa_updates", c10::IValue(updates_));
  }
  void load(torch::serialize::InputArchive& ar) override {
    AdamW::load(ar);
    c10::IValue v;
    if (!ar.try_read("lisa_updates", v))
      throw Error("checkpoint: optimizer state without lisa_updates (not saved by a LISA run)");
    updates_ = v.toInt();
    apply();
  }

 private:
  // The interval's layers train; every other layer is frozen and its optimizer state dropped.
  void apply() {
    auto active = lisa_layers_at(int64_t(layers_.size()), count_, seed_, updates_ / interval_);
    for (size_t l = 0; l < layers_.size(); ++l) {
      const bool on = std::binary_search(active.begin(), active.end(), int64_t(l));
      for (auto& p : layers_[l]) {
        p.set_requires_grad(on);
        if (!on) {
          state_.erase(compat::optimizer_state_key(p));
          p.mutable_grad() = torch::Tensor();
        }
      }
    }
  }
  std::vector<std::vector<torch::Tensor>> layers_;
  int64_t count_, interval_;
  uint64_t seed_;
  int64_t updates_ = 0;
};

}  // namespace

std::vector<int64_t> lisa_layers_at(int64_t layers, int64_t count, uint64_t seed, int64_t interval) {
  std::vector<int64_t> idx(static_cast<size_t>(layers));
  for (int64_t i = 0; i < layers; ++i) idx[size_t(i)] = i;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(interval) + 1);
  const int64_t k = std::min(count, layers);
  for (int64_t i = 0; i < k; ++i) std::swap(idx[size_t(i)], idx[size_t(i + int64_t(rng() % uint64_t(layers - i)))]);
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::unique_ptr<torch::optim::Adam> make_optimizer(Transformer& model,
                                                   const std::vector<torch::Tensor>& trainable,
                                                   const TrainConfig& c, int world) {
  if (c.optimizer == "adamw") return std::make_unique<AdamW>(trainable, c);
  if (c.optimizer == "lisa") {
    if (world > 1)
      throw Error("train.optimizer lisa: runs on one rank only (its frozen layers produce no "
                  "gradients for the all-reduce); use one GPU, or train.optimizer adamw");
    return std::make_unique<Lisa>(model, trainable, c);
  }
  return std::make_unique<Adam>(trainable, c, /*decoupled=*/false);
}

bool fused_adam_available(const torch::Device& device, torch::ScalarType dtype) {
  return compat::has_fused_adam(device) ||
         (device.is_cpu() && dtype == torch::kFloat32 && adam_cpu_available());
}

bool last_step_fused(const torch::optim::Optimizer& opt) {
  const auto* a = dynamic_cast<const Adam*>(&opt);
  return a && a->last_step_fused();
}

}  // namespace gpas
