// The command line's shared conventions (see conventions.h). CLI11 reports its own exit codes
// (105, 106, 109) and English messages; here they become `gpas: error: ...`, exit 2, with the
// command they belong to and the nearest valid name. Torch-free.
#include "cli/conventions.h"

#include <algorithm>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/common/error.h"

namespace gpas::cli {

std::unique_ptr<CLI::App> make_root(std::string (*version)()) {
  // Logs and progress go to stderr, so that stdout carries only results (tables, --json objects).
  spdlog::set_default_logger(spdlog::stderr_color_mt("gpas"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  auto app = std::make_unique<CLI::App>(
      "gpas: train LLaMA-style models under the GPAS paper's normalisation schemes and those after\n"
      "it (gpas model info --norm X), with and without GPAS\n"
      "(Gradient-Preserving Activation Scaling), run sweeps, and rebuild the paper's results.");
  app->set_version_flag("--version", version);
  app->require_subcommand(1);  // run_cli shows the help instead of an error
  static bool verbose = false;
  app->add_flag("-v,--verbose", verbose, "debug logging");
  app->name("gpas");
  app->parse_complete_callback([] { spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info); });
  return app;
}

void finish_root(CLI::App& app) {
  app.footer(
      "Exit codes: 0 success, 1 error (bad input, a failed run or job), 2 usage error (unknown\n"
      "command or option, bad value), 3 a run diverged, 130 cancelled by SIGINT/SIGTERM after a\n"
      "checkpoint (the same command resumes).\n"
      "Environment: GPAS_WORKDIR (default of -w/--workdir), GPAS_THREADS, GPAS_DATA_HOME, NO_COLOR.\n"
      "`gpas COMMAND --help` for each command; `gpas completion bash|zsh`; `gpas man`.");
}

CLI::Option* add_workdir(CLI::App* cmd, std::string& workdir, const std::string& what) {
  return cmd->add_option("-w,--workdir", workdir, what)->envname("GPAS_WORKDIR")->capture_default_str();
}

CLI::Option* add_json(CLI::App* cmd, bool& json, const std::string& what) {
  return cmd->add_flag("--json", json, what);
}

static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    // A prefix counts as near too (`gpas rep` -> report).
    if (c.size() > word.size() && word.size() >= 2 && c.compare(0, word.size(), word) == 0) d = 1;
    if (d < best_d) best_d = d, best = c;
  }
  size_t reach = std::max<size_t>(2, word.size() / 3);
  return best_d <= reach ? best : "";
}

std::string suggest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string n = nearest(word, candidates);
  if (!n.empty()) return "; did you mean `" + n + "`?";
  std::string all;
  for (const auto& c : candidates) all += (all.empty() ? "" : ", ") + c;
  return all.empty() ? "" : "; valid: " + all;
}

std::string command_path(const CLI::App* cmd) {
  std::string p;
  for (const CLI::App* a = cmd; a; a = a->get_parent())
    p = a->get_name() + (p.empty() ? "" : " " + p);
  return p;
}

std::vector<const CLI::App*> all_commands(const CLI::App& app) {
  std::vector<const CLI::App*> out = {&app};
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); }))
    for (const CLI::App* a : all_commands(*sub)) out.push_back(a);
  return out;
}

namespace {

std::vector<std::string> subcommand_names(const CLI::App* cmd) {
  std::vector<std::string> out;
  for (const CLI::App* s : cmd->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); }))
    out.push_back(s->get_name());
  return out;
}

std::vector<std::string> option_names(const CLI::App* cmd) {
  std::vector<std::string> out;
  for (const CLI::Option* o : cmd->get_options()) {
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    for (const auto& s : o->get_snames()) out.push_back("-" + s);
  }
  return out;
}

// A command that needs a subcommand shows its help when given none; CLI11's require_subcommand
// would make that an error (exit 106). Also: GPAS_WORKDIR behind every --workdir.
void relax(CLI::App* cmd, std::set<const CLI::App*>& needs_sub) {
  if (cmd->get_require_subcommand_min() > 0) {
    needs_sub.insert(cmd);
    cmd->require_subcommand(0, 1);
  }
  for (CLI::Option* o : cmd->get_options()) {
    auto l = o->get_lnames();
    if (std::find(l.begin(), l.end(), "workdir") != l.end() && o->get_envname().empty())
      o->envname("GPAS_WORKDIR");
  }
  for (CLI::App* s : cmd->get_subcommands([](CLI::App* s) { return !s->get_name().empty(); }))
    relax(s, needs_sub);
}

CLI::App* deepest(CLI::App& app) {
  CLI::App* a = &app;
  while (!a->get_subcommands().empty()) a = a->get_subcommands().front();
  return a;
}

int usage_error(const CLI::App* cmd, const std::string& msg) {
  std::cerr << "gpas: error: " << msg << "\n(see `" << command_path(cmd) << " --help`)\n";
  return kExitUsage;
}

// Unknown subcommand, option or argument: the first one left over, in the command it was given to.
int extras_error(CLI::App& app) {
  CLI::App* where = &app;
  std::vector<std::string> left;
  for (CLI::App* a = &app;; a = a->get_subcommands().front()) {
    if (left.empty() && !a->remaining(false).empty()) where = a, left = a->remaining(false);
    if (a->get_subcommands().empty()) break;
  }
  if (left.empty()) return usage_error(deepest(app), "unexpected arguments");
  auto is_opt = [](const std::string& s) { return s.size() > 1 && s[0] == '-'; };
  const std::string path = command_path(where);
  auto subs = subcommand_names(where);
  // A mistyped subcommand comes first: `gpas runs lst --json` is about `lst`, not about --json
  // (an option of the `list` meant, which `runs` itself does not have).
  if (!subs.empty() && !is_opt(left[0]))
    return usage_error(where, path + ": unknown command `" + left[0] + "`" + suggest(left[0], subs));
  auto opt = std::find_if(left.begin(), left.end(), is_opt);
  if (opt != left.end()) {
    std::string name = opt->substr(0, opt->find('='));
    return usage_error(where, path + ": unknown option `" + name + "`" + suggest(name, option_names(where)));
  }
  return usage_error(where, path + ": unexpected argument `" + left[0] + "`");
}

}  // namespace

int run_cli(CLI::App& app, int argc, char** argv) {
  std::set<const CLI::App*> needs_sub;
  relax(&app, needs_sub);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a subcommand's exit code (3 diverged, 130 cancelled)
    return e.get_exit_code();
  } catch (const CLI::ExtrasError&) {
    return extras_error(app);
  } catch (const CLI::ParseError& e) {
    const CLI::App* at = deepest(app);
    return usage_error(at, command_path(at) + ": " + e.what());
  } catch (const gpas::Error& e) {
    std::cerr << "gpas: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "gpas: error: " << e.what() << "\n";
    return kExitError;
  }
  CLI::App* at = deepest(app);
  if (needs_sub.count(at)) {
    std::cout << at->help(command_path(at->get_parent()));
    return kExitOk;
  }
  return kExitOk;
}

}  // namespace gpas::cli
