// The optimizers a run can choose (train.optimizer): adam (torch's, L2 decay), adamw (decoupled
// weight decay) and lisa (Layerwise Importance Sampling, Pan et al. 2024: AdamW on the embeddings,
// LM head and final norm always, on lisa_layers random layers at a time, resampled every
// lisa_interval updates; frozen layers get no gradient and keep no optimizer state). All are
// torch::optim::Adam to the trainer (AdamOptions per group, so the schedule sets lr as for Adam).
// Their update goes through a fused Adam kernel where there is one for the parameters (LibTorch's:
// 2.x CUDA, the CPU from 2.4; else gpas's own for fp32 on an AVX2 CPU, adam_cpu.h) unless
// train.fused_adam is false; the state is torch::optim::Adam's either way, so checkpoints move
// between the two paths.
#pragma once
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/model/model.h"

namespace gpas {

// trainable: the parameters with requires_grad at set-up (frozen gates are not among them).
// LISA needs one rank (its layer sets change what backward produces); throws gpas::Error otherwise.
std::unique_ptr<torch::optim::Adam> make_optimizer(Transformer& model,
                                                   const std::vector<torch::Tensor>& trainable,
                                                   const TrainConfig& cfg, int world);

// Whether Adam's fused path can take parameters of this device and dtype.
bool fused_adam_available(const torch::Device& device, torch::ScalarType dtype);

// Whether the optimizer's last step() went through the fused kernel (false for one not made here).
bool last_step_fused(const torch::optim::Optimizer& opt);

// LISA's layers for interval `interval` (updates interval*K .. interval*K + K-1): lisa_layers
// distinct indices of [0, layers), a pure function of (seed, interval), sorted.
std::vector<int64_t> lisa_layers_at(int64_t layers, int64_t count, uint64_t seed, int64_t interval);

}  // namespace gpas
