// Model FLOPs from the config alone, without LibTorch: the trainer's MFU (core/train/bench), the
// data benchmark's bound on what a trainer can consume (core/data/bench) and anything else that
// prices a model use these, so there is one formula.
#pragma once
#include <cstdint>

#include "core/config/config.h"

namespace gpas {

// Dense bf16 tensor-core peak of an H100 / H200 (SXM data sheet), FLOP/s.
inline constexpr double kH100DenseBf16Flops = 989e12;

// Attention + MLP + LM head weights: the parameters that take part in matmuls (not the input
// embedding, norms or gates).
inline int64_t matmul_parameters(const ModelConfig& cfg) {
  const int64_t d = cfg.hidden;
  return cfg.layers * (4 * d * d + 3 * d * cfg.intermediate) + cfg.vocab_size * d;
}

// Training FLOPs per token: 6 * N_matmul + 12 * L * d * T (attention scores and values).
inline double flops_per_token(const ModelConfig& cfg, int64_t seq_len) {
  return 6.0 * double(matmul_parameters(cfg)) +
         12.0 * double(cfg.layers) * double(cfg.hidden) * double(seq_len);
}

}  // namespace gpas
