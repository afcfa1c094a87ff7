// GPAS itself: forward value, identity Jacobian, the gate gradient against the closed form,
// autograd and finite differences, the no-stopgrad ablation, and gates at 0 == the baseline.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/gpas.h"
#include "core/model/model.h"

namespace gpas {
namespace {

const char* kActs[] = {"silu", "identity", "relu", "leaky_relu", "tanh", "scaled_silu"};

TEST(Gpas, ForwardIsOneMinusActTimesX) {
  torch::manual_seed(0);
  auto x = torch::randn({2, 3, 8}, torch::kFloat64);
  for (const char* act : kActs) {
    GpasGate g(0.7, true, act, 8.0, true);
    g->to(torch::kFloat64);
    auto expect = (1 - gate_activation(g->gate, act, 8.0)) * x;
    EXPECT_TRUE(torch::allclose(g(x), expect)) << act;
  }
}

TEST(Gpas, GradientsMatchClosedFormAutogradAndFiniteDifferences) {
  torch::manual_seed(1);
  for (const char* act : kActs) {
    for (double a0 : {-0.8, 0.3, 1.2}) {
      auto x = torch::randn({4, 6}, torch::dtype(torch::kFloat64).requires_grad(true));
      auto g = torch::randn({4, 6}, torch::kFloat64);  // upstream gradient
      auto alpha = torch::full({}, a0, torch::dtype(torch::kFloat64).requires_grad(true));
      auto y = gpas_scale(x, gate_activation(alpha, act, 8.0), /*stopgrad=*/true);
      (y * g).sum().backward();
      // Identity Jacobian: the gradient reaching x is the upstream gradient itself.
      EXPECT_TRUE(torch::equal(x.grad(), g)) << act;
      // dL/dalpha = -act'(alpha) * sum(g * x), act' by autograd on act alone.
      auto a2 = torch::full({}, a0, torch::dtype(torch::kFloat64).requires_grad(true));
      gate_activation(a2, act, 8.0).backward();
      double closed = -a2.grad().item<double>() * (g * x.detach()).sum().item<double>();
      EXPECT_NEAR(alpha.grad().item<double>(), closed, 1e-10) << act << " " << a0;
      // Finite differences of L(alpha) = sum(g * gpas(x)).
      auto L = [&](double a) {
        auto s = gate_activation(torch::full({}, a, torch::kFloat64), act, 8.0);
        return (g * gpas_scale(x.detach(), s, true)).sum().item<double>();
      };
      double h = 1e-6, fd = (L(a0 + h) - L(a0 - h)) / (2 * h);
      EXPECT_NEAR(alpha.grad().item<double>(), fd, 1e-5 * std::max(1.0, std::abs(fd))) << act;
    }
  }
}

TEST(Gpas, WithoutStopgradTheGradientIsScaled) {
  auto x = torch::randn({3, 5}, torch::dtype(torch::kFloat64).requires_grad(true));
  auto alpha = torch::full({}, 0.9, torch::kFloat64);
  auto s = torch::silu(alpha);
  gpas_scale(x, s, /*stopgrad=*/false).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::ones_like(x) * (1 - s)));
}

// A GPAS model whose gates are all 0 computes exactly what the baseline computes, bit for bit.
// Where GPAS sits on the shortcut (DeepNorm, Mix-LN's Post-LN layers) x has one more autograd
// node on one of its four uses, so the engine sums the same four gradients in another order:
// there the loss is still bitwise equal and the gradients agree to float rounding.
TEST(Gpas, ZeroGatesEqualBaselineBitForBit) {
  for (const char* norm : {"pre", "deepnorm", "sandwich", "mix", "lns"}) {
    ModelConfig base;
    base.vocab_size = 50;
    base.layers = 4;
    base.norm = norm;
    base.post_layers = norm == std::string("mix") ? 1 : -1;
    ModelConfig with = base;
    with.gpas.enabled = true;
    Transformer a(base), b(with);
    a->init_weights(7);
    b->init_weights(7);
    torch::manual_seed(3);
    auto tok = torch::randint(0, 50, {2, 9});
    auto tg = torch::randint(0, 50, {2, 9});
    auto la = TransformerImpl::loss_sum(a(tok), tg);
    auto lb = TransformerImpl::loss_sum(b(tok), tg);
    EXPECT_TRUE(torch::equal(la, lb)) << norm;
    la.backward();
    lb.backward();
    auto pa = a->named_parameters(), pb = b->named_parameters();
    for (const auto& p : pa) {
      ASSERT_TRUE(pb.contains(p.key())) << p.key();
      const auto& ga = p.value().grad();
      const auto& gb = pb[p.key()].grad();
      bool shortcut = norm == std::string("deepnorm") || norm == std::string("mix");
      if (shortcut) EXPECT_TRUE(torch::allclose(ga, gb, 1e-5, 1e-7)) << norm << " " << p.key();
      else EXPECT_TRUE(torch::equal(ga, gb)) << norm << " " << p.key();
    }
  }
}

}  // namespace
}  // namespace gpas
