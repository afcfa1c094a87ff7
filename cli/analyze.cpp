// gpas analyze importance: layer importance of a trained run (Fig 7), stored with the run.
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/results_commands.h"
#include "cli/run_arg.h"
#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/train/importance.h"
#include "core/train/mc_eval.h"
#include "results/store.h"

namespace gpas::cli {

namespace {

struct AnalyzeArgs {
  std::string run, workdir = ".";
  int64_t eval_tokens = 0;
  bool json = false;
  DownstreamOptions downstream;  // --tasks-dir: importance by zero-shot accuracy (Fig 7)
  std::string tasks, tokenizer;
};

void print_acc_importance(const std::string& dir, double acc0, const std::vector<LayerAccImportance>& rows,
                          bool json) {
  if (json) {
    nlohmann::json j = {{"run_dir", dir}, {"average_acc", acc0}, {"layers", nlohmann::json::array()}};
    for (const auto& r : rows)
      j["layers"].push_back({{"layer", r.layer}, {"average_acc", r.average_acc}, {"drop", r.drop}});
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("full model: average accuracy %.2f%%\nlayer  acc without  drop\n", 100 * acc0);
  for (const auto& r : rows) std::printf("%5d  %10.2f%%  %+6.2f\n", r.layer, 100 * r.average_acc, 100 * r.drop);
}

void run_importance(const AnalyzeArgs& a) {
  namespace fs = std::filesystem;
  auto store = open_store(a.workdir, false);
  // RUN is a run directory, or a run id, id prefix or name known to the store.
  std::string dir = a.run;
  if (!fs::is_directory(dir)) {
    store->sync_workdir(a.workdir);
    auto r = store->find_run(a.run);
    if (!r)
      throw Error(a.run + ": neither a run directory nor a run in " + store->path() +
                  " (see `gpas runs list`)");
    dir = r->run_dir;
  }
  // The analysis appends to the run's journal as it goes: it holds the run lock throughout (one
  // writer per run), after the check for a trainer on another host (run_arg.h).
  refuse_live_run(dir, "analyse it");
  auto lock = take_run_lock(dir, "gpas analyze", "analyse it");
  if (!a.downstream.dir.empty()) {
    DownstreamOptions o = a.downstream;
    o.tasks = parse_task_list(a.tasks);
    double acc0 = 0;
    auto rows = analyze_importance_downstream(dir, o, a.tokenizer, &acc0);
    store->ingest_run_dir(dir);
    print_acc_importance(dir, acc0, rows, a.json);
    return;
  }
  double loss0 = 0, ppl0 = 0;
  auto rows = analyze_importance(dir, a.eval_tokens, &loss0, &ppl0);
  store->ingest_run_dir(dir);
  if (a.json) {
    nlohmann::json j = {{"run_dir", dir}, {"eval_loss", loss0}, {"eval_ppl", ppl0}, {"layers", nlohmann::json::array()}};
    for (const auto& r : rows)
      j["layers"].push_back({{"layer", r.layer}, {"eval_loss", r.eval_loss}, {"eval_ppl", r.eval_ppl},
                             {"delta_loss", r.delta_loss}, {"delta_ppl", r.delta_ppl}});
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("full model: eval loss %.4f, ppl %.2f\nlayer  loss without  ppl without  +loss    +ppl\n",
              loss0, ppl0);
  for (const auto& r : rows)
    std::printf("%5d  %12.4f  %11.2f  %+7.4f  %+8.2f\n", r.layer, r.eval_loss, r.eval_ppl,
                r.delta_loss, r.delta_ppl);
}

}  // namespace

void setup_analyze(CLI::App& app) {
  auto* analyze = app.add_subcommand("analyze", "Analyses of trained runs");
  analyze->require_subcommand(1);
  auto a = std::make_shared<AnalyzeArgs>();
  auto* imp = analyze->add_subcommand(
      "importance", "Layer importance (Fig 7): eval loss/perplexity change when each layer is removed");
  imp->add_option("run", a->run, "run directory, or run id, id prefix or name in the store")->required();
  imp->add_option("-w,--workdir", a->workdir, "where runs/ and gpas.db live")->capture_default_str();
  imp->add_option("--eval-tokens", a->eval_tokens, "tokens per evaluation (default: the run's)");
  imp->add_flag("--json", a->json, "one JSON object");
  imp->add_option("--tasks-dir", a->downstream.dir,
                  "measure the drop in average zero-shot accuracy on these <task>.jsonl files instead "
                  "(the paper's Fig 7 definition; layer kind importance_acc)");
  imp->add_option("--tasks", a->tasks, "with --tasks-dir: comma-separated tasks (default: every file)");
  imp->add_option("--limit", a->downstream.limit, "with --tasks-dir: first N rows per task");
  imp->add_option("--batch", a->downstream.batch, "with --tasks-dir: sequences per forward")->capture_default_str();
  imp->add_option("--tokenizer", a->tokenizer, "with --tasks-dir: SentencePiece model (default: the run's)");
  imp->callback([a] { run_importance(*a); });
}

}  // namespace gpas::cli
