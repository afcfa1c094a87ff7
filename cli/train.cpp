// gpas train: one run from a YAML config (+ --set overrides) into <workdir>/runs/<run_id>/, then
// indexed into <workdir>/gpas.db. Exit code: 0 completed, 3 diverged, 130 cancelled, 1 error.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/results_commands.h"  // index_run_dir: the store stays out of this LibTorch file
#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/common/fs.h"
#include "core/common/journal.h"
#include "core/common/launch_env.h"
#include "core/config/config_yaml.h"
#include "core/config/fields.h"
#include "core/train/mc_eval.h"
#include "core/train/signals.h"
#include "core/train/trainer.h"

namespace gpas::cli {

namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string workdir = ".";
  std::string run_dir;
  bool json = false;
  bool fresh = false;
  bool keys = false;
  bool no_index = false;
};

void print_keys(bool json) {
  RunConfig c;
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  visit_fields(c, [&](const char* key, const auto& member, const char* help) {
    nlohmann::json v = member;
    if (json) all.push_back({{"key", key}, {"default", v}, {"help", help}});
    else std::printf("  %-26s %-16s %s\n", key, v.dump().c_str(), help);
  });
  if (json) std::cout << all.dump(2) << "\n";
}

int run_train(const TrainArgs& a) {
  if (a.keys) {
    if (!a.json) std::printf("Config keys (YAML nesting or dotted --set key=value), default, meaning:\n");
    print_keys(a.json);
    return 0;
  }
  RunConfig cfg = a.config.empty() ? build_config([&] {
    std::vector<Setting> s;
    for (const auto& kv : a.sets) s.push_back(parse_set(kv));
    return s;
  }())
                                   : load_run_config(a.config, a.sets);
  std::string run_dir =
      a.run_dir.empty() ? (std::filesystem::path(a.workdir) / "runs" / run_id_at(a.workdir, cfg)).string() : a.run_dir;
  install_stop_handlers();
  TrainOptions opts;
  opts.fresh = a.fresh;
  opts.progress = !a.json && ::isatty(2);
  const bool lead = launch_env().lead();
  RunResult r;
  try {
    r = train_run(cfg, run_dir, opts);
  } catch (const std::exception& e) {
    if (lead) record_failure(run_dir, e.what());
    throw;
  }
  if (lead && r.status == "completed") downstream_after_training(cfg, run_dir);  // downstream.*
  if (lead && !a.no_index) index_run_dir(a.workdir, run_dir);
  if (a.json) {
    nlohmann::json j = {{"run_id", r.run_id},   {"name", cfg.name},
                        {"run_dir", r.run_dir}, {"status", r.status},
                        {"steps", r.steps},     {"final_train_loss", r.final_train_loss},
                        {"final_eval_loss", r.final_eval_loss},
                        {"final_eval_ppl", r.final_eval_ppl},
                        {"tokens_per_second", r.tokens_per_second},
                        {"parameters", r.parameters},
                        {"world_size", r.world_size}};
    if (r.diverged_step >= 0) j["diverged_step"] = r.diverged_step;
    if (!r.error.empty()) j["error"] = r.error;
    std::cout << j.dump() << std::endl;
  } else if (lead) {
    // No evaluation yet (a run cancelled early) prints as such, not as nan.
    char eval[96] = "no evaluation yet";
    if (std::isfinite(r.final_eval_loss))
      std::snprintf(eval, sizeof eval, "eval loss %.4f, eval ppl %.2f", r.final_eval_loss, r.final_eval_ppl);
    std::printf("%s %s: %s after %lld steps, %s (%s)%s\n", cfg.name.c_str(), r.run_id.c_str(),
                r.status.c_str(), (long long)r.steps, eval, r.run_dir.c_str(),
                r.status == "cancelled" ? "; the same command resumes it" : "");
  }
  if (r.status == "diverged") return kExitDiverged;
  if (r.status == "cancelled") return kExitCancelled;
  return r.status == "completed" ? kExitOk : kExitError;
}

}  // namespace

// A trainer stopped by an error after its start line (a full disk at a checkpoint, a corrupt
// batch) leaves the reason in its journal, so every view says failed and why, not interrupted.
// Only this process's own attempt is closed: the journal's last start line must be this pid's on
// this host, and its last status "running" (an error before the start line, such as a config that
// does not match the directory, leaves an earlier interrupted attempt as it was); nothing is
// written where another trainer holds the run; a journal that cannot be written either (a full
// disk) keeps the first error.
void record_failure(const std::string& run_dir, const std::string& error) {
  const std::string journal = (std::filesystem::path(run_dir) / "journal.jsonl").string();
  try {
    auto lock = FileLock::try_take(run_lock_path(run_dir));
    if (!lock || !std::filesystem::exists(journal)) return;
    if (journal_tail(journal).status.value("status", "") != "running") return;
    int64_t step = 0;
    nlohmann::json start;
    for (const auto& j : read_journal(journal)) {
      if (j.value("type", "") == "start") start = j;
      if (j.contains("step") && j["step"].is_number_integer()) step = std::max(step, j["step"].get<int64_t>());
    }
    if (!start.is_object() || start.value("pid", int64_t{0}) != int64_t{::getpid()} ||
        start.value("host", "") != hostname())
      return;
    Journal(journal).status("failed", step, error);
  } catch (const std::exception& e) {
    spdlog::warn("{}: could not record the failure in the journal ({})", journal, e.what());
  }
}

void setup_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train one model from a run config");
  cmd->footer(
      "The run lives in <workdir>/runs/<run_id>/ (config.yaml, journal.jsonl, checkpoints/);\n"
      "running the same command again resumes from its last checkpoint. run_id is the hash of\n"
      "the resolved config. Exit codes: 0 completed, 3 diverged, 130 cancelled, 1 error.\n"
      "With no --config: the defaults (`gpas train --keys`): a tiny model on synthetic tokens.\n"
      "Example: gpas train --config experiments/runs/tiny.yaml --set model.gpas.enabled=true");
  cmd->add_option("-c,--config", a->config, "run config (YAML)")->check(CLI::ExistingFile);
  cmd->add_option("-s,--set", a->sets, "override a key: --set train.steps=200 (repeatable)");
  cmd->add_option("-w,--workdir", a->workdir, "where runs/ and gpas.db live")->capture_default_str();
  cmd->add_option("--run-dir", a->run_dir, "run directory (default <workdir>/runs/<run_id>)");
  cmd->add_flag("--json", a->json, "print one JSON summary object at the end (with --keys: the keys)");
  cmd->add_flag("--fresh", a->fresh, "ignore existing checkpoints in the run directory");
  cmd->add_flag("--keys", a->keys, "list every config key with its default and meaning");
  cmd->add_flag("--no-index", a->no_index, "do not ingest the run into <workdir>/gpas.db");
  cmd->callback([a] {
    int code = run_train(*a);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace gpas::cli
