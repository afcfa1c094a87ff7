// gpas, the front: the commands that need no LibTorch (runs, reports, sweeps and their orchestrator,
// completion; kCommands) run here and start in milliseconds. A LibTorch command (kTorchCommands:
// train, eval, model, ...) is handed, argv unchanged, to gpas-torch beside this binary
// (handover.h) before anything is parsed, except a subcommand of one that needs no LibTorch
// (kFrontSubcommands: bench plan), which runs here. Their option tree, embedded at build time
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

// The subcommand of a LibTorch command that argv names and the front runs (kFrontSubcommands), if any.
const gpas::cli::FrontSubcommand* front_subcommand(int argc, char** argv) {
  const std::string cmd = gpas::cli::command_of(argc, argv), sub = gpas::cli::subcommand_of(argc, argv);
  for (const auto& f : gpas::cli::kFrontSubcommands)
    if (cmd == f.command && sub == f.name) return &f;
  return nullptr;
}
}  // namespace

int main(int argc, char** argv) {
  auto app = gpas::cli::make_root(version);
  std::vector<std::string> torch = gpas::cli::add_command_stubs(*app, gpas::cli::kTorchCommandTree);
  const gpas::cli::FrontSubcommand* own = front_subcommand(argc, argv);
  if (std::string cmd = gpas::cli::command_of(argc, argv); !own && std::count(torch.begin(), torch.end(), cmd))
    return gpas::cli::hand_over(argc, argv);
  for (auto setup : gpas::cli::kCommands) setup(*app);
  if (own) {  // the real subcommand in place of its stub
    CLI::App* parent = app->get_subcommand(own->command);
    parent->remove_subcommand(parent->get_subcommand(own->name));
    own->setup(*parent);
  }
  gpas::cli::finish_root(*app);
  return gpas::cli::run_cli(*app, argc, argv);
}
