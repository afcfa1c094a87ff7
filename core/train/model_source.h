// Where a trained model comes from for evaluation and finetuning: a run directory (its latest
// checkpoint), run:<id> beside a given runs directory, one checkpoint (.pt), or an export
// (a directory with config.json + model.safetensors, or the .safetensors file itself). Loads
// weights only: no optimizer state, no RNG state.
#pragma once
#include <string>

#include "core/config/config.h"
#include "core/model/model.h"

namespace gpas {

struct ModelSource {
  std::string kind;     // run | checkpoint | export
  std::string weights;  // the checkpoint or safetensors file
  std::string run_dir;  // the run it belongs to ("" for an export outside any run)
  std::string run_id;   // of that run's config ("" if unknown)
  int64_t step = -1;    // optimizer steps of the checkpoint (-1 for an export)
  RunConfig cfg;        // the config the weights were trained with
};

// runs_dir resolves run:<id> (<runs_dir>/<id>); throws gpas::Error saying what was looked for.
ModelSource resolve_model_source(const std::string& spec, const std::string& runs_dir = "runs");
void load_source_weights(const ModelSource& src, Transformer& model);

// train.init_from: the weights `spec` names (run:<id> beside run_dir) into `model`, whose
// architecture must be the source's. A source run must have finished (completed or diverged).
void load_init_weights(Transformer& model, const std::string& spec, const std::string& run_dir);
// train.epochs: ceil(epochs x examples / batch_size); examples < 0 (unknown) throws.
int64_t steps_for_epochs(const TrainConfig& t, int64_t examples);

// The SentencePiece model for text tasks: explicit, else data.tokenizer, else the prepared data's
// copy (data.source prepared/brown). Throws gpas::Error asking for --tokenizer otherwise.
std::string tokenizer_for(const RunConfig& cfg, const std::string& explicit_path = "");

}  // namespace gpas
