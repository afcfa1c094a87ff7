// GradSync over a real c10d group of one rank (Gloo on the CPU, NCCL on a GPU when there is one):
// the bucketed, backward-overlapped path must give the gradients and the step of one process.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <random>
#include <string>

#include "core/config/config.h"
#include "core/model/model.h"
#include "core/train/distributed.h"
#include "core/train/runtime.h"
#include "core/train/step.h"

namespace gpas {
namespace {

struct GroupEnv {  // WORLD_SIZE=1 with a named backend: a c10d group of one on a free-ish port
  explicit GroupEnv(const char* backend) {
    std::mt19937 rng(std::random_device{}());
    port = std::to_string(20000 + int(rng() % 20000));
    setenv("GPAS_DIST_BACKEND", backend, 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", port.c_str(), 1);
    setenv("GPAS_BUCKET_MB", "0.01", 1);  // many buckets for a tiny model
  }
  ~GroupEnv() {
    for (const char* v : {"GPAS_DIST_BACKEND", "MASTER_ADDR", "MASTER_PORT", "GPAS_BUCKET_MB"}) unsetenv(v);
  }
  std::string port;
};

RunConfig cfg() {
  RunConfig c;
  c.model.vocab_size = 64;
  c.model.gpas.enabled = true;
  c.model.layers = 3;
  c.train.micro_batch = 2;
  c.train.batch_size = 4;
  c.train.seq_len = 16;
  c.train.steps = 2;
  resolve(c);
  validate(c);
  return c;
}

std::vector<DeviceBatch> batches(const torch::Device& dev) {
  torch::manual_seed(11);
  std::vector<DeviceBatch> v(2);
  for (auto& b : v) {
    b.inputs = torch::randint(0, 64, {2, 16}, torch::kInt64).to(dev);
    b.targets = torch::randint(0, 64, {2, 16}, torch::kInt64).to(dev);
    b.targets.slice(1, 10).fill_(-1);
    b.loss_tokens = 2 * 10;
  }
  return v;
}

// Two steps; returns the first step's reduced gradients and the final weights.
std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> run_steps(Collective& coll,
                                                                            const torch::Device& dev,
                                                                            int* overlapped) {
  RunConfig c = cfg();
  Transformer model(c.model);
  model->init_weights(0);
  model->to(dev);
  TrainStep step(model, c.train, coll);
  std::vector<torch::Tensor> grads, weights;
  StepOptions o;
  o.after_reduce = [&] {
    if (grads.empty())
      for (auto& p : step.trainable()) grads.push_back(p.grad().detach().cpu().clone());
  };
  for (int s = 0; s < 2; ++s) {
    auto b = batches(dev);
    auto r = step.run(s, b, o);
    EXPECT_NEAR(r.tokens.item<double>(), 40.0, 0.0);
  }
  if (overlapped) *overlapped = step.buckets_overlapped();
  for (auto& p : model->parameters()) weights.push_back(p.detach().cpu().clone());
  return {grads, weights};
}

void expect_same_as_one_process(const char* backend, const torch::Device& dev) {
  auto single = make_single_process();
  auto want = run_steps(*single, dev, nullptr);
  GroupEnv env(backend);
  auto group = make_collective_from_env(dev);
  ASSERT_EQ(group->backend(), backend);
  int overlapped = 0;
  auto got = run_steps(*group, dev, &overlapped);
  EXPECT_GT(overlapped, 3) << "buckets should be sent while backward runs";
  ASSERT_EQ(got.first.size(), want.first.size());
  for (size_t i = 0; i < got.first.size(); ++i)
    EXPECT_TRUE(torch::allclose(got.first[i], want.first[i], 1e-5, 1e-7)) << "grad " << i;
  for (size_t i = 0; i < got.second.size(); ++i)
    EXPECT_TRUE(torch::allclose(got.second[i], want.second[i], 1e-5, 1e-6)) << "weight " << i;
}

TEST(GradSync, GlooGroupOfOneMatchesOneProcess) { expect_same_as_one_process("gloo", torch::kCPU); }

TEST(GradSync, NcclGroupOfOneMatchesOneProcess) {
  if (!nccl_available()) GTEST_SKIP() << "this LibTorch has no NCCL";
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_same_as_one_process("nccl", torch::Device(torch::kCUDA, 0));
}

}  // namespace
}  // namespace gpas
