#include "core/train/trainer.h"

#include <cmath>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/launch_env.h"
#include "core/data/batch.h"
#include "core/model/model.h"
#include "core/train/checkpoint.h"
#include "core/train/distributed.h"
#include "core/train/loop.h"
#include "core/train/model_source.h"
#include "core/train/probes.h"
#include "core/train/run_dir.h"
#include "core/train/runtime.h"
#include "core/train/step.h"

namespace gpas {

namespace fs = std::filesystem;

namespace {

torch::Device pick_device(const TrainConfig& t) {
  if (t.device == "cuda" && !torch::cuda::is_available())
    throw Error("train.device: cuda requested but LibTorch sees no CUDA device");
  if (t.device == "cuda" || (t.device == "auto" && torch::cuda::is_available())) {
    // One GPU per rank: the launcher either narrows CUDA_VISIBLE_DEVICES (gpas sweep, srun) or
    // shows all of them and sets LOCAL_RANK (torchrun-style).
    const int local = launch_env().local_rank;
    int n = static_cast<int>(torch::cuda::device_count());
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local >= 0 && n > 0 ? local % n : 0));
  }
  return torch::Device(torch::kCPU);
}

// The data a run trains on, and the config completed from it: train.epochs sets train.steps
// (in `train` only: the config stored with the run keeps what was asked for), an unset
// model.vocab_size takes the tokenizer's.
struct TrainData {
  RunConfig cfg;
  TrainConfig train;
  std::unique_ptr<BatchSource> stream;
  int64_t accum = 1;  // micro-batches per update on each rank
};

TrainData open_train_data(const RunConfig& cfg_in, const Collective& coll) {
  TrainData d;
  d.train = cfg_in.train;
  const TrainConfig& t = d.train;
  if (t.batch_size % (t.micro_batch * coll.world()) != 0)
    throw Error("train.batch_size: " + std::to_string(t.batch_size) +
                " is not a multiple of micro_batch x ranks (" + std::to_string(t.micro_batch) +
                " x " + std::to_string(coll.world()) + ")");
  d.accum = t.batch_size / (t.micro_batch * coll.world());
  d.stream = open_train_stream(cfg_in.data, stream_spec(t, coll, 0));
  if (t.epochs > 0) d.train.steps = steps_for_epochs(t, d.stream->examples());
  d.cfg = cfg_in;
  RunConfig& cfg = d.cfg;
  if (cfg.model.vocab_size == 0) cfg.model.vocab_size = d.stream->vocab_size();
  if (cfg.model.vocab_size < d.stream->vocab_size())
    throw Error("model.vocab_size: " + std::to_string(cfg.model.vocab_size) + " is smaller than the " +
                std::to_string(d.stream->vocab_size()) + " token ids of the data (data.source " +
                cfg.data.source + (cfg.data.path.empty() ? "" : ", data.path " + cfg.data.path) +
                "); leave model.vocab_size unset to take the tokenizer's");
  return d;
}

// What the journal of a finished run recorded.
RunResult recorded_result(RunResult res, const JournalTail& end) {
  res.status = end.status.value("status", "");
  res.steps = end.int_of(end.status, "step", 0);
  res.error = end.status.value("error", "");
  res.final_train_loss = end.num_of(end.summary, "final_train_loss");
  res.final_eval_loss = end.num_of(end.summary, "final_eval_loss");
  res.final_eval_ppl = end.num_of(end.summary, "final_eval_ppl");
  res.tokens_per_second = end.num_of(end.summary, "tokens_per_second");
  res.diverged_step = end.int_of(end.summary, "diverged_step", -1);
  return res;
}

// The model to train: initialised from train.seed, then train.init_from's weights and
// train.fixed_gates_from's gates where set; on the device, in bf16 where train.precision says so.
Transformer build_model(const ModelConfig& mc, const TrainConfig& t, const std::string& run_dir,
                        const torch::Device& dev) {
  Transformer model(mc);
  model->init_weights(static_cast<uint64_t>(t.seed));
  model->fused_norm = t.fused_norm;
  if (!t.init_from.empty()) load_init_weights(model, t.init_from, run_dir);  // model_source.h
  if (!t.fixed_gates_from.empty()) {
    // run:<id> names a run beside this one (<workdir>/runs/<id>); anything else is a directory.
    const std::string& from = t.fixed_gates_from;
    load_fixed_gates(model, from.rfind("run:", 0) == 0
                                ? (fs::path(run_dir + "/.").lexically_normal().parent_path().parent_path() /
                                   from.substr(4)).string()
                                : from);
  }
  if (t.precision == "bf16") model->to(dev, torch::kBFloat16);
  else model->to(dev);
  return model;
}

