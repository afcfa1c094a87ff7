// Batched log-likelihood scoring. Requests are sorted by length (longest first, ties by index) so
// a batch pads little; the order depends only on the requests, so results do not depend on
// which other tasks run. Right padding never reaches earlier positions (causal attention).
#include "core/train/mc_eval.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/common/fs.h"
#include "core/train/model_source.h"

namespace gpas {

std::vector<double> loglikelihoods(Transformer& model, const std::vector<McTokens>& reqs,
                                   int64_t batch) {
  torch::NoGradGuard ng;
  model->eval();
  const torch::Device dev = model->parameters().front().device();
  const int64_t max_len = model->cfg.max_positions;
  struct Item {
    std::vector<int32_t> input;  // what the model reads
    int64_t cont = 0;            // the last `cont` targets are the continuation
    std::vector<int32_t> target;
  };
  std::vector<Item> items(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::vector<int32_t> all = reqs[i].context;
    all.insert(all.end(), reqs[i].continuation.begin(), reqs[i].continuation.end());
    if (int64_t(all.size()) > max_len + 1) all.erase(all.begin(), all.end() - (max_len + 1));
    Item& it = items[i];
    it.input.assign(all.begin(), all.end() - 1);
    it.target.assign(all.begin() + 1, all.end());
    it.cont = std::min<int64_t>(int64_t(reqs[i].continuation.size()), int64_t(it.target.size()));
  }
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].input.size() > items[b].input.size(); });
  std::vector<double> out(items.size(), 0.0);
  for (size_t b0 = 0; b0 < order.size(); b0 += size_t(batch)) {
    size_t b1 = std::min(order.size(), b0 + size_t(batch));
    const int64_t T = int64_t(items[order[b0]].input.size()), B = int64_t(b1 - b0);
    std::vector<int64_t> in(B * T, 0), tg(B * T, -1);
    for (int64_t r = 0; r < B; ++r) {
      const Item& it = items[order[b0 + r]];
      const int64_t n = int64_t(it.input.size());
      for (int64_t t = 0; t < n; ++t) in[r * T + t] = it.input[t];
      for (int64_t t = n - it.cont; t < n; ++t) tg[r * T + t] = it.target[t];
    }
    auto tokens = torch::from_blob(in.data(), {B, T}, torch::kInt64).to(dev);
    auto targets = torch::from_blob(tg.data(), {B, T}, torch::kInt64).to(dev);
    auto mask = targets >= 0;                                              // (B, T)
    auto logits = model(tokens).to(torch::kFloat32);                       // (B, T, V)
    auto picked = logits.index({mask});                                    // (N, V)
    auto lp = torch::log_softmax(picked, -1).gather(1, targets.index({mask}).unsqueeze(1));  // (N, 1)
    auto row = torch::arange(B, torch::TensorOptions().dtype(torch::kInt64).device(dev))
                   .unsqueeze(1).expand({B, T}).index({mask});             // (N)
    auto sums = torch::zeros({B}, torch::TensorOptions().dtype(torch::kFloat64).device(dev));
    sums.index_add_(0, row, lp.squeeze(1).to(torch::kFloat64));
    sums = sums.cpu();
    for (int64_t r = 0; r < B; ++r) out[order[b0 + r]] = sums[r].item<double>();
  }
  return out;
}

std::vector<std::string> parse_task_list(const std::string& list) {
  const auto& all = mc_task_names();
  if (list.empty()) return {};  // every task whose file exists
  if (list == "all") return all;  // all seven, each file required
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string t; std::getline(ss, t, ',');) {
    if (t.empty()) continue;
    if (std::find(all.begin(), all.end(), t) == all.end())
      throw Error("unknown task '" + t + "' (one of mmlu, winogrande, piqa, openbookqa, "
                  "hellaswag, boolq, arc_easy, or all)");
    out.push_back(t);
  }
  return out;
}

