// gpas ablate: the paper's Tables 4-5 as a sweep (sweeps/ablate.h), run like `gpas sweep run`.
// --plan lists the jobs instead of running them.
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/sweep_common.h"
#include "sweeps/ablate.h"
#include "sweeps/plan.h"

namespace gpas::cli {

void setup_ablate(CLI::App& app) {
  auto a = std::make_shared<SweepRunArgs>();
  auto suite = std::make_shared<std::string>("all");
  auto size = std::make_shared<std::string>("350m");
  auto presets = std::make_shared<std::string>("experiments/presets");
  auto plan = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("ablate", "Run the GPAS ablations of Tables 4-5 (activation, position, stopgrad, gate)");
  cmd->add_option("--suite", *suite, "activation | position | stopgrad | gate | all")
      ->check(CLI::IsMember({"activation", "position", "stopgrad", "gate", "all"}))
      ->capture_default_str();
  cmd->add_option("--size", *size, "model size (the paper: 350m)")->capture_default_str();
  cmd->add_option("--presets", *presets, "directory with paper.yaml (the paper's training setup); '' for none")
      ->capture_default_str();
  cmd->add_flag("--plan", *plan, "list the jobs and their states, run nothing");
  add_run_options(*cmd, *a);
  cmd->footer("The predefined-gate job waits for the learnable-gate run and trains with its final gates fixed.");
  cmd->callback([=] {
    std::string dir = *presets;
    if (!dir.empty() && !std::filesystem::exists(dir + "/paper.yaml")) {
      std::cerr << "gpas ablate: " << dir << "/paper.yaml not found; using the default training setup\n";
      dir.clear();
    } else if (!dir.empty()) {
      dir = std::filesystem::absolute(dir).string();
    }
    sweeps::Sweep s = sweeps::ablation_sweep(*suite, *size, dir, a->workdir, a->sets);
    if (*plan) {
      std::cout << sweeps::render_plan(sweeps::make_plan(s, a->cpu ? 0 : 1));
      return;
    }
    int code = run_sweep_cli(s, *a);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace gpas::cli
