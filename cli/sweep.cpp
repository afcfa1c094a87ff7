// Placeholder: the subcommands of this file arrive with their issue.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace gpas::cli {

void setup_sweep(CLI::App& app) { (void)app; }

}  // namespace gpas::cli