// What the lead prints before the first step (cli/train.cpp's promise): what is trained where.
void announce(const RunConfig& cfg, const TrainConfig& t, int64_t parameters, const torch::Device& dev,
              int world, const std::string& run_dir) {
  spdlog::info("training {} ({}{}): {} parameters, data {}{}, {} on {}{}, {} steps; run dir {}", cfg.name,
               cfg.model.size, cfg.model.gpas.enabled ? " " + cfg.model.norm + " + GPAS" : " " + cfg.model.norm,
               parameters, cfg.data.source, cfg.data.path.empty() ? "" : " " + cfg.data.path, t.precision,
               dev.str(), world > 1 ? " x " + std::to_string(world) + " ranks" : "", t.steps, run_dir);
}

}  // namespace

std::pair<double, double> evaluate_model(Transformer& model, const RunConfig& cfg) {
  auto single = make_single_process();
  return evaluate(model, cfg, *single, model->parameters().front().device());
}

std::string latest_checkpoint(const std::string& run_dir) {
  auto all = list_checkpoints(run_dir);
  std::vector<std::string> skipped;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (std::string bad = verify_checkpoint(*it); !bad.empty()) {
      skipped.push_back(*it + ": " + bad);
      continue;
    }
    for (const auto& s : skipped) spdlog::warn("skipping a damaged checkpoint: {}", s);
    if (!path_exists(checksum_path(*it)))
      spdlog::warn("{}: no {} beside it (written by an older gpas, or removed): its integrity is not "
                   "checked", *it, std::filesystem::path(checksum_path(*it)).filename().string());
    return *it;
  }
  if (all.empty()) return "";
  std::string why;
  for (const auto& s : skipped) why += "\n  " + s;
  throw Error(run_dir + ": no checkpoint of this run verifies:" + why);
}

RunResult train_run(const RunConfig& cfg_in, const std::string& run_dir, const TrainOptions& opts,
                    const TrainHooks& hooks) {
  setup_threads();
  const torch::Device dev = pick_device(cfg_in.train);
  auto coll = make_collective_from_env(dev);
  const bool lead = coll->rank() == 0;
  // Data first: a bad data config fails before the run dir is touched.
  TrainData data = open_train_data(cfg_in, *coll);
  const RunConfig& cfg = data.cfg;
  const TrainConfig& t = data.train;

  RunDir dir(run_dir, cfg_in, lead);
  RunResult res;
  res.run_id = dir.run_id();
  res.run_dir = run_dir;
  if (auto end = dir.finished(); end && !opts.fresh) {  // every rank reads the same tail
    res = recorded_result(res, *end);
    if (lead)
      spdlog::info("run {} already {} at step {}: nothing to do, the run dir is unchanged "
                   "(--fresh trains it again from step 0)", res.run_id, res.status, res.steps);
    return res;
  }
  dir.open_journal();

  Transformer model = build_model(cfg.model, t, run_dir, dev);
  res.parameters = count_parameters(cfg.model).total;
  res.world_size = coll->world();
  if (lead && !opts.quiet) announce(cfg, t, res.parameters, dev, coll->world(), run_dir);
  TrainStep step_fn(model, t, *coll);
  TrainState state;
  if (std::string ckpt = dir.resume(model, step_fn.optimizer(), state, opts.fresh); !ckpt.empty()) {
    data.stream->restore(state.data);
    if (lead) spdlog::info("resuming {} from {} (step {})", res.run_id, ckpt, state.step);
  }
  dir.record_start(cfg, dev.str() + " x" + std::to_string(coll->world()), state.step);

  TrainSession s{cfg, t, opts, hooks, *coll, dev, dir, model, step_fn, *data.stream, data.accum, state, res};
  return train_loop(s);
}

}  // namespace gpas
