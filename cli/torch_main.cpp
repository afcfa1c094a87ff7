// gpas-torch: the commands that link LibTorch (commands.h's kTorchCommands: train, eval, model,
// bench, ...). Users type `gpas`; the front (main.cpp) hands these commands' argv here unchanged.
// `gpas-torch --dump-commands` prints their option tree for the front's build (command_tree.h).
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/command_tree.h"
#include "cli/commands.h"
#include "cli/conventions.h"
#include "core/common/build_info.h"

namespace {
std::string version() {
  return std::string("gpas ") + GPAS_VERSION + " (commit " + gpas::git_commit() + ")\n" + gpas::cli::libtorch_facts();
}
}  // namespace

int main(int argc, char** argv) {
  auto app = gpas::cli::make_root(version);
  for (auto setup : gpas::cli::kTorchCommands) setup(*app);
  if (argc == 2 && std::string(argv[1]) == "--dump-commands") {
    std::cout << gpas::cli::dump_commands(*app);
    return 0;
  }
  gpas::cli::finish_root(*app);
  return gpas::cli::run_cli(*app, argc, argv);
}
