// The LibTorch commands' option tree as JSON, so that the front `gpas` (main.cpp), which does not
// link them, lists them in `gpas --help` and completes and documents them (`completion`, `man`) from
// the same tables that parse them. gpas-torch prints it (`gpas-torch --dump-commands`) and the build
// embeds it in the front (cmake/torch_commands.cmake). Only what help, completion and the man page
// read is kept: names, descriptions, footers, option names, value types, defaults, environment.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace gpas::cli {

// root's subcommands (not root's own options), depth first.
std::string dump_commands(const CLI::App& root);
// Adds the commands of a dump to root as stubs: they print in help, completion and the man page,
// and are never parsed (the front hands their argv over first). Returns their names.
std::vector<std::string> add_command_stubs(CLI::App& root, std::string_view dump);

// The dump of gpas-torch's commands, generated at build time (generated/torch_commands.cpp).
extern const std::string_view kTorchCommandTree;

}  // namespace gpas::cli
