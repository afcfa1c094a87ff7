// Checkpoints: weights, Adam state, step, tokens seen, data position and RNG state in one LibTorch
// archive per step (<run_dir>/checkpoints/step_00000100.pt), written to a temp file, fsynced and
// renamed, so a crash never leaves a half checkpoint; each has a SHA-256 beside it that resume
// checks; the newest K are kept.
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
void prune_checkpoints(const std::string& run_dir, int64_t keep);  // with their .sha256 files
// Removes temp files of checkpoints a killed or failed writer left (call holding the run lock).
void remove_checkpoint_temps(const std::string& run_dir);
// <ckpt>.sha256, written with every checkpoint. verify_checkpoint: "" if the checkpoint matches it
// (or has none: written by an older gpas), else what is wrong.
std::string checksum_path(const std::string& ckpt);
std::string verify_checkpoint(const std::string& path);

void save_checkpoint(const std::string& path, const RunConfig& cfg, Transformer& model,
                     torch::optim::Optimizer* opt, const TrainState& state);
// ^ A full disk throws gpas::Error naming the path, the space needed and free; no temp file stays.
// Restores into `model` (and `opt` if given); returns the training state. Throws gpas::Error
// naming the path for a checkpoint that fails its checksum or cannot be read.
TrainState load_checkpoint(const std::string& path, Transformer& model,
                           torch::optim::Optimizer* opt);
// Loads the newest checkpoint of run_dir that verifies and reads; skipped gets "<path>: why" of
// each newer one passed over. Returns its path, "" if the run has none; throws if none loads.
std::string load_newest_checkpoint(const std::string& run_dir, Transformer& model,
                                   torch::optim::Optimizer* opt, TrainState& state,
                                   std::vector<std::string>& skipped);
// The resolved config stored in a checkpoint (what `gpas export` needs to rebuild the model).
RunConfig checkpoint_config(const std::string& path);

}  // namespace gpas