std::vector<TaskResult> evaluate_downstream(Transformer& model, const Tokenizer& tok,
                                            const DownstreamOptions& o,
                                            const std::function<void(const TaskResult&)>& on_task) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(o.dir)) throw Error(o.dir + ": no such task directory");
  std::vector<std::string> tasks = o.tasks;
  const bool explicit_tasks = !tasks.empty();
  if (!explicit_tasks) tasks = mc_task_names();
  std::vector<TaskResult> results;
  for (const auto& name : tasks) {
    std::string path = (fs::path(o.dir) / (name + ".jsonl")).string();
    if (!path_exists(path)) {
      if (explicit_tasks)
        throw Error(path + ": missing (one JSONL file per task; see README, Downstream evaluation)");
      continue;
    }
    McTask task = load_mc_task(name, path, o.limit);
    std::vector<McTokens> reqs;
    for (const auto& d : task.docs)
      for (const auto& r : d.requests) reqs.push_back(encode_mc_request(tok, r));
    for (const auto& r : reqs)
      for (const auto* ids : {&r.context, &r.continuation})
        for (int32_t id : *ids)
          if (id >= model->cfg.vocab_size)
          throw Error(path + ": the tokenizer gives id " + std::to_string(id) + ", beyond the model's vocabulary (" +
                      std::to_string(model->cfg.vocab_size) + "): wrong --tokenizer?");
    std::vector<double> ll = loglikelihoods(model, reqs, std::max<int64_t>(1, o.batch));
    std::vector<std::vector<double>> per_doc;
    size_t k = 0;
    for (const auto& d : task.docs) {
      per_doc.emplace_back(ll.begin() + k, ll.begin() + k + d.requests.size());
      k += d.requests.size();
    }
    results.push_back({name, task.has_acc_norm, score_mc_task(task, per_doc)});
    if (on_task) on_task(results.back());
  }
  if (results.empty()) throw Error(o.dir + ": no task files (<task>.jsonl for mmlu, winogrande, piqa, openbookqa, hellaswag, boolq, arc_easy)");
  return results;
}

bool downstream_after_training(const RunConfig& cfg, const std::string& run_dir) {
  namespace fs = std::filesystem;
  if (cfg.downstream.dir.empty()) return false;
  ModelSource src = resolve_model_source(run_dir);
  const std::string jpath = (fs::path(run_dir) / "journal.jsonl").string();
  for (const auto& j : read_journal(jpath))
    if (j.value("type", "") == "metric" && j.value("key", "") == "downstream/average/acc" &&
        j.value("step", int64_t(-1)) == src.step)
      return false;  // evaluated already (a rerun of a finished run)
  Tokenizer tok = Tokenizer::load(tokenizer_for(src.cfg));
  Transformer model(src.cfg.model);
  load_source_weights(src, model);
  const bool gpu = cfg.train.device == "cuda" || (cfg.train.device == "auto" && torch::cuda::is_available());
  model->to(gpu ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU));
  DownstreamOptions o;
  o.dir = cfg.downstream.dir;
  o.tasks = parse_task_list(cfg.downstream.tasks);
  o.limit = cfg.downstream.limit;
  o.batch = cfg.downstream.batch;
  auto rs = evaluate_downstream(model, tok, o);
  // The trainer let go of the run lock when it finished: take it again to write (one writer).
  auto lock = take_run_lock(run_dir, "gpas train (downstream eval)", "evaluate it with `gpas eval`");
  Journal j(jpath);
  journal_downstream(j, src.step, rs);
  return true;
}

double downstream_average(const std::vector<TaskResult>& results) {
  if (results.empty()) return NAN;
  double s = 0;
  for (const auto& r : results) s += r.score.acc.value;
  return s / double(results.size());
}

void journal_downstream(Journal& j, int64_t step, const std::vector<TaskResult>& results,
                        const std::string& prefix) {
  for (const auto& r : results) {
    const std::string k = prefix + r.task + "/";
    j.metric(step, k + "acc", r.score.acc.value);
    j.metric(step, k + "acc_stderr", r.score.acc.stderr_);
    if (r.has_acc_norm) {
      j.metric(step, k + "acc_norm", r.score.acc_norm.value);
      j.metric(step, k + "acc_norm_stderr", r.score.acc_norm.stderr_);
    }
    j.metric(step, k + "n", double(r.score.n));
    for (const auto& [g, m] : r.score.groups) j.metric(step, prefix + r.task + "_" + g + "/acc", m.value);
  }
  j.metric(step, prefix + "average/acc", downstream_average(results));
}

}  // namespace gpas
