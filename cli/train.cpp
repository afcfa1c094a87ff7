// Placeholder until the subcommand lands.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace gpas::cli {

void setup_train(CLI::App& app) { (void)app; }

}  // namespace gpas::cli
