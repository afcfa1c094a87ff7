// gpas finetune: supervised finetuning of a trained model on instruction data (Table 3): a run
// like any other (config hash, journal, checkpoints, resume, store), whose config is the parent's
// model with the paper's SFT recipe; the parent is its train.init_from.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/results_commands.h"
#include "cli/run_arg.h"
#include "core/common/error.h"
#include "core/config/config_yaml.h"
#include "core/train/mc_eval.h"
#include "core/train/model_source.h"
#include "core/train/signals.h"
#include "core/train/trainer.h"
#include "results/store.h"

namespace gpas::cli {

namespace {

namespace fs = std::filesystem;

struct FinetuneArgs {
  std::string parent, data, tokenizer, tasks_dir, workdir = ".", optimizer = "lisa";
  std::vector<std::string> sets;
  bool train_gates = false, json = false, fresh = false, plan = false;
};

std::string absolute(const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); }

// The paper's SFT recipe on the parent's model (Section 4.3: lr 3e-4, 4 epochs, LISA, gates
// frozen); the batch, cutoff and warmup follow LLM-Adapters (16, 256, 100).
RunConfig finetune_config(const FinetuneArgs& a, const ModelSource& src) {
  RunConfig c = src.cfg;
  c.name = src.cfg.name + "/sft";
  c.model.gpas.learnable = a.train_gates;
  auto& t = c.train;
  t.optimizer = a.optimizer;
  t.lr = 3e-4;
  t.epochs = 4;
  t.warmup_steps = 100;
  t.min_lr_ratio = 0.0;
  t.batch_size = 16;
  t.micro_batch = std::min<int64_t>(t.micro_batch, 16);
  while (t.batch_size % t.micro_batch != 0) --t.micro_batch;
  t.seq_len = std::min<int64_t>(256, c.model.max_positions);
  t.weight_decay = 0.0;
  t.eval_every = 0;
  t.fixed_gates_from.clear();
  // A run in this workdir is named by id (as sweeps do); anything else by its absolute path.
  const fs::path runs = fs::absolute(fs::path(a.workdir) / "runs").lexically_normal();
  if (src.kind == "run" && fs::absolute(src.run_dir).lexically_normal() == runs / src.run_id)
    t.init_from = "run:" + src.run_id;
  else
    t.init_from = absolute(src.kind == "run" ? src.run_dir : src.weights);
  c.data = DataConfig{};
  c.data.source = "instruct";
  c.data.path = absolute(a.data);
  c.data.tokenizer = absolute(tokenizer_for(src.cfg, a.tokenizer));
  c.downstream.dir = absolute(a.tasks_dir);
  // Through the YAML path, so --set errors and validation are gpas train's.
  auto settings = collect_settings(YAML::Load(to_yaml(c)), "finetune");
  for (const auto& s : a.sets) settings.push_back(parse_set(s));
  return build_config(settings);
}

int run_finetune(const FinetuneArgs& a) {
  std::string runs = (fs::path(a.workdir) / "runs").string();
  ModelSource src = resolve_model_source(resolve_run_arg(a.parent, a.workdir), runs);
  RunConfig cfg = finetune_config(a, src);
  const std::string run_dir = (fs::path(a.workdir) / "runs" / run_id_at(a.workdir, cfg)).string();
  if (a.plan) {
    std::cout << to_yaml(cfg);
    std::cerr << "run dir: " << run_dir << "\n";
    return 0;
  }
  install_stop_handlers();
  TrainOptions opts;
  opts.fresh = a.fresh;
  opts.progress = !a.json && ::isatty(2);
  RunResult r;
  try {
    r = train_run(cfg, run_dir, opts);
  } catch (const std::exception& e) {
    record_failure(run_dir, e.what());
    throw;
  }
  if (r.status == "completed") downstream_after_training(cfg, run_dir);
  open_store(a.workdir, false)->ingest_run_dir(run_dir);
  if (a.json) {
    std::cout << nlohmann::json({{"run_id", r.run_id}, {"run_dir", r.run_dir}, {"status", r.status},
                                 {"steps", r.steps}, {"parent", cfg.train.init_from},
                                 {"final_eval_loss", r.final_eval_loss}})
                     .dump()
              << std::endl;
  } else {
    std::printf("%s %s: %s after %lld steps, response eval loss %.4f (%s; parent %s)\n", cfg.name.c_str(),
                r.run_id.c_str(), r.status.c_str(), (long long)r.steps, r.final_eval_loss,
                r.run_dir.c_str(), cfg.train.init_from.c_str());
  }
  if (r.status == "diverged") return kExitDiverged;
  if (r.status == "cancelled") return kExitCancelled;
  return r.status == "completed" ? kExitOk : kExitError;
}

}  // namespace

void setup_finetune(CLI::App& app) {
  auto a = std::make_shared<FinetuneArgs>();
  auto* cmd = app.add_subcommand("finetune", "Supervised finetuning on instruction data (Table 3: LISA, gates frozen)");
  cmd->add_option("parent", a->parent,
                  "the model: run directory, run id/name in the store, checkpoint (.pt) or export")
      ->required();
  cmd->add_option("--data", a->data, "instruction data: JSON array or JSONL of {instruction, input, output} "
                  "(Commonsense170K / LLM-Adapters layout)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--tokenizer", a->tokenizer, "SentencePiece model (default: the parent's data tokenizer)");
  cmd->add_option("--optimizer", a->optimizer, "lisa | adamw")
      ->check(CLI::IsMember({"lisa", "adamw"}))->capture_default_str();
  cmd->add_flag("--train-gates", a->train_gates, "train the GPAS gates too (the paper freezes them)");
  cmd->add_option("--tasks-dir", a->tasks_dir, "evaluate zero-shot on these <task>.jsonl files at the end");
  cmd->add_option("-s,--set", a->sets, "override any run key, e.g. --set train.epochs=1 (repeatable)");
  cmd->add_option("-w,--workdir", a->workdir, "where runs/ and gpas.db live")->capture_default_str();
  cmd->add_flag("--fresh", a->fresh, "ignore existing checkpoints of this finetune");
  cmd->add_flag("--plan", a->plan, "print the finetune's run config and run dir, train nothing");
  cmd->add_flag("--json", a->json, "one JSON summary object");
  cmd->footer(
      "Recipe: lr 3e-4, 4 epochs, LISA (2 layers, resampled every 20 updates), gates frozen, batch 16,\n"
      "cutoff 256 tokens, 100 warmup steps, 120 examples held out for eval/loss; change any with --set.\n"
      "The same config through `gpas train --config` (or a sweep, experiments/table3.yaml) is the same run.");
  cmd->callback([a] {
    int code = run_finetune(*a);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace gpas::cli
