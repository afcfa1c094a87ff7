// `gpas bench train`: training-step speed on random tokens (no data loading, no evaluation) after
// a warm-up, as tokens/s, model FLOPs per token and utilisation of a peak (CPU: the fp32 matmul
// rate measured in the same run; GPU: the device's dense bf16 peak).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpas {

struct BenchTrainOptions {
  std::string size = "9m";
  std::string norm = "pre";
  bool gpas = false;
  int64_t batch = 16;
  int64_t seq = 256;
  int64_t steps = 20;
  int64_t warmup = 3;
  int64_t vocab = 32000;
  std::string precision = "fp32";
  std::string device = "auto";
  bool fused_adam = true;  // train.fused_adam: false times torch's per-parameter Adam step
  bool fused_norm = false; // train.fused_norm: residual add + GPAS + RMSNorm as one op
  bool breakdown = false;  // also time each part of the step alone ("breakdown" in the JSON)
  // Any model.* key=value after the preset (model.layers=16, model.hidden=64, model.qk_norm=head):
  // the model's shape and scheme knobs, as `gpas train --set` spells them.
  std::vector<std::string> model_sets;
};

nlohmann::json bench_train(const BenchTrainOptions& o);

// `gpas bench head`: the LM head's three fp32 GEMMs alone at one chunk's shapes (logits = h W^T,
// dh = G W, dW = G^T h), gpas's kernels (core/model/head_gemm.h, where they run) against ATen's
// torch::mm on the same operands, each the best of `reps` calls, on the CPU's current threads.
struct BenchHeadOptions {
  int64_t rows = 1024;    // rows of the chunk (tokens)
  int64_t hidden = 64;
  int64_t vocab = 32000;
  int64_t reps = 7;
};

nlohmann::json bench_head(const BenchHeadOptions& o);

}  // namespace gpas
