#include "core/train/loop.h"

#include <cmath>
#include <cstdio>
#include <tuple>

#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/journal.h"
#include "core/train/probes.h"
#include "core/train/schedule.h"
#include "core/train/signals.h"

namespace gpas {

StreamSpec stream_spec(const TrainConfig& t, const Collective& c, int64_t budget) {
  StreamSpec s;
  s.micro_batch = t.micro_batch;
  s.seq_len = t.seq_len;
  s.rank = c.rank();
  s.world = c.world();
  s.token_budget = budget;
  return s;
}

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
    const int64_t rows = d.inputs.size(0), shards = cpu_shards(dev, rows);
    std::vector<torch::Tensor> part(shards);  // each shard's loss sum, added in shard order
    parallel_shards(rows, shards, [&](int64_t s, int64_t r0, int64_t r1) {
      part[s] = model->chunked_loss_sum(model->hidden(d.inputs.slice(0, r0, r1)), d.targets.slice(0, r0, r1));
    });
    for (const auto& p : part) sum += p.to(torch::kFloat64);
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

namespace {

std::string fmt_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buf[32];
  int s = int(seconds);
  std::snprintf(buf, sizeof(buf), "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

// Ends the run: its result, and (lead) the journal's summary and final status.
RunResult finish(TrainSession& s, const std::string& status, int64_t step, const std::string& err = "") {
  RunResult& res = s.res;
  res.status = status;
  res.steps = step;
  res.error = err;
  if (s.lead()) {
    Journal& journal = s.dir.journal();
    journal.write({{"type", "summary"}, {"status", status}, {"steps", step},
                   {"final_train_loss", res.final_train_loss},
                   {"final_eval_loss", res.final_eval_loss}, {"final_eval_ppl", res.final_eval_ppl},
                   {"tokens_per_second", res.tokens_per_second},
                   {"diverged_step", res.diverged_step},
                   {"dist", {{"backend", s.coll.backend()}, {"world", s.coll.world()},
                             {"grad_buckets", s.step_fn.grad_buckets()},
                             {"buckets_sent_during_backward", s.step_fn.buckets_overlapped()}}}});
    journal.status(status, step, err);
  }
  return res;
}

// What happens after update `done` (1-based) besides the update itself.
struct StepEvents {
  bool log, eval, checkpoint, probe;
};

StepEvents events_after(int64_t done, const TrainConfig& t, const TrainOptions& opts) {
  StepEvents e;
  e.log = done % t.log_every == 0 || done == t.steps;
  e.eval = (t.eval_every > 0 && done % t.eval_every == 0) || done == t.steps;
  e.checkpoint = (t.checkpoint_every > 0 && done % t.checkpoint_every == 0) || done == t.steps ||
                 done == opts.stop_at_step;
  e.probe = t.probe_every > 0 && done % t.probe_every == 0;
  return e;
}

// Loss tokens of all ranks and the first diverged step, summed and kept on the device between
// sync points, so that counting them never waits for the device.
class DeviceTally {
 public:
  explicit DeviceTally(const torch::Device& dev)
      : f64_(torch::dtype(torch::kFloat64).device(dev)),
        tokens_(torch::zeros({}, f64_)),
        first_bad_(torch::full({}, -1.0, f64_)),
        bad_loss_(torch::zeros({}, f64_)) {}
  // Update `done` took `tokens` and gave `loss` (both () on the device).
  void add(const torch::Tensor& tokens, const torch::Tensor& loss, int64_t done, double diverge_loss) {
    tokens_ += tokens;
    torch::NoGradGuard no_grad;
    auto bad = loss.isnan() | loss.isinf() | (loss > diverge_loss);
    auto first = bad & (first_bad_ < 0);
    first_bad_ = torch::where(first, torch::full({}, double(done), f64_), first_bad_);
    bad_loss_ = torch::where(first, loss, bad_loss_);
  }
  // At a sync point: the step whose loss diverged first (-1: none) and its loss.
  int64_t diverged_step() const { return int64_t(first_bad_.item<double>()); }
  double diverged_loss() const { return bad_loss_.item<double>(); }
  // At a sync point: reads the loss tokens of this session; returns those added since the last read.
  int64_t read_tokens() {
    const int64_t now = int64_t(tokens_.item<double>());
    const int64_t added = now - session_tokens_;
    session_tokens_ = now;
    return added;
  }
  int64_t session_tokens() const { return session_tokens_; }  // as of the last read

 private:
  torch::TensorOptions f64_;
  torch::Tensor tokens_, first_bad_, bad_loss_;
  int64_t session_tokens_ = 0;
};

// Update `step` (0-based) on `batches`, with the stop vote of this rank and the lead's probes.
StepResult train_step(TrainSession& s, int64_t step, std::vector<DeviceBatch>& batches, const StepEvents& e) {
  const bool probing = e.probe && s.lead();
  StepOptions so;
  so.probe = probing;
  so.stop_vote = stop_requested();
  so.need_grad_norm = e.log;
  if (probing) so.after_reduce = [&] { record_grad_probes(s.model, s.dir.journal(), step + 1); };
  return s.step_fn.run(step, batches, so);
}

// The lead's lines at a sync point after update `done`: heartbeat, metrics and the progress line
// where it logs, model probes where it probes.
void log_step(TrainSession& s, int64_t done, const StepResult& r, const StepEvents& e, double loss,
              double elapsed, int64_t start_step) {
  if (!s.lead()) return;
  const TrainConfig& t = s.t;
  Journal& journal = s.dir.journal();
  if (done % t.heartbeat_every == 0) journal.heartbeat(done);
  if (e.log) {
    const double lr = lr_at(done - 1, t);
    journal.metric(done, "train/loss", loss);
    journal.metric(done, "train/lr", lr);
    journal.metric(done, "train/grad_norm", r.grad_norm.item<double>());
    journal.metric(done, "train/tokens_per_s", s.res.tokens_per_second);
    const double eta = elapsed / double(done - start_step) * double(t.steps - done);
    char line[256];
    std::snprintf(line, sizeof(line), "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
                  (long long)done, (long long)t.steps, loss, lr, s.res.tokens_per_second,
                  fmt_eta(eta).c_str());
    if (s.opts.progress) std::fprintf(stderr, "\r%s\033[K", line);
    else if (!s.opts.quiet) spdlog::info("{} {}", s.cfg.name, line);
  }
  if (e.probe) record_model_probes(s.model, journal, done);
}

// Evaluates on the validation stream (every rank), records it and (lead) journals it.
void evaluate_and_log(TrainSession& s, int64_t done) {
  auto [eloss, eppl] = evaluate(s.model, s.cfg, s.coll, s.dev);
  s.res.final_eval_loss = eloss;
  s.res.final_eval_ppl = eppl;
  if (!s.lead()) return;
  s.dir.journal().metric(done, "eval/loss", eloss);
  s.dir.journal().metric(done, "eval/ppl", eppl);
  if (s.opts.progress) std::fprintf(stderr, "\n");
  if (!s.opts.quiet) spdlog::info("{} step {}: eval loss {:.4f}  ppl {:.2f}", s.cfg.name, done, eloss, eppl);
}

// The lead saves the state after update `done`, the train stream at `position`.
void checkpoint(TrainSession& s, int64_t done, const nlohmann::json& position) {
  if (!s.lead()) return;
  s.state.step = done;
  s.state.data = position;
  s.dir.save(s.cfg, s.model, s.step_fn.optimizer(), s.state, s.t.keep_checkpoints);
}

}  // namespace

RunResult train_loop(TrainSession& s) {
  const TrainConfig& t = s.t;
  RunResult& res = s.res;
  if (s.state.step >= t.steps) {  // trained to the end, but the journal never said so: close it
    res.final_train_loss = s.state.train_loss;
    std::tie(res.final_eval_loss, res.final_eval_ppl) = evaluate(s.model, s.cfg, s.coll, s.dev);
    return finish(s, "completed", s.state.step);
  }
  const double start_time = now_seconds();
  const int64_t start_step = s.state.step;
  DeviceTally tally(s.dev);
  TokenBatch host_batch;
  auto fetch = [&] {  // the next update's micro-batches, copied ahead while the device computes
    std::vector<DeviceBatch> v(s.accum);
    for (auto& b : v) {
      s.stream.next(host_batch);
      b = to_device(host_batch, s.dev);
    }
    return v;
  };
  std::vector<DeviceBatch> batches = fetch();
  s.model->train();
  for (int64_t step = s.state.step; step < t.steps; ++step) {
    const int64_t done = step + 1;
    const StepEvents e = events_after(done, t, s.opts);
    StepResult r = train_step(s, step, batches, e);
    const nlohmann::json position = s.stream.state();
    if (done < t.steps) batches = fetch();

    torch::Tensor loss = r.loss_sum / r.tokens.clamp_min(1.0);  // () the step's mean loss
    if (s.hooks.on_loss) s.hooks.on_loss(step, loss);
    tally.add(r.tokens, loss, done, t.diverge_loss);
    // A stop signal is voted on every step; with several ranks the votes are summed with the
    // gradients and read at sync points. Sync points depend on the step alone, never on the
    // rank: every rank reads the summed stop votes at the same steps and so stops at the same one.
    const bool sync_point = e.log || e.eval || e.checkpoint || e.probe ||
                            (s.coll.world() == 1 && stop_requested());
    if (!sync_point) continue;

    const int64_t diverged_at = tally.diverged_step();
    s.state.tokens_seen += tally.read_tokens();
    if (diverged_at > 0) {
      const double bl = tally.diverged_loss();
      res.diverged_step = diverged_at;
      res.final_train_loss = bl;
      if (s.lead()) {
        s.dir.journal().metric(res.diverged_step, "train/loss", bl);
        spdlog::warn("run {} diverged at step {} (loss {})", res.run_id, res.diverged_step, bl);
      }
      return finish(s, "diverged", res.diverged_step,
                    "loss " + std::to_string(bl) + " at step " + std::to_string(res.diverged_step));
    }
    const double loss_v = loss.item<double>();
    const bool stop_seen = r.stop_votes.defined() ? r.stop_votes.item<double>() > 0 : stop_requested();
    s.state.train_loss = loss_v;
    res.final_train_loss = loss_v;
    const double elapsed = now_seconds() - start_time;
    res.tokens_per_second = elapsed > 0 ? tally.session_tokens() / elapsed : 0;
    log_step(s, done, r, e, loss_v, elapsed, start_step);
    if (e.eval) evaluate_and_log(s, done);
    const bool stop_now = stop_seen || done == s.opts.stop_at_step;
    if (e.checkpoint || stop_now) checkpoint(s, done, position);
    if (stop_now && done < t.steps) {
      if (s.opts.progress && s.lead()) std::fprintf(stderr, "\n");
      return finish(s, "cancelled", done,
                    !stop_seen         ? ""
                    : stop_requested() ? "stopped by signal " + std::to_string(stop_signal())
                                       : "stopped with the other ranks");
    }
  }
  if (s.opts.progress && s.lead()) std::fprintf(stderr, "\n");
  return finish(s, "completed", t.steps);
}

}  // namespace gpas
