// One training run: builds the model and the data streams from a resolved RunConfig, trains with
// Adam on the paper's schedule, evaluates, probes, checkpoints (atomically, resumably) and writes
// the run journal. Knows nothing about YAML, SQLite or sweeps. Its pieces: run_dir.h (lock,
// identity, journal, resume, checkpoints), loop.h (the loop and evaluation), step.h (one update).
#pragma once
#include <functional>
#include <string>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/model/model.h"

namespace gpas {

struct RunResult {
  std::string run_id;
  std::string run_dir;
  std::string status;  // completed | diverged | cancelled | failed
  int64_t steps = 0;   // optimizer steps done
  int64_t diverged_step = -1;
  double final_train_loss = NAN;
  double final_eval_loss = NAN;
  double final_eval_ppl = NAN;
  double tokens_per_second = 0;
  int64_t parameters = 0;
  int world_size = 1;  // data-parallel ranks that trained it
  std::string error;
};

struct TrainOptions {
  bool fresh = false;           // ignore existing checkpoints in the run dir
  int64_t stop_at_step = -1;    // checkpoint and stop (status cancelled) after this step; tests
  bool progress = false;        // a live progress line on stderr
  bool quiet = false;           // no log lines at all
};

struct TrainHooks {
  // Called with the step's mean loss before divergence checks; tests inject NaN here.
  std::function<void(int64_t step, torch::Tensor& loss)> on_loss;
};

RunResult train_run(const RunConfig& cfg, const std::string& run_dir, const TrainOptions& opts = {},
                    const TrainHooks& hooks = {});

// Token-weighted eval loss and perplexity of `model` on the config's validation stream.
std::pair<double, double> evaluate_model(Transformer& model, const RunConfig& cfg);

// The newest checkpoint of run_dir that matches its .sha256 ("" if the run has none); each newer
// one that does not is skipped with a warning, as resume skips it; throws if none verifies. Warns
// when the one taken has no .sha256. (eval, train.init_from, fixed gates and importance use it.)
std::string latest_checkpoint(const std::string& run_dir);

}  // namespace gpas
