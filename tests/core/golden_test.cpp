// Golden losses (llm.c's test_gpt2, torchtitan's loss files): the first 5 training losses of every
// scheme with and without GPAS, built as train_run builds a run (init_weights(train.seed), the
// data config's stream, TrainStep: accumulation, clipping, schedule, Adam; loss = sum / tokens),
// against tests/core/golden/losses.json, within a tolerance that holds across hosts and LibTorch
// builds. A change that moves every scheme alike (init, rotary, loss, Adam) fails here. No run
// directory, journal, checkpoint or evaluation (trainer_test.cpp's). GPAS_UPDATE_GOLDEN=1 rewrites
// the file (then say why in the commit).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/fs.h"
#include "core/config/config.h"
#include "core/config/schemes.h"
#include "core/data/batch.h"
#include "core/model/model.h"
#include "core/train/distributed.h"
#include "core/train/runtime.h"
#include "core/train/step.h"

namespace gpas {
namespace {

constexpr int kSteps = 5;
// Relative, per loss. fp32 losses near 4 carry ~2.4e-7 of rounding each; BLAS and ATen sum in a
// different order across builds and CPUs, and Adam's first updates (about lr * sign(g)) pass that
// on. Measured (LibTorch 1.13, 5 steps): other kernels of the same build (ATEN_CPU_CAPABILITY=default,
// OPENBLAS_CORETYPE=Nehalem / Sandybridge / Prescott) move a loss by at most 1.5e-7 relative; two
// threads not at all. A changed rotary base (10000 -> 500000) moves every scheme's losses by
// 2.7e-4 to 7.6e-3 (ReZero's 2e-5: its branches start at zero), the LM head's init std x 1.1 by up
// to 2e-2. 1e-4 is ~700x the noise measured and below those changes.
constexpr double kRelTol = 1e-4;

std::string golden_path() { return std::string(GPAS_SOURCE_DIR) + "/tests/core/golden/losses.json"; }

// A tiny model (4 layers, so that Mix-LN has one Post-LN layer; init_std 0.1: at 0.02 the attention
// is near uniform for 5 steps, and a broken rotary moved only the QK-norm schemes' losses), the
// synthetic stream, fp32 on the CPU, two micro-batches an update (accumulation), clipping on, a learning rate that moves
// the weights enough in 5 steps for attention (and so rotary) to matter.
RunConfig golden_cfg(const std::string& norm, bool gpas) {
  RunConfig c;
  c.model.layers = 4;
  c.model.init_std = 0.1;  // attention logits of order 1 from the first step, so rotary shows in every scheme
  c.model.norm = norm;
  c.model.gpas.enabled = gpas;
  c.model.vocab_size = 64;
  c.data.synthetic_vocab = 64;
  c.train.steps = kSteps;
  c.train.lr = 1e-2;
  c.train.warmup_steps = 2;
  c.train.batch_size = 8;
  c.train.micro_batch = 4;
  c.train.seq_len = 32;
  c.train.grad_clip = 1.0;
  c.train.seed = 1234;
  c.train.device = "cpu";
  resolve(c);
  validate(c);
  return c;
}

std::string key(const Scheme& row, bool gpas) { return row.name + (gpas ? "+gpas" : ""); }

// One thread unless GPAS_THREADS says otherwise: a few seconds on a loaded 2-core machine, where
// two threads each wait for the other; other counts sum in another order (within kRelTol).
std::vector<double> first_losses(const std::string& norm, bool gpas) {
  const RunConfig c = golden_cfg(norm, gpas);
  const char* threads = std::getenv("GPAS_THREADS");
  torch::set_num_threads(threads ? std::max(1, std::atoi(threads)) : 1);
  Transformer model(c.model);
  model->init_weights(static_cast<uint64_t>(c.train.seed));
  auto single = make_single_process();
  TrainStep step(model, c.train, *single);
  StreamSpec spec;
  spec.micro_batch = c.train.micro_batch;
  spec.seq_len = c.train.seq_len;
  auto stream = open_train_stream(c.data, spec);
  const torch::Device cpu(torch::kCPU);
  model->train();
  std::vector<double> losses;
  TokenBatch host;
  for (int64_t s = 0; s < c.train.steps; ++s) {
    std::vector<DeviceBatch> micro(c.train.batch_size / c.train.micro_batch);
    for (auto& b : micro) {
      stream->next(host);
      b = to_device(host, cpu);
    }
    StepResult r = step.run(s, micro);
    losses.push_back((r.loss_sum / r.tokens.clamp_min(1.0)).item<double>());
  }
  return losses;
}

TEST(Golden, FirstLossesOfEverySchemeWithAndWithoutGpas) {
  nlohmann::json got = nlohmann::json::object();
  for (const Scheme& row : schemes())
    for (bool gpas : {false, true}) {
      auto l = first_losses(row.name, gpas);
      ASSERT_EQ(l.size(), size_t(kSteps)) << key(row, gpas);
      for (double v : l) ASSERT_TRUE(std::isfinite(v)) << key(row, gpas);
      got[key(row, gpas)] = l;
    }

  if (std::getenv("GPAS_UPDATE_GOLDEN")) {
    nlohmann::json out = {
        {"what", "first " + std::to_string(kSteps) + " training losses of tests/core/golden_test.cpp's "
                 "config, fp32 on the CPU; GPAS_UPDATE_GOLDEN=1 rewrites this file"},
        {"written_with", "LibTorch " + torch_version()},
        {"losses", got}};
    write_file_atomic(golden_path(), out.dump(1) + "\n");
    GTEST_SKIP() << "rewrote " << golden_path();
  }

  nlohmann::json want = nlohmann::json::parse(read_file(golden_path()))["losses"];
  double worst = 0;
  std::string worst_at;
  for (auto& [k, l] : got.items()) {
    ASSERT_TRUE(want.contains(k)) << k << " is not in " << golden_path()
                                  << " (a new scheme? GPAS_UPDATE_GOLDEN=1 adds it)";
    for (int s = 0; s < kSteps; ++s) {
      const double a = l[s].get<double>(), b = want[k][s].get<double>();
      const double rel = std::abs(a - b) / std::abs(b);
      EXPECT_LE(rel, kRelTol) << k << " step " << s << ": loss " << a << ", golden " << b;
      if (rel > worst) worst = rel, worst_at = k + " step " + std::to_string(s);
    }
  }
  for (auto& [k, l] : want.items())
    EXPECT_TRUE(got.contains(k)) << golden_path() << " has " << k << ", a scheme no longer in schemes()";
  std::printf("golden: %zu runs x %d losses, largest relative difference %.3g (%s), tolerance %.0e\n",
              got.size(), kSteps, worst, worst_at.c_str(), kRelTol);
}

}  // namespace
}  // namespace gpas
