// Weights in the ecosystem's format: <dir>/model.safetensors with HF LLaMA parameter names plus
// <dir>/config.json (HF LLaMA fields and the full gpas run config under "gpas"), and a one-batch
// fp32 forward over such weights for comparing gpas with any other implementation.
#pragma once
#include <string>

#include "core/config/config.h"

namespace gpas {

// Returns the number of tensors written.
int export_checkpoint(const std::string& checkpoint, const std::string& out_dir);
// The model config of an exported directory (reads <dir>/config.json).
RunConfig read_export_config(const std::string& dir);

struct ForwardResult {
  double loss = 0;  // mean next-token cross-entropy over all B x (T-1) positions
  int64_t batch = 0, seq = 0, vocab = 0;
};
// tokens.safetensors: an int64 (B, T) tensor named "tokens" (or the only tensor). Writes "logits"
// (B, T, V) fp32 and "loss" () fp32 to out.
ForwardResult forward_file(const std::string& weights, const std::string& tokens,
                           const std::string& out, const std::string& config_json = "");

}  // namespace gpas
