#include "core/config/config_yaml.h"
#include "core/config/yaml_load.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <type_traits>
#include <unordered_map>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/hash.h"
#include "core/config/fields.h"
#include "core/config/presets.h"

namespace gpas {

std::string Setting::where() const {
  if (file == "--set") return "--set " + key;
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

std::vector<Setting> collect_settings(const YAML::Node& map, const std::string& file,
                                      const std::string& prefix) {
  std::vector<Setting> out;
  if (!map || map.IsNull()) return out;
  if (!map.IsMap())
    throw Error(at(file, map.Mark().line + 1,
                   (prefix.empty() ? std::string("the config") : "'" + prefix + "'") +
                       " must be a mapping of key: value"));
  for (const auto& kv : map) {
    std::string key = prefix.empty() ? kv.first.as<std::string>()
                                     : prefix + "." + kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    // model.gpas.init may be a list; every other list or map below a known leaf is an error later.
    if (v.IsMap()) {
      auto sub = collect_settings(v, file, key);
      out.insert(out.end(), sub.begin(), sub.end());
    } else {
      out.push_back({key, v, file, kv.first.Mark().line + 1});
    }
  }
  return out;
}

Setting parse_set(const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("--set " + kv + ": expected key=value, e.g. --set train.steps=200", kExitUsage);
  Setting s;
  s.key = kv.substr(0, eq);
  s.file = "--set";
  try {
    s.value = YAML::Load(kv.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw Error("--set " + s.key + ": cannot read the value (" + e.msg + ")", kExitUsage);
  }
  if (!s.value || s.value.IsNull()) s.value = YAML::Node(std::string());
  return s;
}

namespace {

std::string type_name(const int64_t&) { return "an integer"; }
std::string type_name(const double&) { return "a finite number"; }
std::string type_name(const bool&) { return "true or false"; }
std::string type_name(const std::string&) { return "a string"; }
std::string type_name(const std::vector<double>&) { return "a finite number or a list of them"; }

// YAML reads .inf and .nan as numbers; no config value means them (and `--set train.lr=inf` was
// refused where `lr: .inf` in a file was not).
double finite(const YAML::Node& v) {
  double d = v.as<double>();
  if (!std::isfinite(d)) throw YAML::Exception(YAML::Mark(), "not finite");
  return d;
}

template <class T>
void assign(T& dst, const YAML::Node& v) {
  if (!v.IsScalar()) throw YAML::Exception(YAML::Mark(), "not a scalar");
  if constexpr (std::is_same_v<T, double>)
    dst = finite(v);
  else
    dst = v.as<T>();
}
void assign(std::vector<double>& dst, const YAML::Node& v) {
  if (v.IsSequence()) {
    std::vector<double> out;
    for (const auto& e : v) out.push_back(finite(e));
    dst = out;
  } else if (v.IsScalar()) {
    dst = {finite(v)};
  } else {
    throw YAML::Exception(YAML::Mark(), "not a scalar or list");
  }
}

std::string closest_keys(const std::string& key) {
  // Keys that share the section, to help fix a typo.
  std::string section = key.substr(0, key.rfind('.') == std::string::npos ? 0 : key.rfind('.'));
  std::string out;
  for (const auto& k : known_keys())
    if (!section.empty() && k.rfind(section + ".", 0) == 0 &&
        k.find('.', section.size() + 1) == std::string::npos)
      out += (out.empty() ? "" : ", ") + k.substr(section.size() + 1);
  return out;
}

void apply(RunConfig& cfg, const Setting& s) {
  bool found = false;
  visit_fields(cfg, [&](const char* key, auto& member, const char*) {
    if (found || s.key != key) return;
    found = true;
    try {
      assign(member, s.value);
    } catch (const YAML::Exception&) {
      std::string got = s.value.IsScalar() ? "'" + s.value.Scalar() + "'" : "a list or mapping";
      throw Error(at(s.file == "--set" ? "" : s.file, s.line,
                     (s.file == "--set" ? "--set " : "") + s.key + ": expected " +
                         type_name(member) + ", got " + got));
    }
  });
  if (!found) {
    std::string hint = closest_keys(s.key);
    throw Error(s.where() + ": unknown key '" + s.key + "'" +
                (hint.empty() ? " (see `gpas train --keys`)"
                              : " (keys here: " + hint + ")"));
  }
}

}  // namespace

RunConfig build_config(const std::vector<Setting>& settings) {
  RunConfig cfg;
  std::map<std::string, std::string> where;  // key -> location of its last setting
  // The size preset first: it fills the architecture numbers that explicit keys may then override.
  for (const auto& s : settings) {
    if (s.key != "model.size") continue;
    apply(cfg, s);
    const SizePreset* p = find_size_preset(cfg.model.size);
    if (!p)
      throw Error(s.where() + ": unknown model.size '" + cfg.model.size + "' (one of " +
                  size_preset_names() + ")");
    cfg.model.hidden = p->hidden;
    cfg.model.intermediate = p->intermediate;
    cfg.model.heads = p->heads;
    cfg.model.layers = p->layers;
    cfg.model.max_positions = p->max_positions;
  }
  for (const auto& s : settings) {
    if (s.key != "model.size") apply(cfg, s);
    where[s.key] = s.where();
  }
  resolve(cfg);
  try {
    validate(cfg);
  } catch (const Error& e) {
    // validate() starts its message with the key; point at where that key was set.
    std::string msg = e.what();
    std::string key = msg.substr(0, msg.find(':'));
    auto it = where.find(key);
    throw Error(it != where.end() ? it->second + ": " + msg : msg);
  }
  return cfg;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets) {
  YAML::Node root = load_yaml_file(path, "config file");
  auto settings = collect_settings(root, path);
  for (const auto& s : sets) settings.push_back(parse_set(s));
  return build_config(settings);
}

std::vector<std::string> known_keys() {
  std::vector<std::string> keys;
  RunConfig c;
  visit_fields(c, [&](const char* key, auto&, const char*) { keys.push_back(key); });
  return keys;
}

bool is_known_key(const std::string& key) {
  for (const auto& k : known_keys())
    if (k == key) return true;
  return false;
}

namespace {
// "train.lr" -> /train/lr, parsed once per key and thread (a sweep plan makes 10^6 configs' ids).
const nlohmann::json::json_pointer& pointer_of(const char* key) {
  thread_local std::unordered_map<const char*, nlohmann::json::json_pointer> parsed;  // fields.h's literals
  auto it = parsed.find(key);
  if (it != parsed.end()) return it->second;
  std::string p = std::string("/") + key;
  std::replace(p.begin(), p.end(), '.', '/');
  return parsed.emplace(key, nlohmann::json::json_pointer(p)).first->second;
}
}  // namespace

nlohmann::json to_json(const RunConfig& cfg) {
  nlohmann::json j = nlohmann::json::object();
  visit_fields(cfg, [&](const char* key, const auto& member, const char*) {
    j[pointer_of(key)] = member;
  });
  return j;
}

RunConfig from_json(const nlohmann::json& j) {
  RunConfig cfg;
  visit_fields(cfg, [&](const char* key, auto& member, const char*) {
    const auto& p = pointer_of(key);
    if (j.contains(p)) j.at(p).get_to(member);
  });
  return cfg;
}

std::vector<std::pair<std::string, std::string>> flatten(const RunConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  visit_fields(cfg, [&](const char* key, const auto& member, const char*) {
    nlohmann::json v = member;
    out.emplace_back(key, v.is_string() ? v.get<std::string>() : v.dump());
  });
  return out;
}

std::string to_yaml(const RunConfig& cfg) {
  YAML::Emitter out;
  std::function<void(const nlohmann::ordered_json&)> emit = [&](const nlohmann::ordered_json& j) {
    if (j.is_object()) {
      out << YAML::BeginMap;
      for (auto it = j.begin(); it != j.end(); ++it) {
        out << YAML::Key << it.key() << YAML::Value;
        emit(it.value());
      }
      out << YAML::EndMap;
    } else if (j.is_array()) {
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& e : j) emit(e);
      out << YAML::EndSeq;
    } else if (j.is_string()) {
      out << YAML::DoubleQuoted << j.get<std::string>();
    } else {
      out << j.dump();  // numbers and booleans as JSON spells them: exact round trip
    }
  };
  // to_json sorts keys alphabetically; YAML for people keeps the order of fields.h.
  nlohmann::ordered_json ordered;
  visit_fields(cfg, [&](const char* key, const auto& member, const char*) {
    ordered[nlohmann::ordered_json::json_pointer(pointer_of(key).to_string())] = member;
  });
  emit(ordered);
  return std::string(out.c_str()) + "\n";
}

// Keys at their default are left out of the identity, so a knob added later (whose default keeps
// the old behaviour) leaves the ids of existing runs as they were.
static void drop_defaults(nlohmann::json& j, const nlohmann::json& defaults) {
  for (auto it = j.begin(); it != j.end();) {
    auto d = defaults.find(it.key());
    if (d != defaults.end() && *d == *it) {
      it = j.erase(it);
      continue;
    }
    if (d != defaults.end() && it->is_object() && d->is_object()) drop_defaults(*it, *d);
    ++it;
  }
}

// Keys that change how a run is run, logged or stored, never its result: resuming a cancelled
// run with another log_every continues that run. (The device and the fused kernels change the
// rounding, not the experiment.)
static const char* const kNotIdentity[][2] = {
    {"train", "log_every"},      {"train", "heartbeat_every"}, {"train", "keep_checkpoints"},
    {"train", "checkpoint_every"}, {"train", "device"},        {"train", "fused_adam"},
    {"train", "fused_norm"}};

// The hash of the config as JSON (name left out, keys at their default dropped); legacy: with the
// keys of kNotIdentity, as ids were made before 3acfc53. j: to_json(cfg).
static std::string identity_hash(nlohmann::json j, bool legacy) {
  j.erase("name");
  if (!legacy)
    for (const auto& k : kNotIdentity) j[k[0]].erase(k[1]);
  static const nlohmann::json defaults = to_json(RunConfig{});
  drop_defaults(j, defaults);
  return sha256_hex(j.dump()).substr(0, 12);
}

std::string run_id(const RunConfig& cfg) { return identity_hash(to_json(cfg), false); }
std::string legacy_run_id(const RunConfig& cfg) { return identity_hash(to_json(cfg), true); }

std::string run_id_at(const std::string& workdir, const RunConfig& cfg) {
  nlohmann::json j = to_json(cfg);
  std::string id = identity_hash(j, false);
  std::string runs = (workdir.empty() ? std::string(".") : workdir) + "/runs/";
  if (path_exists(runs + id) || !path_exists(runs)) return id;  // no directory made before to find
  std::string legacy = identity_hash(std::move(j), true);
  return legacy != id && path_exists(runs + legacy) ? legacy : id;
}

std::string run_id_of_dir(const std::string& run_dir, const RunConfig& cfg) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(run_dir, ec);
  std::string name = (dir / ".").lexically_normal().parent_path().filename().string();
  std::string legacy = legacy_run_id(cfg);
  return name == legacy ? legacy : run_id(cfg);
}

}  // namespace gpas
