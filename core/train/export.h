// Weights in the ecosystem's format: <dir>/model.safetensors with HF LLaMA parameter names plus
// <dir>/config.json (HF LLaMA fields and the full gpas run config under "gpas"), and a one-batch
// fp32 forward over such weights for comparing gpas with any other implementation. With
// fold_gates (fold.h) a Pre-LN/LNS + GPAS model is written as a plain LlamaForCausalLM instead.
#pragma once
#include <cmath>
#include <string>

#include "core/config/config.h"

namespace gpas {

struct ExportOptions {
  bool fold_gates = false;  // fold GPAS into the weights: a plain LLaMA (fold.h)
};
struct ExportResult {
  int tensors = 0;
  bool plain_llama = false;         // config.json and weights are a plain LlamaForCausalLM
  std::string hf_architecture;      // the transformers class that loads it ("" = none)
  std::string not_plain_reason;     // why none does, when hf_architecture is "" (the CLI warns)
  std::string tokenizer;            // <dir>/tokenizer.model when the run had one, else ""
  std::string tokenizer_note;       // why there is none
  double max_abs_logit_diff = NAN;  // folded vs unfolded on a check batch (fold_gates only)
  double min_scale = 1;             // smallest cumulative stream scale divided out
};
ExportResult export_checkpoint(const std::string& checkpoint, const std::string& out_dir,
                               const ExportOptions& opts = {});
// The model config of an exported directory (reads <dir>/config.json): gpas's own exports carry
// the run config under "gpas"; a plain LlamaForCausalLM config (a folded export, or any LLaMA
// with MHA, RoPE theta 10000 and untied embeddings) is read as a Pre-LN model without GPAS.
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
