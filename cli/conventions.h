// What every subcommand shares: -w/--workdir (with GPAS_WORKDIR), --json, and the parse step that
// turns CLI11's errors into `gpas: error: ...` with exit code 2 and a suggestion for a typo, and a
// command given without its subcommand into its help. Leaves out the subcommands themselves.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace gpas::cli {

// "-w,--workdir", default ".", GPAS_WORKDIR when not given.
CLI::Option* add_workdir(CLI::App* cmd, std::string& workdir,
                         const std::string& what = "where runs/ and gpas.db live");
CLI::Option* add_json(CLI::App* cmd, bool& json, const std::string& what = "JSON for scripts");

// The candidate nearest to word by edit distance, if near enough to be a typo; "" otherwise.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);
// "; did you mean `x`?" for a typo, else "; valid: a, b, c".
std::string suggest(const std::string& word, const std::vector<std::string>& candidates);

// "gpas runs list": the command's path from the root.
std::string command_path(const CLI::App* cmd);

// The root command of both binaries (main.cpp, gpas-torch's torch_main.cpp): logging to stderr,
// the description, --version printing version(), -v/--verbose. Add the subcommands, then call
// finish_root (the footer, which CLI11 would copy into subcommands added after it), then run_cli.
std::unique_ptr<CLI::App> make_root(std::string (*version)());
void finish_root(CLI::App& app);

// Parses argv into app and runs the chosen subcommand: prints errors (gpas: error: ...), help for a
// command without its subcommand, and returns the exit code (0, 1, 2, 3, 130; never CLI11's own).
int run_cli(CLI::App& app, int argc, char** argv);

// Every command and subcommand below app, depth first (the completion script and the man page).
std::vector<const CLI::App*> all_commands(const CLI::App& app);

}  // namespace gpas::cli
