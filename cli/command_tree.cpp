// dump_commands / add_command_stubs (command_tree.h): a CLI11 command tree to JSON and back, as far
// as help, completion and the man page read it. Leaves out validators and callbacks: stubs parse
// nothing.
#include "cli/command_tree.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace gpas::cli {

namespace {

nlohmann::json dump(const CLI::App& a) {
  nlohmann::json options = nlohmann::json::array(), commands = nlohmann::json::array();
  for (const CLI::Option* o : a.get_options()) {
    if (o == a.get_help_ptr() || o == a.get_help_all_ptr()) continue;  // every stub has its own
    std::string names = o->get_snames().empty() && o->get_lnames().empty() ? o->get_name(true) : "";
    for (const auto& s : o->get_snames()) names += (names.empty() ? "-" : ",-") + s;
    for (const auto& l : o->get_lnames()) names += (names.empty() ? "--" : ",--") + l;
    options.push_back({{"names", names}, {"flag", o->get_type_size() == 0}, {"type", o->get_type_name()},
                       {"description", o->get_description()}, {"default", o->get_default_str()},
                       {"env", o->get_envname()}, {"group", o->get_group()}});
  }
  for (const CLI::App* s : a.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); }))
    commands.push_back(dump(*s));
  return {{"name", a.get_name()}, {"description", a.get_description()}, {"footer", a.get_footer()},
          {"options", options}, {"commands", commands}};
}

void add(CLI::App& parent, const nlohmann::json& c) {
  CLI::App* a = parent.add_subcommand(c.at("name"), c.at("description"));
  a->footer(c.at("footer").get<std::string>());  // also when empty: not the parent's, as CLI11 copies
  for (const auto& o : c.at("options")) {
    std::string names = o.at("names");
    CLI::Option* opt = o.at("flag").get<bool>() ? a->add_flag(names) : a->add_option(names);
    opt->description(o.at("description"));
    opt->type_name(o.at("type"));
    opt->default_str(o.at("default"));
    opt->group(o.at("group"));
    if (!o.at("env").get<std::string>().empty()) opt->envname(o.at("env"));
  }
  for (const auto& s : c.at("commands")) add(*a, s);
}

}  // namespace

std::string dump_commands(const CLI::App& root) {
  return dump(root).at("commands").dump(1) + "\n";
}

std::vector<std::string> add_command_stubs(CLI::App& root, std::string_view dump) {
  std::vector<std::string> names;
  for (const auto& c : nlohmann::json::parse(dump)) {
    add(root, c);
    names.push_back(c.at("name"));
  }
  return names;
}

}  // namespace gpas::cli
