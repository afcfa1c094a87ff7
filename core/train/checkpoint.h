// Checkpoints: weights, Adam state, step, tokens seen, data position and RNG state in one LibTorch
// archive per step (<run_dir>/checkpoints/step_00000100.pt), written to a temp file, fsynced and
// renamed, so a crash never leaves a half checkpoint; the newest K are kept.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/config/config.h"
#include "core/model/model.h"

namespace gpas {

struct TrainState {
  int64_t step = 0;         // optimizer steps done
  int64_t tokens_seen = 0;  // loss tokens consumed (all ranks)
  double train_loss = NAN;  // loss of the last step
  nlohmann::json data;      // the train stream's position
};

std::string checkpoint_path(const std::string& run_dir, int64_t step);
std::vector<std::string> list_checkpoints(const std::string& run_dir);  // oldest first
void prune_checkpoints(const std::string& run_dir, int64_t keep);

void save_checkpoint(const std::string& path, const RunConfig& cfg, Transformer& model,
                     torch::optim::Optimizer* opt, const TrainState& state);
// Restores into `model` (and `opt` if given); returns the training state.
TrainState load_checkpoint(const std::string& path, Transformer& model,
                           torch::optim::Optimizer* opt);
// The resolved config stored in a checkpoint (what `gpas export` needs to rebuild the model).
RunConfig checkpoint_config(const std::string& path);

}  // namespace gpas
