// gpas analyze importance: layer importance of a trained run (Fig 7), stored with the run.
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/train/importance.h"
#include "results/store.h"
#include "sweeps/run_state.h"

namespace gpas::cli {

namespace {

struct AnalyzeArgs {
  std::string run, workdir = ".";
  int64_t eval_tokens = 0;
  bool json = false;
};

void run_importance(const AnalyzeArgs& a) {
  namespace fs = std::filesystem;
  auto store = open_store(a.workdir, false);
  // RUN is a run directory, or a run id, id prefix or name known to the store.
  std::string dir = a.run;
  if (!fs::is_directory(dir)) {
    store->ingest_workdir(a.workdir);
    auto r = store->find_run(a.run);
    if (!r)
      throw Error(a.run + ": neither a run directory nor a run in " + store->path() +
                  " (see `gpas runs list`)");
    dir = r->run_dir;
  }
  // The analysis appends to the run's journal: never beside a live trainer. The sweeps' liveness
  // rule: on this host a live worker pid, on another (a Slurm node) a journal fresher than 10 min.
  if (auto info = sweeps::read_run(dir, 600); info.state == sweeps::State::Running)
    throw Error(dir + ": the run is still training (" + info.host + ", pid " +
                std::to_string(info.pid) + "); analyse it when it has finished");
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
  imp->callback([a] { run_importance(*a); });
}

}  // namespace gpas::cli
