// The training loop of one session as a sequence of calls: the update (TrainStep, step.h), a
// divergence watch kept on the device, logging, evaluation and checkpoints (RunDir, run_dir.h),
// until the last step, a divergence or a stop. Not here: the device, the data, the model's
// set-up and resume (trainer.cpp).
#pragma once
#include <utility>

#include <torch/torch.h>

#include "core/config/config.h"
#include "core/data/batch.h"
#include "core/model/model.h"
#include "core/train/checkpoint.h"
#include "core/train/distributed.h"
#include "core/train/run_dir.h"
#include "core/train/step.h"
#include "core/train/trainer.h"

namespace gpas {

// What a session of training works with, set up by train_run (trainer.cpp).
struct TrainSession {
  const RunConfig& cfg;  // model.vocab_size resolved
  const TrainConfig& t;  // train.steps resolved
  const TrainOptions& opts;
  const TrainHooks& hooks;
  Collective& coll;
  const torch::Device dev;
  RunDir& dir;
  Transformer& model;
  TrainStep& step_fn;
  BatchSource& stream;
  const int64_t accum;
  TrainState& state;  // what the next checkpoint saves
  RunResult& res;     // what the run returns
  bool lead() const { return coll.rank() == 0; }
};

// Trains from s.state.step to the last step, a divergence or a stop, and ends the run: its
// result, and (lead) the journal's summary and final status. The loop never waits for the device
// except at a sync point: a step that logs, evaluates, checkpoints, probes or ends the run. Loss,
// token count, divergence and stop votes stay on the device in between, so a divergence is seen
// at most log_every steps late (the run still records the step where it happened) and no
// checkpoint is written after it. A run trained to its end whose journal never said so is
// evaluated and closed.
RunResult train_loop(TrainSession& s);

// This rank's share of a stream of the run's data (budget: loss tokens of all ranks, 0 = all).
StreamSpec stream_spec(const TrainConfig& t, const Collective& c, int64_t budget);
// Token-weighted mean loss and perplexity over the validation stream, summed across ranks.
std::pair<double, double> evaluate(Transformer& model, const RunConfig& cfg, Collective& coll,
                                   const torch::Device& dev);

}  // namespace gpas
