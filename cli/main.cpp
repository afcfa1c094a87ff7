// gpas, the front: the commands that need no LibTorch (runs, reports, sweeps and their orchestrator,
// completion; kCommands) run here and start in milliseconds. A LibTorch command (kTorchCommands:
// train, eval, model, ...) is handed, argv unchanged, to gpas-torch beside this binary
// (handover.h) before anything is parsed. Their option tree, embedded at build time
// (command_tree.h), puts them in `gpas --help`, the completion script and the man page.
#include <algorithm>

#include <CLI/CLI.hpp>

#include "cli/command_tree.h"
#include "cli/commands.h"
#include "cli/conventions.h"
#include "cli/handover.h"
#include "core/common/build_info.h"

namespace {
std::string version() {  // what the front knows without loading LibTorch
  return std::string("gpas ") + GPAS_VERSION + " (commit " + gpas::git_commit() + ")\nlibtorch " +
         GPAS_TORCH_VERSION +
#ifdef GPAS_WITH_CUDA
         " with CUDA"
#endif
         " (in gpas-torch; `gpas libtorch` shows the CUDA devices and NCCL it sees)";
}
}  // namespace

int main(int argc, char** argv) {
  auto app = gpas::cli::make_root(version);
  std::vector<std::string> torch = gpas::cli::add_command_stubs(*app, gpas::cli::kTorchCommandTree);
  if (std::string cmd = gpas::cli::command_of(argc, argv); std::count(torch.begin(), torch.end(), cmd))
    return gpas::cli::hand_over(argc, argv);
  for (auto setup : gpas::cli::kCommands) setup(*app);
  gpas::cli::finish_root(*app);
  return gpas::cli::run_cli(*app, argc, argv);
}
