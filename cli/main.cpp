// gpas: the command line. Registers the subcommands of cli/commands.h's table and hands argv to
// run_cli (conventions.cpp): errors, exit codes, help. No training logic lives here.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/conventions.h"
#include "core/common/build_info.h"
#include "core/train/runtime.h"

int main(int argc, char** argv) {
  // Logs and progress go to stderr, so that stdout carries only results (tables, --json objects).
  spdlog::set_default_logger(spdlog::stderr_color_mt("gpas"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  CLI::App app{
      "gpas: train LLaMA-style models under the GPAS paper's normalisation schemes and those after\n"
      "it (gpas model info --norm X), with and without GPAS\n"
      "(Gradient-Preserving Activation Scaling), run sweeps, and rebuild the paper's results."};
  app.set_version_flag("--version", [] {
    return std::string("gpas ") + GPAS_VERSION + " (commit " + gpas::git_commit() + ")\nlibtorch " +
           gpas::torch_version() + "\ncuda " +
           (gpas::cuda_available()
                ? "available (" + std::to_string(gpas::cuda_device_count()) + " devices)"
                : std::string("not available")) +
           "\nnccl " + (gpas::nccl_available() ? "yes" : "no");
  });
  app.require_subcommand(1);  // run_cli shows the help instead of an error
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "debug logging");

  app.name("gpas");
  for (auto setup : gpas::cli::kCommands) setup(app);
  app.footer(  // after the subcommands: CLI11 copies a parent's footer into those added later
      "Exit codes: 0 success, 1 error (bad input, a failed run or job), 2 usage error (unknown\n"
      "command or option, bad value), 3 a run diverged, 130 cancelled by SIGINT/SIGTERM after a\n"
      "checkpoint (the same command resumes).\n"
      "Environment: GPAS_WORKDIR (default of -w/--workdir), GPAS_THREADS, GPAS_DATA_HOME, NO_COLOR.\n"
      "`gpas COMMAND --help` for each command; `gpas completion bash|zsh`; `gpas man`.");

  app.parse_complete_callback([&] { spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info); });
  return gpas::cli::run_cli(app, argc, argv);
}
