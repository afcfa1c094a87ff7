// The optimizers' fused path (LibTorch's at::_fused_adam_ / _fused_adamw_ from 2.1, or gpas's own
// fp32 CPU kernel where LibTorch has none, adam_cpu.h) against torch's per-parameter Adam step: the same parameters and state over several steps with weight decay, a
// parameter without a gradient left alone, and a checkpoint moving between the two paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/model/compat.h"
#include "core/model/model.h"
#include "core/train/optimizers.h"

namespace gpas {
namespace {

constexpr int kParams = 4;  // the last one never gets a gradient

std::vector<torch::Tensor> initial_params() {
  torch::manual_seed(3);
  return {torch::randn({16, 8}), torch::randn({8}), torch::randn({1}), torch::randn({3, 5})};
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& ps) {
  std::vector<torch::Tensor> out;
  for (const auto& p : ps) out.push_back(p.clone().set_requires_grad(true));
  return out;
}

TrainConfig adam_cfg(const std::string& optimizer, bool fused) {
  TrainConfig c;
  c.optimizer = optimizer;
  c.lr = 0.01;
  c.adam_beta1 = 0.8;
  c.adam_beta2 = 0.95;
  c.adam_eps = 1e-6;
  c.weight_decay = 0.1;
  c.fused_adam = fused;
  return c;
}

Transformer unused_model() {
  ModelConfig m;
  m.vocab_size = 8;
  return Transformer(m);
}

// The same gradients for every copy: the grad of step s is a function of (s, parameter index).
void set_grads(std::vector<torch::Tensor>& ps, int step) {
  for (int i = 0; i + 1 < kParams; ++i) {
    torch::manual_seed(100 * step + i);
    ps[size_t(i)].mutable_grad() = torch::randn(ps[size_t(i)].sizes());
  }
  ps[kParams - 1].mutable_grad() = torch::Tensor();
}

const torch::optim::AdamParamState* state_of(torch::optim::Adam& opt, const torch::Tensor& p) {
  auto it = opt.state().find(compat::optimizer_state_key(p));
  return it == opt.state().end() ? nullptr
                                 : static_cast<const torch::optim::AdamParamState*>(it->second.get());
}

void expect_same(torch::optim::Adam& a, const std::vector<torch::Tensor>& pa, torch::optim::Adam& b,
                 const std::vector<torch::Tensor>& pb, const std::string& what) {
  for (int i = 0; i < kParams; ++i) {
    const auto& x = pa[size_t(i)];
    const auto& y = pb[size_t(i)];
    EXPECT_TRUE(torch::allclose(x, y, 1e-6, 1e-6))
        << what << " param " << i << ": max diff " << (x - y).abs().max().item<double>();
    auto* sa = state_of(a, x);
    auto* sb = state_of(b, y);
    ASSERT_EQ(sa == nullptr, sb == nullptr) << what << " param " << i;
    if (!sa) continue;
    EXPECT_EQ(sa->step(), sb->step()) << what << " param " << i;
    EXPECT_TRUE(torch::allclose(sa->exp_avg(), sb->exp_avg(), 1e-6, 1e-7)) << what << " exp_avg " << i;
    EXPECT_TRUE(torch::allclose(sa->exp_avg_sq(), sb->exp_avg_sq(), 1e-6, 1e-9)) << what << " exp_avg_sq " << i;
  }
}

std::string saved(const torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive ar;
  opt.save(ar);
  std::ostringstream os;
  ar.save_to(os);
  return os.str();
}

void load(torch::optim::Optimizer& opt, const std::string& bytes) {
  torch::serialize::InputArchive ar;
  std::istringstream is(bytes);
  ar.load_from(is);
  opt.load(ar);
}

std::string why_no_fused() {
  return "LibTorch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
         " has no fused Adam kernel for the CPU (at::_fused_adam_ runs on the CPU from 2.4) and this CPU"
         " has no AVX2 + FMA for gpas's own";
}

TEST(Optimizer, FusedWhereTheBuildHasIt) {
  auto unused = unused_model();
  auto ps = copies(initial_params());
  auto opt = make_optimizer(unused, ps, adam_cfg("adamw", true), 1);
  set_grads(ps, 0);
  opt->step();
  EXPECT_EQ(last_step_fused(*opt), fused_adam_available(torch::kCPU, torch::kFloat32));
  auto off = make_optimizer(unused, ps, adam_cfg("adamw", false), 1);
  off->step();
  EXPECT_FALSE(last_step_fused(*off));
}

TEST(Optimizer, FusedAdamEqualsThePerParameterStep) {
  if (!fused_adam_available(torch::kCPU, torch::kFloat32)) GTEST_SKIP() << why_no_fused();
  auto unused = unused_model();
  // adamw: decoupled decay (_fused_adamw_); adam: L2 decay (_fused_adam_); and adamw without decay.
  for (const char* n : {"adamw", "adam", "adamw without decay"}) {
    const std::string name = n;
    const bool no_decay = name == "adamw without decay";
    const std::string optimizer = no_decay ? "adamw" : name;
    auto cf = adam_cfg(optimizer, true), cu = adam_cfg(optimizer, false);
    if (no_decay) cf.weight_decay = cu.weight_decay = 0;
    const auto init = initial_params();
    auto pf = copies(init), pu = copies(init);
    auto fused = make_optimizer(unused, pf, cf, 1);
    auto plain = make_optimizer(unused, pu, cu, 1);
    for (int s = 0; s < 6; ++s) {
      const double lr = 0.01 * (1.0 + s) / 6;  // as the schedule sets it between steps
      for (auto* o : {fused.get(), plain.get()})
        for (auto& g : o->param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
      set_grads(pf, s);
      set_grads(pu, s);
      fused->step();
      plain->step();
      ASSERT_TRUE(last_step_fused(*fused)) << name;
      ASSERT_FALSE(last_step_fused(*plain)) << name;
    }
    expect_same(*fused, pf, *plain, pu, name);
    for (int i = 0; i + 1 < kParams; ++i) {
      EXPECT_FALSE(torch::equal(pf[size_t(i)], init[size_t(i)])) << name << " param " << i << " moved";
      EXPECT_EQ(state_of(*fused, pf[size_t(i)])->step(), 6);
    }
    EXPECT_TRUE(torch::equal(pf[kParams - 1], init[kParams - 1])) << name << ": no gradient, no move";
    EXPECT_EQ(state_of(*fused, pf[kParams - 1]), nullptr) << name << ": no gradient, no state";
  }
}

TEST(Optimizer, CheckpointMovesBetweenFusedAndPerParameter) {
  if (!fused_adam_available(torch::kCPU, torch::kFloat32)) GTEST_SKIP() << why_no_fused();
  auto unused = unused_model();
  for (bool from_fused : {true, false}) {
    const std::string what = from_fused ? "fused -> per-parameter" : "per-parameter -> fused";
    auto cfg_from = adam_cfg("adamw", from_fused), cfg_to = adam_cfg("adamw", !from_fused);
    auto pa = copies(initial_params());
    auto a = make_optimizer(unused, pa, cfg_from, 1);
    for (int s = 0; s < 3; ++s) {
      set_grads(pa, s);
      a->step();
    }
    const auto bytes = saved(*a);
    // Loaded into a fresh optimizer of the other path over copies of the parameters, then one
    // more step in each.
    std::vector<torch::Tensor> pb;
    for (const auto& p : pa) pb.push_back(p.detach().clone().set_requires_grad(true));
    auto b = make_optimizer(unused, pb, cfg_to, 1);
    load(*b, bytes);
    for (int i = 0; i + 1 < kParams; ++i) {
      auto* sa = state_of(*a, pa[size_t(i)]);
      auto* sb = state_of(*b, pb[size_t(i)]);
      ASSERT_NE(sb, nullptr) << what << " param " << i;
      EXPECT_EQ(sb->step(), 3);
      EXPECT_TRUE(torch::equal(sa->exp_avg(), sb->exp_avg())) << what;
      EXPECT_TRUE(torch::equal(sa->exp_avg_sq(), sb->exp_avg_sq())) << what;
    }
    EXPECT_EQ(state_of(*b, pb[kParams - 1]), nullptr) << what;
    set_grads(pa, 3);
    set_grads(pb, 3);
    a->step();
    b->step();
    EXPECT_EQ(last_step_fused(*b), !from_fused) << what;
    expect_same(*a, pa, *b, pb, what);
  }
}

}  // namespace
}  // namespace gpas
