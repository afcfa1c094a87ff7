#include "core/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/common/build_info.h"
#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/common/fs.h"
#include "core/common/journal.h"
#include "core/common/launch_env.h"
#include "core/config/config_yaml.h"
#include "core/data/batch.h"
#include "core/model/compat.h"
#include "core/model/model.h"
#include "core/model/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/distributed.h"
#include "core/train/model_source.h"
#include "core/train/probes.h"
#include "core/train/runtime.h"
#include "core/train/schedule.h"
#include "core/train/signals.h"
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

StreamSpec stream_spec(const TrainConfig& t, const Collective& c, int64_t budget) {
  StreamSpec s;
  s.micro_batch = t.micro_batch;
  s.seq_len = t.seq_len;
  s.rank = c.rank();
  s.world = c.world();
  s.token_budget = budget;
  return s;
}

// Token-weighted mean loss over the validation stream, summed across ranks.
std::pair<double, double> evaluate(Transformer& model, const RunConfig& cfg, Collective& coll,
                                   const torch::Device& dev) {
  torch::NoGradGuard no_grad;
  model->eval();
  auto stream = open_eval_stream(cfg.data, stream_spec(cfg.train, coll, cfg.train.eval_tokens));  // budget of all ranks
  TokenBatch b;
  auto sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(dev));
  int64_t tokens = 0;
  while (stream->next(b)) {
    auto d = to_device(b, dev);
    sum += model->chunked_loss_sum(model->hidden(d.inputs), d.targets).to(torch::kFloat64);
    tokens += b.loss_tokens();
  }
  std::vector<torch::Tensor> red = {sum, torch::full({}, double(tokens), torch::dtype(torch::kFloat64).device(dev))};
  coll.allreduce_sum(red);
  model->train();
  double n = red[1].item<double>();
  if (n <= 0) throw Error("evaluation: the validation split gave no tokens");
  double loss = red[0].item<double>() / n;
  return {loss, std::exp(loss)};
}

