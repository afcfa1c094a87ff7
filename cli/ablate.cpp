// gpas ablate: the paper's Tables 4-5 as a sweep (sweeps/ablate.h), run like `gpas sweep run`.
// --plan lists the jobs instead of running them.
#include <filesystem>
#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/sweep_common.h"
#include "core/common/error.h"
#include "sweeps/ablate.h"
#include "sweeps/plan.h"

namespace gpas::cli {

namespace {
// <dir of gpas>/presets (a build tree), else <dir of gpas>/../share/gpas/presets (an install).
std::string installed_presets() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::filesystem::path> tried;
  if (!ec)
    for (auto p : {exe.parent_path() / "presets", exe.parent_path().parent_path() / "share" / "gpas" / "presets"}) {
      if (std::filesystem::exists(p / "paper.yaml")) return p.string();
      tried.push_back(p);
    }
  std::string where;
  for (const auto& p : tried) where += (where.empty() ? "" : ", ") + p.string();
  throw Error("gpas ablate: the presets installed with gpas are missing (looked in " + where +
              "); give --presets DIR (e.g. experiments/presets of the source tree) or --presets ''");
}
}  // namespace

void setup_ablate(CLI::App& app) {
  auto a = std::make_shared<SweepRunArgs>();
  auto suite = std::make_shared<std::string>("all");
  auto size = std::make_shared<std::string>("350m");
  auto presets = std::make_shared<std::string>("auto");
  auto plan = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("ablate", "Run the GPAS ablations of Tables 4-5 (activation, position, stopgrad, gate)");
  cmd->add_option("--suite", *suite, "activation | position | stopgrad | gate | all")
      ->check(CLI::IsMember({"activation", "position", "stopgrad", "gate", "all"}))
      ->capture_default_str();
  cmd->add_option("--size", *size, "model size (the paper: 350m)")->capture_default_str();
  cmd->add_option("--presets", *presets,
                  "directory with paper.yaml (the paper's training setup); auto: the presets installed "
                  "with gpas; '' for none")
      ->capture_default_str();
  cmd->add_flag("--plan", *plan, "list the jobs and their states, run nothing");
  cmd->add_flag("--json", *json, "with --plan: the plan as one JSON object");
  add_run_options(*cmd, *a);
  cmd->footer("The predefined-gate job waits for the learnable-gate run and trains with its final gates fixed.");
  cmd->callback([=] {
    std::string dir = *presets == "auto" ? installed_presets() : *presets;
    if (!dir.empty() && !std::filesystem::exists(dir + "/paper.yaml"))
      throw Error("--presets " + dir + ": no paper.yaml there; name the directory that has it, or give "
                  "--presets '' for the default training setup");
    if (!dir.empty()) dir = std::filesystem::absolute(dir).string();
    sweeps::Sweep s = sweeps::ablation_sweep(*suite, *size, dir, a->workdir, a->sets);
    if (*plan) {
      auto p = sweeps::make_plan(s, a->cpu ? 0 : 1, sweeps::read_bench_cache(sweeps::bench_cache_path()));
      std::cout << (*json ? sweeps::plan_json(p).dump(2) + "\n" : sweeps::render_plan(p));
      return;
    }
    int code = run_sweep_cli(s, *a);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace gpas::cli
