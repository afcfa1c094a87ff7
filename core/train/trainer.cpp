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
#include "core/config/config_yaml.h"
#include "core/data/batch.h"
#include "core/model/compat.h"
#include "core/model/model.h"
#include "core/model/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/model_source.h"
#include "core/train/distributed.h"
#include "core/train/probes.h"
#include "core/train/runtime.h"
#include "core/train/schedule.h"
#include "core/train/signals.h"

namespace gpas {

namespace fs = std::filesystem;

namespace {

torch::Device pick_device(const TrainConfig& t) {
  if (t.device == "cuda" && !torch::cuda::is_available())
    throw Error("train.device: cuda requested but LibTorch sees no CUDA device");
  if (t.device == "cuda" || (t.device == "auto" && torch::cuda::is_available())) {
    // One GPU per rank: the launcher either narrows CUDA_VISIBLE_DEVICES (gpas sweep, srun) or
    // shows all of them and sets LOCAL_RANK (torchrun-style).
    const char* lr = std::getenv("LOCAL_RANK");
    int n = static_cast<int>(torch::cuda::device_count());
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(lr && n > 0 ? std::atoi(lr) % n : 0));
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

std::pair<torch::Tensor, torch::Tensor> to_tensors(const TokenBatch& b, const torch::Device& dev) {
  auto opts = torch::TensorOptions().dtype(torch::kInt32);
  auto in = torch::from_blob(const_cast<int32_t*>(b.inputs.data()), {b.rows, b.seq}, opts);
  auto tg = torch::from_blob(const_cast<int32_t*>(b.targets.data()), {b.rows, b.seq}, opts);
  return {in.to(dev, torch::kInt64), tg.to(dev, torch::kInt64)};
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
    auto [in, tg] = to_tensors(b, dev);
    sum += TransformerImpl::loss_sum(model(in), tg).to(torch::kFloat64);
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

void clip_grads(const std::vector<torch::Tensor>& params, double max_norm) {
  if (max_norm > 0 && !params.empty()) torch::nn::utils::clip_grad_norm_(params, max_norm);
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
  return all.empty() ? "" : all.back();
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
  res.run_id = run_id(cfg_in);
  res.run_dir = run_dir;
  make_dirs(run_dir);
  // One writer per run dir (rank 0 writes): a second trainer is refused, naming the holder.
  std::unique_ptr<FileLock> run_lock;
  if (lead && !(run_lock = FileLock::try_take(run_lock_path(run_dir))))
    throw Error(run_dir + ": run " + res.run_id + " is being trained by " +
                describe(lock_holder_of(run_lock_path(run_dir))) +
                "; wait for it to end or stop it (kill -TERM <pid>), then run this again");
  // The identity of a run dir is its config: refuse to mix two runs in one directory.
  const std::string cfg_path = (fs::path(run_dir) / "config.yaml").string();
  if (path_exists(cfg_path)) {
    std::string other = run_id(load_run_config(cfg_path));
    if (other != res.run_id)
      throw Error(run_dir + ": holds run " + other + ", not " + res.run_id +
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

  std::vector<torch::Tensor> trainable, gates, others;
  for (auto& p : model->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  for (auto& g : model->gates())
    if (g.requires_grad()) gates.push_back(g);
  for (auto& p : trainable) {
    bool is_gate = false;
    for (auto& g : gates) is_gate |= p.is_same(g);
    if (!is_gate) others.push_back(p);
  }
  torch::optim::Adam opt(trainable, torch::optim::AdamOptions(t.lr)
                                        .betas({t.adam_beta1, t.adam_beta2})
                                        .eps(t.adam_eps)
                                        .weight_decay(t.weight_decay));

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

  auto checkpoint = [&](int64_t step) {
    if (!lead) return;
    state.step = step;
    state.data = train_stream->state();
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
                     {"diverged_step", res.diverged_step}});
      journal.status(status, step, err);
    }
    return res;
  };

  if (state.step >= t.steps) {  // trained to the end, but the journal never said so: close it
    res.final_train_loss = state.train_loss;
    std::tie(res.final_eval_loss, res.final_eval_ppl) = evaluate(model, cfg, *coll, dev);
    return finish("completed", state.step);
  }

  const bool mixed = t.precision == "bf16-mixed";
  const double start_time = now_seconds();
  const int64_t start_step = state.step;
  int64_t tokens_this_session = 0;
  std::vector<TokenBatch> micro(accum);
  model->train();
  for (int64_t step = state.step; step < t.steps; ++step) {
    const double lr = lr_at(step, t);
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);

    // The whole update's micro-batches first: the loss is a token-weighted mean over all of them.
    int64_t local_tokens = 0;
    for (auto& b : micro) {
      train_stream->next(b);
      local_tokens += b.loss_tokens();
    }
    double step_tokens = double(local_tokens);
    if (coll->world() > 1) {  // alone, no device tensor and no sync
      std::vector<torch::Tensor> count = {torch::full({}, step_tokens, torch::dtype(torch::kFloat64).device(dev))};
      coll->allreduce_sum(count);
      step_tokens = count[0].item<double>();
    }

    // A stop signal is sampled once per step; with several ranks they agree on it through the
    // gradient all-reduce, so no rank waits in a collective that the others have left.
    bool stop_seen = stop_requested();
    const bool probing = t.probe_every > 0 && (step + 1) % t.probe_every == 0 && lead;
    opt.zero_grad();
    auto loss_sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(dev));
    for (int64_t m = 0; m < accum; ++m) {
      auto [in, tg] = to_tensors(micro[m], dev);
      model->probe = probing && m == 0;
      if (mixed) compat::set_bf16_autocast(dev, true);
      auto logits = model(in);                                  // (B, T, V)
      if (mixed) compat::set_bf16_autocast(dev, false);
      auto l = TransformerImpl::loss_sum(logits, tg);           // ()
      (l / step_tokens).backward();
      loss_sum += l.detach().to(torch::kFloat64);
    }
    model->probe = false;
    if (coll->world() > 1) {
      std::vector<torch::Tensor> grads;
      for (auto& p : trainable) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads.push_back(p.grad());
      }
      grads.push_back(loss_sum);
      auto stop_votes = torch::full({}, stop_seen ? 1.0 : 0.0, torch::dtype(torch::kFloat64).device(dev));
      grads.push_back(stop_votes);
      coll->allreduce_sum(grads);
      stop_seen = stop_votes.item<double>() > 0;
    }
    torch::Tensor loss = loss_sum / step_tokens;
    if (hooks.on_loss) hooks.on_loss(step, loss);
    const double loss_v = loss.item<double>();
    tokens_this_session += int64_t(step_tokens);
    state.tokens_seen += int64_t(step_tokens);
    if (!std::isfinite(loss_v) || loss_v > t.diverge_loss) {
      res.diverged_step = step + 1;
      res.final_train_loss = loss_v;
      if (lead) {
        journal.metric(step + 1, "train/loss", loss_v);
        spdlog::warn("run {} diverged at step {} (loss {})", res.run_id, step + 1, loss_v);
      }
      return finish("diverged", step + 1, "loss " + std::to_string(loss_v) + " at step " +
                                              std::to_string(step + 1));
    }
    if (probing) record_grad_probes(model, journal, step + 1);
    // The logged norm is the one before clipping, over all trainable parameters.
    double gnorm = NAN;
    if ((step + 1) % t.log_every == 0 || step + 1 == t.steps) gnorm = grad_norm(trainable);
    if (!gates.empty() && t.gate_grad_clip > 0) {
      clip_grads(gates, t.gate_grad_clip);
      clip_grads(others, t.grad_clip);
    } else {
      clip_grads(trainable, t.grad_clip);
    }
    opt.step();
    const int64_t done = step + 1;
    state.train_loss = loss_v;
    res.final_train_loss = loss_v;

    const double elapsed = now_seconds() - start_time;
    res.tokens_per_second = elapsed > 0 ? tokens_this_session / elapsed : 0;
    if (lead) {
      if (done % t.heartbeat_every == 0) journal.heartbeat(done);
      if (done % t.log_every == 0 || done == t.steps) {
        journal.metric(done, "train/loss", loss_v);
        journal.metric(done, "train/lr", lr);
        journal.metric(done, "train/grad_norm", gnorm);
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
    if ((t.eval_every > 0 && done % t.eval_every == 0) || done == t.steps) {
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
    if (coll->world() == 1) stop_seen = stop_requested();  // alone: as late as possible
    const bool stop_now = stop_seen || done == opts.stop_at_step;
    if ((t.checkpoint_every > 0 && done % t.checkpoint_every == 0) || done == t.steps || stop_now)
      checkpoint(done);
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