std::string fmt_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buf[32];
  int s = int(seconds);
  std::snprintf(buf, sizeof(buf), "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return buf;
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
  TrainConfig train_cfg = cfg_in.train;  // train.epochs sets steps once the data is open
  const TrainConfig& t = train_cfg;
  if (t.batch_size % (t.micro_batch * coll->world()) != 0)
    throw Error("train.batch_size: " + std::to_string(t.batch_size) +
                " is not a multiple of micro_batch x ranks (" + std::to_string(t.micro_batch) +
                " x " + std::to_string(coll->world()) + ")");
  const int64_t accum = t.batch_size / (t.micro_batch * coll->world());

  // Data first: a bad data config fails before the run dir is touched.
  auto train_stream = open_train_stream(cfg_in.data, stream_spec(t, *coll, 0));
  if (t.epochs > 0) train_cfg.steps = steps_for_epochs(t, train_stream->examples());
  RunConfig cfg = cfg_in;
  if (cfg.model.vocab_size == 0) cfg.model.vocab_size = train_stream->vocab_size();
  if (cfg.model.vocab_size < train_stream->vocab_size())
    throw Error("model.vocab_size: " + std::to_string(cfg.model.vocab_size) + " is smaller than the " +
                std::to_string(train_stream->vocab_size()) + " token ids of the data (data.source " +
                cfg.data.source + (cfg.data.path.empty() ? "" : ", data.path " + cfg.data.path) +
                "); leave model.vocab_size unset to take the tokenizer's");

  RunResult res;
  res.run_id = run_id_of_dir(run_dir, cfg_in);  // a directory made before keeps its id
  res.run_dir = run_dir;
  make_dirs(run_dir);
  // One writer per run dir (rank 0 writes): a second trainer is refused, naming the holder.
  std::unique_ptr<FileLock> run_lock;
  if (lead && !(run_lock = FileLock::try_take(run_lock_path(run_dir))))
    throw Error(run_dir + ": run " + res.run_id + " is being " +
                holder_action(lock_holder_of(run_lock_path(run_dir))) +
                "; wait for it to end or stop it (kill -TERM <pid>), then run this again");
  // The identity of a run dir is its config: refuse to mix two runs in one directory.
  const std::string cfg_path = (fs::path(run_dir) / "config.yaml").string();
  if (path_exists(cfg_path)) {
    std::string other = run_id(load_run_config(cfg_path));
    if (other != run_id(cfg_in))
      throw Error(run_dir + ": holds run " + other + ", not " + run_id(cfg_in) +
                  " (this config); use another --run-dir or delete it");
  } else if (lead) {
    write_file_atomic(cfg_path, to_yaml(cfg_in));
  }

  // A run whose journal ends completed or diverged is left as it is (every rank reads the same).
  const std::string journal_path = (fs::path(run_dir) / "journal.jsonl").string();
  if (JournalTail end = journal_tail(journal_path); !opts.fresh && end.finished()) {
    res.status = end.status.value("status", "");
    res.steps = end.int_of(end.status, "step", 0);
    res.error = end.status.value("error", "");
    res.final_train_loss = end.num_of(end.summary, "final_train_loss");
    res.final_eval_loss = end.num_of(end.summary, "final_eval_loss");
    res.final_eval_ppl = end.num_of(end.summary, "final_eval_ppl");
    res.tokens_per_second = end.num_of(end.summary, "tokens_per_second");
    res.diverged_step = end.int_of(end.summary, "diverged_step", -1);
    if (lead)
      spdlog::info("run {} already {} at step {}: nothing to do, the run dir is unchanged "
                   "(--fresh trains it again from step 0)", res.run_id, res.status, res.steps);
    return res;
  }
  Journal journal(lead ? journal_path : "");

  Transformer model(cfg.model);
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
  res.parameters = count_parameters(cfg.model).total;
  res.world_size = coll->world();
  if (lead && !opts.quiet)  // what is trained where, before the first step (cli/train.cpp's promise)
    spdlog::info("training {} ({}{}): {} parameters, data {}{}, {} on {}{}, {} steps; run dir {}", cfg.name,
                 cfg.model.size, cfg.model.gpas.enabled ? " " + cfg.model.norm + " + GPAS" : " " + cfg.model.norm,
                 res.parameters, cfg.data.source, cfg.data.path.empty() ? "" : " " + cfg.data.path, t.precision,
                 dev.str(), coll->world() > 1 ? " x " + std::to_string(coll->world()) + " ranks" : "", t.steps,
                 run_dir);

  TrainStep step_fn(model, t, *coll);
  torch::optim::Adam& opt = step_fn.optimizer();

  TrainState state;
  // The newest checkpoint that verifies (SHA-256) and loads; newer damaged ones are named and kept.
  std::vector<std::string> skipped;
  if (lead) remove_checkpoint_temps(run_dir);
  std::string ckpt = opts.fresh ? "" : load_newest_checkpoint(run_dir, model, &opt, state, skipped);
  for (const auto& s : skipped)
    if (lead) spdlog::warn("skipping a damaged checkpoint: {}", s);
  if (!ckpt.empty()) {
    train_stream->restore(state.data);
    if (lead) spdlog::info("resuming {} from {} (step {})", res.run_id, ckpt, state.step);
  }
  int attempt = 1;
  if (lead) {
    for (const auto& j : read_journal(journal.path())) attempt += j.value("type", "") == "start";
    journal.write({{"type", "start"}, {"run_id", res.run_id}, {"name", cfg.name},
                   {"attempt", attempt}, {"host", hostname()}, {"pid", ::getpid()},
                   {"devices", dev.str() + " x" + std::to_string(coll->world())},
                   {"git_commit", git_commit()}, {"torch_version", torch_version()},
                   {"resumed_from_step", state.step}, {"skipped_checkpoints", skipped},
                   {"config", to_json(cfg)}});
    journal.status("running", state.step);
  }

  auto checkpoint = [&](int64_t step, const nlohmann::json& position) {
    if (!lead) return;
    state.step = step;
    state.data = position;
    std::string path = checkpoint_path(run_dir, step);
    save_checkpoint(path, cfg, model, &opt, state);
    journal.artifact(step, "checkpoint", path, int64_t(fs::file_size(path)));
    prune_checkpoints(run_dir, t.keep_checkpoints);
  };
  auto finish = [&](const std::string& status, int64_t step, const std::string& err = "") {
    res.status = status;
    res.steps = step;
    res.error = err;
    if (lead) {
      journal.write({{"type", "summary"}, {"status", status}, {"steps", step},
                     {"final_train_loss", res.final_train_loss},
                     {"final_eval_loss", res.final_eval_loss}, {"final_eval_ppl", res.final_eval_ppl},
                     {"tokens_per_second", res.tokens_per_second},
                     {"diverged_step", res.diverged_step},
                     {"dist", {{"backend", coll->backend()}, {"world", coll->world()},
                               {"grad_buckets", step_fn.grad_buckets()},
                               {"buckets_sent_during_backward", step_fn.buckets_overlapped()}}}});
      journal.status(status, step, err);
    }
    return res;
  };

  if (state.step >= t.steps) {  // trained to the end, but the journal never said so: close it
    res.final_train_loss = state.train_loss;
    std::tie(res.final_eval_loss, res.final_eval_ppl) = evaluate(model, cfg, *coll, dev);
    return finish("completed", state.step);
  }

  // The loop never waits for the device except at a sync point: a step that logs, evaluates,
  // checkpoints or ends the run. Loss, token count, divergence and stop votes stay on the device
  // in between, so a divergence is seen at most log_every steps late (the run still records the
  // step where it happened) and no checkpoint is written after it.
  const double start_time = now_seconds();
  const int64_t start_step = state.step;
  const auto f64 = torch::dtype(torch::kFloat64).device(dev);
  auto session_tokens = torch::zeros({}, f64);            // loss tokens of all ranks, this session
  auto first_bad = torch::full({}, -1.0, f64);            // step whose loss diverged, -1 = none
  auto bad_loss = torch::zeros({}, f64);
  int64_t tokens_this_session = 0;
  torch::Tensor loss;                                      // () the last step's mean loss
  TokenBatch host_batch;
  auto fetch = [&] {  // the next update's micro-batches, copied ahead while the device computes
    std::vector<DeviceBatch> v(accum);
    for (auto& b : v) {
      train_stream->next(host_batch);
      b = to_device(host_batch, dev);
    }
    return v;
  };
  std::vector<DeviceBatch> batches = fetch();
  model->train();
  for (int64_t step = state.step; step < t.steps; ++step) {
    const int64_t done = step + 1;
    const bool log_now = done % t.log_every == 0 || done == t.steps;
    const bool eval_now = (t.eval_every > 0 && done % t.eval_every == 0) || done == t.steps;
    const bool ckpt_now = (t.checkpoint_every > 0 && done % t.checkpoint_every == 0) || done == t.steps ||
                          done == opts.stop_at_step;
    const bool probe_now = t.probe_every > 0 && done % t.probe_every == 0;
    const bool probing = probe_now && lead;

    StepOptions so;
    so.probe = probing;
    so.stop_vote = stop_requested();
    so.need_grad_norm = log_now;
    if (probing) so.after_reduce = [&] { record_grad_probes(model, journal, done); };
    StepResult r = step_fn.run(step, batches, so);
    const nlohmann::json position = train_stream->state();
    if (done < t.steps) batches = fetch();

    loss = r.loss_sum / r.tokens.clamp_min(1.0);
    if (hooks.on_loss) hooks.on_loss(step, loss);
    session_tokens += r.tokens;
    {
      torch::NoGradGuard no_grad;
      auto bad = loss.isnan() | loss.isinf() | (loss > t.diverge_loss);
      auto first = bad & (first_bad < 0);
      first_bad = torch::where(first, torch::full({}, double(done), f64), first_bad);
      bad_loss = torch::where(first, loss, bad_loss);
    }
    // A stop signal is voted on every step; with several ranks the votes are summed with the
    // gradients and read at sync points, so every rank stops at the same step.
    // Sync points depend on the step alone, never on the rank: every rank reads the summed stop
    // votes at the same steps and so stops at the same one.
    const bool sync_point = log_now || eval_now || ckpt_now || probe_now ||
                            (coll->world() == 1 && stop_requested());
    if (!sync_point) continue;

    const double diverged_at = first_bad.item<double>();
    const double tokens_now = session_tokens.item<double>();
    state.tokens_seen += int64_t(tokens_now) - tokens_this_session;
    tokens_this_session = int64_t(tokens_now);
    if (diverged_at > 0) {
      const double bl = bad_loss.item<double>();
      res.diverged_step = int64_t(diverged_at);
      res.final_train_loss = bl;
      if (lead) {
        journal.metric(res.diverged_step, "train/loss", bl);
        spdlog::warn("run {} diverged at step {} (loss {})", res.run_id, res.diverged_step, bl);
      }
      return finish("diverged", res.diverged_step,
                    "loss " + std::to_string(bl) + " at step " + std::to_string(res.diverged_step));
    }
    const double loss_v = loss.item<double>();
    const bool stop_seen = r.stop_votes.defined() ? r.stop_votes.item<double>() > 0 : stop_requested();
    state.train_loss = loss_v;
    res.final_train_loss = loss_v;
    const double elapsed = now_seconds() - start_time;
    res.tokens_per_second = elapsed > 0 ? tokens_this_session / elapsed : 0;
    if (lead) {
      if (done % t.heartbeat_every == 0) journal.heartbeat(done);
      if (log_now) {
        const double lr = lr_at(step, t);
        journal.metric(done, "train/loss", loss_v);
        journal.metric(done, "train/lr", lr);
        journal.metric(done, "train/grad_norm", r.grad_norm.item<double>());
        journal.metric(done, "train/tokens_per_s", res.tokens_per_second);
        const double eta = elapsed / double(done - start_step) * double(t.steps - done);
        char line[256];
        std::snprintf(line, sizeof(line), "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
                      (long long)done, (long long)t.steps, loss_v, lr, res.tokens_per_second,
                      fmt_eta(eta).c_str());
        if (opts.progress) std::fprintf(stderr, "\r%s\033[K", line);
        else if (!opts.quiet) spdlog::info("{} {}", cfg.name, line);
      }
      if (probing) record_model_probes(model, journal, done);
    }
    if (eval_now) {
      auto [eloss, eppl] = evaluate(model, cfg, *coll, dev);
      res.final_eval_loss = eloss;
      res.final_eval_ppl = eppl;
      if (lead) {
        journal.metric(done, "eval/loss", eloss);
        journal.metric(done, "eval/ppl", eppl);
        if (opts.progress) std::fprintf(stderr, "\n");
        if (!opts.quiet) spdlog::info("{} step {}: eval loss {:.4f}  ppl {:.2f}", cfg.name, done, eloss, eppl);
      }
    }
    const bool stop_now = stop_seen || done == opts.stop_at_step;
    if (ckpt_now || stop_now) checkpoint(done, position);
    if (stop_now && done < t.steps) {
      if (opts.progress && lead) std::fprintf(stderr, "\n");
      return finish("cancelled", done,
                    !stop_seen            ? ""
                    : stop_requested()    ? "stopped by signal " + std::to_string(stop_signal())
                                          : "stopped with the other ranks");
    }
  }
  if (opts.progress && lead) std::fprintf(stderr, "\n");
  return finish("completed", t.steps);
}

}  // namespace gpas
