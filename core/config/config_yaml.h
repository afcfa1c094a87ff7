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
// A run's identity: 12 hex digits of sha256 of its canonical JSON, without its name and without
// the keys that change how it is run, logged or stored but not what it computes (kNotIdentity in
// config_yaml.cpp: log_every, checkpointing, device, fused kernels). Keys at their default are
// left out, so a knob added later keeps the ids of existing runs.
std::string run_id(const RunConfig& cfg);
// The identity before those keys were left out (run directories made until 2026-12-07 carry it
// where one of them was not at its default); equal to run_id where all were.
std::string legacy_run_id(const RunConfig& cfg);
// The id of cfg's run in <workdir>/runs: run_id, or legacy_run_id where only that directory exists
// (so no run made before is trained twice).
std::string run_id_at(const std::string& workdir, const RunConfig& cfg);
// The id a run directory holds cfg's run under: its name where that is cfg's legacy id, else run_id.
std::string run_id_of_dir(const std::string& run_dir, const RunConfig& cfg);

}  // namespace gpas
