// YAML input with errors a user can act on: a missing file or a directory named as such, parse
// errors and duplicated mapping keys at file:line (yaml-cpp keeps the first of two equal keys
// silently). Knows nothing about what the YAML means.
#pragma once
#include <string>

#include <yaml-cpp/yaml.h>

namespace gpas {

// what: "config file", "sweep file", ... for the messages. Throws gpas::Error.
YAML::Node load_yaml_file(const std::string& path, const std::string& what);
// label names the text in messages (a file name, or "--set x").
YAML::Node load_yaml_text(const std::string& text, const std::string& label);

}  // namespace gpas
