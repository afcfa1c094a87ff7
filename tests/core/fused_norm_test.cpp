// train.fused_norm: the residual add + GPAS + RMSNorm op (fused_norm.h) against the separate
// modules it replaces, alone and in whole models, values and every gradient; and its CUDA kernel
// against the same op in ATen ops (skipped without a GPU).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/model/fused_norm.h"
#include "core/model/gpas.h"
#include "core/model/layers.h"
#include "core/model/model.h"

namespace gpas {
namespace {

// ||a - b|| / ||b|| (0 when both are 0), in fp64.
double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  auto da = a.detach().to(torch::kCPU, torch::kFloat64), db = b.detach().to(torch::kCPU, torch::kFloat64);
  double nb = db.norm().item<double>(), d = (da - db).norm().item<double>();
  return nb == 0 ? d : d / nb;
}

struct OpCase {
  bool gpas, stopgrad, use_xp;  // use_xp false: only n is used downstream (the last layer's)
};

struct OpResult {
  std::vector<torch::Tensor> values, grads;  // {x', n}; {x, o, alpha, w}
};

// One op on fresh leaves (all from seed 7), loss = sum(x' gx) + sum(n gn).
template <class F>
OpResult run_op(const OpCase& c, torch::Device dev, torch::ScalarType dtype, torch::ScalarType wtype,
                int64_t rows, int64_t C, F&& op, torch::ScalarType otype = c10::ScalarType::Undefined) {
  torch::manual_seed(7);
  auto opt = torch::TensorOptions().dtype(dtype).device(dev);
  auto x = torch::randn({rows, C}).to(opt).requires_grad_(true);
  auto o = torch::randn({rows, C}).to(opt.dtype(otype == c10::ScalarType::Undefined ? dtype : otype))
               .requires_grad_(true);
  auto alpha = torch::tensor(0.3).to(dev).requires_grad_(true);
  auto w = torch::rand({C}).add_(0.5).to(dev, wtype).requires_grad_(true);
  auto gx = torch::randn({rows, C}).to(opt);
  auto gn = torch::randn({rows, C}).to(opt);
  torch::Tensor s = c.gpas ? torch::silu(alpha) : torch::Tensor();
  auto [xp, n] = op(x, o, s, c.stopgrad, w);
  auto loss = (n.to(torch::kFloat32) * gn.to(torch::kFloat32)).sum();
  if (c.use_xp) loss = loss + (xp.to(torch::kFloat32) * gx.to(torch::kFloat32)).sum();
  loss.backward();
  OpResult r{{xp, n}, {x.grad(), o.grad(), c.gpas ? alpha.grad() : torch::zeros({}), w.grad()}};
  return r;
}

std::pair<torch::Tensor, torch::Tensor> separate_modules(const torch::Tensor& x, const torch::Tensor& o,
                                                         const torch::Tensor& s, bool stopgrad,
                                                         const torch::Tensor& w) {
  Norm norm(w.size(0), 1e-6);
  norm->weight = w;  // the leaf itself, so its gradient is the test's
  auto y = x + o;
  auto xp = s.defined() ? gpas_scale(y, s, stopgrad) : y;
  return {xp, norm(xp)};
}

std::pair<torch::Tensor, torch::Tensor> fused(const torch::Tensor& x, const torch::Tensor& o,
                                              const torch::Tensor& s, bool stopgrad,
                                              const torch::Tensor& w) {
  return add_gpas_rmsnorm(x, o, s, stopgrad, w, 1e-6);
}

std::pair<torch::Tensor, torch::Tensor> fused_aten(const torch::Tensor& x, const torch::Tensor& o,
                                                   const torch::Tensor& s, bool stopgrad,
                                                   const torch::Tensor& w) {
  return add_gpas_rmsnorm_aten(x, o, s, stopgrad, w, 1e-6);
}

const std::vector<OpCase> kCases = {
    {false, true, true}, {true, true, true}, {true, false, true}, {true, true, false}};

TEST(FusedNorm, OpEqualsTheSeparateModules) {
  for (const OpCase& c : kCases) {
    SCOPED_TRACE("gpas " + std::to_string(c.gpas) + " stopgrad " + std::to_string(c.stopgrad) +
                 " x' used " + std::to_string(c.use_xp));
    auto ref = run_op(c, torch::kCPU, torch::kFloat32, torch::kFloat32, 37, 48, separate_modules);
    auto got = run_op(c, torch::kCPU, torch::kFloat32, torch::kFloat32, 37, 48, fused);
    for (size_t i = 0; i < ref.values.size(); ++i) EXPECT_LT(rel_err(got.values[i], ref.values[i]), 1e-6) << i;
    for (size_t i : {0, 1, 3}) EXPECT_LT(rel_err(got.grads[i], ref.grads[i]), 1e-5) << i;
    // The gate's gradient, -sum(dx' * y) over 37 x 48 terms of about 1, is compared to the fp32
    // rounding of that sum. With x' unused it is nearly 0 (RMSNorm does not see a scale).
    EXPECT_NEAR(got.grads[2].item<double>(), ref.grads[2].item<double>(), 1e-5);
    if (c.gpas && c.use_xp) {
      EXPECT_GT(ref.grads[2].abs().item<double>(), 1e-2);
    }
  }
}

ModelConfig small(const std::string& norm, bool gpas) {
  ModelConfig m;
  m.hidden = 32;
  m.intermediate = 64;
  m.heads = 2;
  m.layers = 4;
  m.vocab_size = 50;
  m.max_positions = 16;
  m.norm = norm;
  m.post_layers = norm == "mix" ? 1 : -1;
  m.gpas.enabled = gpas;
  m.gpas.init = {0.4};
  return m;
}

// Logits and every parameter's gradient of one loss, fused_norm on and off.
struct ModelResult {
  torch::Tensor logits;
  std::vector<double> variance;
  std::vector<torch::Tensor> grads;
  std::vector<std::string> names;
};

ModelResult run_model(const ModelConfig& m, bool fused, int64_t skip, torch::Device dev) {
  Transformer model(m);
  model->init_weights(3);
  {
    torch::NoGradGuard g;  // norm weights off 1 so that their gradients matter
    torch::manual_seed(5);
    for (auto& p : model->named_parameters())
      if (p.key().find("norm") != std::string::npos) p.value().uniform_(0.5, 1.5);
  }
  model->to(dev);
  model->fused_norm = fused;
  model->skip_layer = skip;
  model->probe = true;
  torch::manual_seed(9);
  auto tokens = torch::randint(0, m.vocab_size, {3, 12}).to(dev);
  auto logits = model->forward(tokens);
  TransformerImpl::loss_sum(logits.slice(1, 0, 11), tokens.slice(1, 1)).backward();
  ModelResult r{logits.detach(), model->last_layer_variance, {}, {}};
  for (auto& p : model->named_parameters()) {
    r.grads.push_back(p.value().grad().defined() ? p.value().grad() : torch::zeros_like(p.value()));
    r.names.push_back(p.key());
  }
  return r;
}

void expect_same_model(const ModelConfig& m, int64_t skip, torch::Device dev, double tol) {
  auto ref = run_model(m, false, skip, dev);
  auto got = run_model(m, true, skip, dev);
  EXPECT_LT(rel_err(got.logits, ref.logits), tol);
  ASSERT_EQ(got.variance.size(), ref.variance.size());
  for (size_t i = 0; i < ref.variance.size(); ++i) EXPECT_NEAR(got.variance[i], ref.variance[i], tol * ref.variance[i]);
  ASSERT_EQ(got.grads.size(), ref.grads.size());
  // A gate's gradient is one sum over every element of its layer, with cancellation: its fp32
  // rounding depends on the order of the sum, and the two paths sum in different orders.
  for (size_t i = 0; i < ref.grads.size(); ++i) {
    const bool gate = ref.names[i].find("gate") != std::string::npos &&
                      ref.names[i].find("gate_proj") == std::string::npos;
    EXPECT_LT(rel_err(got.grads[i], ref.grads[i]), (gate ? 100 : 10) * tol) << ref.names[i];
  }
}

TEST(FusedNorm, ModelEqualsTheSeparateModules) {
  struct Case { const char* norm; bool gpas; const char* site; bool stopgrad; int64_t fused_layers; };
  for (const Case& c : std::vector<Case>{{"pre", false, "after_sublayer", true, 4},
                                         {"pre", true, "after_sublayer", true, 4},
                                         {"pre", true, "after_sublayer", false, 4},
                                         {"lns", true, "after_sublayer", true, 4},
                                         {"mix", true, "after_sublayer", true, 3},
                                         {"pre", true, "after_norm", true, 0},
                                         {"sandwich", true, "after_sublayer", true, 0},
                                         {"deepnorm", true, "after_sublayer", true, 0}}) {
    SCOPED_TRACE(std::string(c.norm) + (c.gpas ? "+gpas " : " ") + c.site);
    ModelConfig m = small(c.norm, c.gpas);
    m.gpas.site = c.site;
    m.gpas.stopgrad = c.stopgrad;
    EXPECT_EQ(Transformer(m)->fused_layer_count(), c.fused_layers);
    expect_same_model(m, -1, torch::kCPU, 1e-5);
    expect_same_model(m, 1, torch::kCPU, 1e-5);  // layer importance: one layer skipped
    expect_same_model(m, 3, torch::kCPU, 1e-5);  // the last one
  }
}

TEST(FusedNorm, CudaKernelEqualsAtenOps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto probe = torch::zeros({1, 64}, torch::kCUDA);
  if (!fused_norm_kernel_used(probe, probe[0]))
    GTEST_SKIP() << "this build has no CUDA kernels (no nvcc at configure time; GPAS_CUDA_KERNELS)";
  // x, o, w dtypes; the last: bf16-mixed's fp32 residual stream with bf16 sub-layer outputs.
  struct Types { torch::ScalarType x, o, w; double tol; };
  const int64_t rows = 333;
  for (const Types& t : std::vector<Types>{{torch::kFloat32, torch::kFloat32, torch::kFloat32, 1e-5},
                                           {torch::kBFloat16, torch::kBFloat16, torch::kBFloat16, 2e-2},
                                           {torch::kBFloat16, torch::kBFloat16, torch::kFloat32, 2e-2},
                                           {torch::kHalf, torch::kHalf, torch::kHalf, 5e-3},
                                           {torch::kFloat32, torch::kBFloat16, torch::kFloat32, 1e-5}}) {
    for (int64_t C : {48, 512, 1000, 2048, 8192}) {
      for (const OpCase& c : kCases) {
        SCOPED_TRACE("x " + std::string(c10::toString(t.x)) + " o " + c10::toString(t.o) + " w " +
                     c10::toString(t.w) + " C " + std::to_string(C) + " gpas " +
                     std::to_string(c.gpas) + " stopgrad " + std::to_string(c.stopgrad) +
                     " x' used " + std::to_string(c.use_xp));
        auto ref = run_op(c, torch::kCUDA, t.x, t.w, rows, C, fused_aten, t.o);
        auto got = run_op(c, torch::kCUDA, t.x, t.w, rows, C, fused, t.o);
        for (size_t i = 0; i < ref.values.size(); ++i) {
          EXPECT_EQ(got.values[i].scalar_type(), ref.values[i].scalar_type());
          EXPECT_LT(rel_err(got.values[i], ref.values[i]), t.tol) << "value " << i;
        }
        for (size_t i : {0, 1, 3}) EXPECT_LT(rel_err(got.grads[i], ref.grads[i]), t.tol) << "gradient " << i;
        // The gate's: with x' unused it is 0 in exact arithmetic and both sides are the rounding
        // of a rows x C sum in different orders; bound by how that noise grows.
        if (c.use_xp) EXPECT_LT(rel_err(got.grads[2], ref.grads[2]), t.tol) << "gate";
        else EXPECT_NEAR(got.grads[2].item<double>(), ref.grads[2].item<double>(),
                         t.tol * std::sqrt(double(rows * C))) << "gate";
      }
    }
  }
  // And a whole model on the GPU, fp32, the kernel path against the separate modules.
  expect_same_model(small("pre", true), -1, torch::kCUDA, 1e-4);
  expect_same_model(small("mix", true), -1, torch::kCUDA, 1e-4);
}

}  // namespace
}  // namespace gpas
