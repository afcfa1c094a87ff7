#include "core/train/grad_sync.h"

#include <algorithm>
#include <map>

#include "core/common/error.h"

namespace gpas {

GradSync::GradSync(Collective& coll, std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : coll_(coll), params_(std::move(params)), views_(params_.size()), bucket_of_(params_.size(), -1) {
  torch::NoGradGuard no_grad;
  // Buckets hold one dtype each; parameters are taken in reverse order, the order backward
  // produces their gradients.
  std::map<c10::ScalarType, int> open;  // dtype -> bucket being filled
  std::vector<int64_t> bytes;
  for (int i = int(params_.size()) - 1; i >= 0; --i) {
    const auto& p = params_[i];
    const auto dt = p.scalar_type();
    const int64_t cap = buckets_.empty() ? std::min<int64_t>(bucket_bytes, 1 << 20) : bucket_bytes;
    auto it = open.find(dt);
    if (it == open.end() || bytes[it->second] + p.numel() * p.element_size() > cap) {
      buckets_.push_back({});
      bytes.push_back(0);
      open[dt] = int(buckets_.size()) - 1;
      it = open.find(dt);
    }
    Bucket& b = buckets_[it->second];
    b.members.push_back(i);
    b.grad_numel += p.numel();
    bytes[it->second] += p.numel() * p.element_size();
    bucket_of_[i] = it->second;
  }
  // Extras ride in the fp32 bucket backward finishes last (the one with the earliest parameter).
  for (int i = 0; i < int(params_.size()) && extras_bucket_ < 0; ++i)
    if (params_[i].scalar_type() == torch::kFloat32) extras_bucket_ = bucket_of_[i];
  for (int b = 0; b < int(buckets_.size()); ++b) {
    Bucket& bk = buckets_[b];
    const auto& first = params_[bk.members.front()];
    const int64_t n = bk.grad_numel + (b == extras_bucket_ ? kExtraSlots : 0);
    bk.flat = torch::zeros({n}, first.options().requires_grad(false));
    int64_t off = 0;
    for (int i : bk.members) {
      auto& p = params_[i];
      views_[i] = bk.flat.narrow(0, off, p.numel()).view(p.sizes());
      p.mutable_grad() = views_[i];
      off += p.numel();
    }
  }
  // A parameter's hook runs just before backward accumulates into its .grad: when parameter k's
  // hook runs, every parameter hooked before it has been fully accumulated.
  for (int i = 0; i < int(params_.size()); ++i)
    params_[i].register_hook([this, i, alive = alive_](const torch::Tensor&) {
      if (*alive) on_grad(i);
    });
}

GradSync::~GradSync() {
  *alive_ = false;
  // Unwinding after a failed collective: the group's error is already on its way up.
  for (auto& b : buckets_) try {
      if (b.launched && b.wait) b.wait();
    } catch (const std::exception&) {
    }
}

void GradSync::zero() {
  for (auto& b : buckets_) {
    b.flat.zero_();
    b.ready = 0;
    b.launched = false;
    b.wait = nullptr;
  }
  complete_.clear();
  armed_ = false;
  launched_early_ = 0;
  // Whatever replaced a .grad since (a zero_grad that sets it to none), the views come back.
  for (size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].grad().is_same(views_[i])) params_[i].mutable_grad() = views_[i];
}

void GradSync::arm() { armed_ = true; }

void GradSync::launch(Bucket& b) {
  if (b.launched) return;
  b.launched = true;
  b.wait = coll_.allreduce_async(b.flat);
}

void GradSync::on_grad(int param) {
  if (!armed_) return;
  for (int b : complete_) {  // complete before this hook: accumulated, safe to send
    launch(buckets_[b]);
    ++launched_early_;
  }
  complete_.clear();
  Bucket& b = buckets_[bucket_of_[param]];
  if (++b.ready == int(b.members.size())) complete_.push_back(bucket_of_[param]);
}

void GradSync::finish(std::vector<torch::Tensor>& extras) {
  torch::NoGradGuard no_grad;
  armed_ = false;
  complete_.clear();
  if (int64_t(extras.size()) > kExtraSlots) throw Error("internal: too many extras for GradSync");
  bool extras_inline = extras_bucket_ >= 0 && !buckets_[extras_bucket_].launched;
  if (extras_inline) {
    Bucket& b = buckets_[extras_bucket_];
    for (size_t k = 0; k < extras.size(); ++k)
      b.flat.narrow(0, b.grad_numel + int64_t(k), 1).copy_(extras[k].reshape({1}));
  }
  for (auto& b : buckets_) launch(b);
  torch::Tensor separate;
  std::function<void()> wait_separate;
  if (!extras_inline && !extras.empty()) {
    std::vector<torch::Tensor> flat;
    for (auto& e : extras) flat.push_back(e.reshape({1}).to(torch::kFloat32));
    separate = torch::cat(flat);
    wait_separate = coll_.allreduce_async(separate);
  }
  for (auto& b : buckets_) b.wait();
  if (wait_separate) wait_separate();
  for (size_t k = 0; k < extras.size(); ++k) {
    auto v = extras_inline ? buckets_[extras_bucket_].flat.narrow(0, buckets_[extras_bucket_].grad_numel + int64_t(k), 1)
                           : separate.narrow(0, int64_t(k), 1);
    extras[k].copy_(v.reshape(extras[k].sizes()));
  }
}

void GradSync::scale(const torch::Tensor& s) {
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    auto grads = b.flat.narrow(0, 0, b.grad_numel);
    grads.mul_(s.to(grads.scalar_type()));
  }
}

}  // namespace gpas
