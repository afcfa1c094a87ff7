// YAML at the edge: run configs from files and `--set key=value`, with errors that name the file,
// line and key. Also the canonical JSON/YAML forms and the run identity (hash of the resolved
// config, name excluded).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "core/config/config.h"

namespace gpas {

// One key = value with where it came from, so every later error can point at it.
struct Setting {
  std::string key;    // dotted: model.hidden
  YAML::Node value;
  std::string file;   // "run.yaml", or "--set" for the command line
  int line = 0;       // 1-based; 0 = unknown
  std::string where() const;  // "run.yaml:12" / "--set model.hidden"
};

// Flattens a YAML mapping into settings (nested maps become dotted keys; lists stay values).
std::vector<Setting> collect_settings(const YAML::Node& map, const std::string& file,
                                      const std::string& prefix = "");
// Parses "key=value" (value read as YAML).
Setting parse_set(const std::string& key_eq_value);
// Applies settings in order (a size preset first, so explicit numbers win), then resolves and
// validates. Unknown keys, wrong types and invalid values throw gpas::Error with file:line and key.
RunConfig build_config(const std::vector<Setting>& settings);
// Convenience: a YAML file plus --set overrides.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets = {});

bool is_known_key(const std::string& key);
std::vector<std::string> known_keys();

nlohmann::json to_json(const RunConfig& cfg);  // nested, every key
RunConfig from_json(const nlohmann::json& j);   // inverse of to_json (resolved configs)
std::string to_yaml(const RunConfig& cfg);
std::vector<std::pair<std::string, std::string>> flatten(const RunConfig& cfg);  // key, value text
std::string run_id(const RunConfig& cfg);  // 12 hex digits of sha256(canonical JSON without name)

}  // namespace gpas
