// gpas: the command line. Parses, dispatches to one subcommand, and turns gpas::Error into a
// message on stderr and a meaningful exit code. No training logic lives here.
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "core/common/build_info.h"
#include "core/common/error.h"
#include "core/train/runtime.h"

int main(int argc, char** argv) {
  // Logs and progress go to stderr, so that stdout carries only results (tables, --json objects).
  spdlog::set_default_logger(spdlog::stderr_color_mt("gpas"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  CLI::App app{
      "gpas: train LLaMA-style models under six normalisation schemes with and without GPAS\n"
      "(Gradient-Preserving Activation Scaling), run sweeps, and rebuild the paper's results."};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    return std::string("gpas ") + GPAS_VERSION + " (commit " + gpas::git_commit() + ")\nlibtorch " +
           gpas::torch_version() + "\ncuda " +
           (gpas::cuda_available()
                ? "available (" + std::to_string(gpas::cuda_device_count()) + " devices)"
                : std::string("not available"));
  });
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "debug logging");

  gpas::cli::setup_model(app);
  gpas::cli::setup_train(app);
  gpas::cli::setup_export(app);
  gpas::cli::setup_bench(app);
  gpas::cli::setup_data(app);
  gpas::cli::setup_results(app);
  gpas::cli::setup_analyze(app);
  gpas::cli::setup_sweep(app);

  app.parse_complete_callback([&] { spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const gpas::Error& e) {
    std::cerr << "gpas: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "gpas: error: " << e.what() << "\n";
    return gpas::kExitError;
  }
  return 0;
}
