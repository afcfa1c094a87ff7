// AdamW as Adam with the decay applied first (p *= 1 - lr * wd, then Adam without decay: torch's
// AdamW order), and LISA on top of it. LISA's update counter is saved with the optimizer state,
// so a resumed run trains the same layers as an uninterrupted one.
#include "core/train/optimizers.h"

#include <algorithm>
#include <random>
#include <set>

#include "core/common/error.h"
#include "core/model/compat.h"

namespace gpas {

namespace {

class AdamW : public torch::optim::Adam {
 public:
  AdamW(const std::vector<torch::Tensor>& params, const TrainConfig& c)
      : torch::optim::Adam(params, torch::optim::AdamOptions(c.lr)
                                       .betas({c.adam_beta1, c.adam_beta2})
                                       .eps(c.adam_eps)
                                       .weight_decay(0.0)),
        wd_(c.weight_decay) {}

  torch::Tensor step(LossClosure closure = nullptr) override {
    if (wd_ > 0) {
      torch::NoGradGuard ng;
      for (auto& g : param_groups()) {
        const double lr = static_cast<torch::optim::AdamOptions&>(g.options()).lr();
        for (auto& p : g.params())
          if (p.grad().defined()) p.mul_(1.0 - lr * wd_);
      }
    }
    return torch::optim::Adam::step(std::move(closure));
  }

 private:
  double wd_;
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
  return std::make_unique<torch::optim::Adam>(
      trainable, torch::optim::AdamOptions(c.lr)
                     .betas({c.adam_beta1, c.adam_beta2})
                     .eps(c.adam_eps)
                     .weight_decay(c.weight_decay));
}

}  // namespace gpas
