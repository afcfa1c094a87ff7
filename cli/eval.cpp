// gpas eval: zero-shot multiple-choice accuracy (Table 3's seven tasks, LM Evaluation Harness
// scoring) of a run, checkpoint or export; a run's results go to its journal and the store.
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/results_commands.h"
#include "cli/run_arg.h"
#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/train/mc_eval.h"
#include "core/train/model_source.h"
#include "core/train/runtime.h"
#include "results/store.h"

namespace gpas::cli {

namespace {

struct EvalArgs {
  std::string model, workdir = ".", tokenizer, tasks, device = "auto";
  DownstreamOptions opts;
  bool json = false, no_record = false;
};

torch::Device eval_device(const std::string& d) {
  if (d == "cuda" && !torch::cuda::is_available()) throw Error("--device cuda: LibTorch sees no CUDA device");
  return (d == "cuda" || (d == "auto" && torch::cuda::is_available())) ? torch::Device(torch::kCUDA, 0)
                                                                        : torch::Device(torch::kCPU);
}

void print_results(const std::vector<TaskResult>& rs) {
  std::printf("%-11s %6s  %-16s  %-16s\n", "task", "n", "acc", "acc_norm");
  for (const auto& r : rs) {
    char acc[32], norm[32] = "-";
    std::snprintf(acc, sizeof(acc), "%.2f ± %.2f", 100 * r.score.acc.value, 100 * r.score.acc.stderr_);
    if (r.has_acc_norm)
      std::snprintf(norm, sizeof(norm), "%.2f ± %.2f", 100 * r.score.acc_norm.value, 100 * r.score.acc_norm.stderr_);
    std::printf("%-11s %6lld  %-16s  %-16s\n", r.task.c_str(), (long long)r.score.n, acc, norm);
  }
  std::printf("%-11s %6s  %.2f\n", "average", "", 100 * downstream_average(rs));
}

void run_eval(EvalArgs& a) {
  setup_threads();
  a.opts.tasks = parse_task_list(a.tasks);
  ModelSource src = resolve_model_source(resolve_run_arg(a.model, a.workdir),
                                         (std::filesystem::path(a.workdir) / "runs").string());
  const bool record = !a.no_record && !src.run_dir.empty();
  if (record) refuse_live_run(src.run_dir, "evaluate it");
  Tokenizer tok = Tokenizer::load(tokenizer_for(src.cfg, a.tokenizer));
  Transformer model(src.cfg.model);
  load_source_weights(src, model);
  model->to(eval_device(a.device));
  auto rs = evaluate_downstream(model, tok, a.opts, [&](const TaskResult& r) {
    spdlog::info("{}: acc {:.4f} ({} documents)", r.task, r.score.acc.value, r.score.n);
  });
  if (record) {
    {  // one writer per run: a trainer that started meanwhile holds the lock, and wins
      auto lock = take_run_lock(src.run_dir, "gpas eval", "evaluate it");
      Journal j((std::filesystem::path(src.run_dir) / "journal.jsonl").string());
      journal_downstream(j, src.step, rs);
    }
    open_store(a.workdir, false)->ingest_run_dir(src.run_dir);
  }
  if (a.json) {
    nlohmann::json j = {{"model", src.weights}, {"run_dir", src.run_dir}, {"step", src.step},
                        {"average_acc", downstream_average(rs)}, {"tasks", nlohmann::json::object()}};
    for (const auto& r : rs) {
      auto& t = j["tasks"][r.task];
      t = {{"n", r.score.n}, {"acc", r.score.acc.value}, {"acc_stderr", r.score.acc.stderr_}};
      if (r.has_acc_norm) {
        t["acc_norm"] = r.score.acc_norm.value;
        t["acc_norm_stderr"] = r.score.acc_norm.stderr_;
      }
    }
    std::cout << j.dump() << "\n";
  } else {
    print_results(rs);
  }
}

}  // namespace

void setup_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval", "Zero-shot multiple-choice accuracy (MMLU, WinoGrande, PIQA, OBQA, HellaSwag, BoolQ, ARC-e)");
  cmd->add_option("model", a->model,
                  "run directory, run id/name in the store, checkpoint (.pt), or export (dir or .safetensors)")
      ->required();
  cmd->add_option("--tasks-dir", a->opts.dir, "directory with <task>.jsonl files (README: Downstream evaluation)")
      ->required();
  cmd->add_option("--tasks", a->tasks, "comma-separated: mmlu,winogrande,piqa,openbookqa,hellaswag,boolq,arc_easy "
                  "(default: every task file present)");
  cmd->add_option("--limit", a->opts.limit, "only the first N rows of each task (a quick look)");
  cmd->add_option("--batch", a->opts.batch, "sequences per forward")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer, "SentencePiece model (default: the run's data tokenizer)");
  cmd->add_option("--device", a->device, "auto | cpu | cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  cmd->add_option("-w,--workdir", a->workdir, "where runs/ and gpas.db live")->capture_default_str();
  cmd->add_flag("--json", a->json, "one JSON object");
  cmd->add_flag("--no-record", a->no_record, "do not write the results to the run's journal and the store");
  cmd->footer("A run's results become metrics downstream/<task>/acc[_norm][_stderr] at its checkpoint's\n"
              "step; `gpas report table3` tabulates them. Deterministic for given options.");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace gpas::cli
