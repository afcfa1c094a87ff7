// The sweep-file reader: top-level sections (sweep, extends, base, grid, zip, define, overrides,
// include, exclude, options) into a SweepSpec, checking every key and value shape at file:line.
// Expansion into jobs (cartesian product, matching, references) is expand.cpp's.
#include "sweeps/sweep_file.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/common/error.h"
#include "core/config/yaml_load.h"
#include "sweeps/shorthands.h"
#include "sweeps/sweep_spec.h"

namespace gpas::sweeps {

namespace fs = std::filesystem;

namespace {

int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

using Defines = std::map<std::string, std::map<std::string, std::vector<Setting>>>;

struct Reader {
  std::string file;
  std::string base_dir;
  Defines defines;

  [[noreturn]] void fail(const YAML::Node& n, const std::string& msg) const {
    throw Error(at(file, line_of(n), msg));
  }

  // Settings of a mapping of config keys (nested or dotted), each checked to be a known key.
  std::vector<Setting> settings_of(const YAML::Node& map, const std::string& what) const {
    if (!map.IsMap()) fail(map, what + " must be a mapping of config keys");
    auto out = collect_settings(map, file);
    for (const auto& s : out)
      if (!is_known_key(s.key))
        throw Error(s.where() + ": unknown key '" + s.key + "' in " + what +
                    " (see `gpas train --keys`)");
    return out;
  }

  std::string label_of(const YAML::Node& v) const {
    if (v.IsScalar()) return v.Scalar();
    YAML::Emitter e;
    e << YAML::Flow << v;
    return e.c_str();
  }

  bool is_axis(const std::string& name) const {
    return defines.count(name) || is_shorthand(name) || is_known_key(name);
  }

  // One value of an axis: a defined name, a shorthand value, or a config key's value.
  AxisValue value_of(const std::string& axis, const YAML::Node& v, const YAML::Node& key_node) const {
    AxisValue av{label_of(v), {}};
    int line = line_of(v.IsDefined() && !v.IsNull() ? v : key_node);
    auto d = defines.find(axis);
    if (d != defines.end()) {
      auto it = d->second.find(av.label);
      if (it == d->second.end()) {
        std::string names;
        for (const auto& kv : d->second) names += (names.empty() ? "" : ", ") + kv.first;
        throw Error(at(file, line, axis + ": '" + av.label + "' is not defined under define." +
                                       axis + " (defined: " + names + ")"));
      }
      av.settings = it->second;
    } else if (is_shorthand(axis)) {
      av.settings = shorthand_settings(axis, v, file, line);
    } else if (is_known_key(axis)) {
      av.settings = {Setting{axis, v, file, line}};
    } else {
      throw Error(at(file, line_of(key_node),
                     "unknown key '" + axis + "': not a config key (`gpas train --keys`), a "
                     "shorthand (" + shorthand_names() + ") or an axis under define:"));
    }
    return av;
  }

  std::vector<AxisValue> values_of(const std::string& axis, const YAML::Node& list,
                                   const YAML::Node& key_node) const {
    if (!list.IsSequence() || list.size() == 0)
      fail(list.IsDefined() ? list : key_node, axis + ": expected a non-empty list of values");
    std::vector<AxisValue> out;
    for (const auto& v : list) out.push_back(value_of(axis, v, key_node));
    return out;
  }

  Match match_of(const YAML::Node& map, const std::string& what) const {
    if (!map.IsMap() || map.size() == 0) fail(map, what + " must be a non-empty mapping of axis: value");
    Match m{{}, file + ":" + std::to_string(line_of(map))};
    for (const auto& kv : map) {
      std::string key = kv.first.as<std::string>();
      if (!is_axis(key))
        fail(kv.first, "unknown key '" + key + "' in " + what +
                           ": not an axis, a shorthand (" + shorthand_names() + ") or a config key");
      if (!kv.second.IsScalar()) fail(kv.second, what + ": " + key + " must be a single value");
      m.conds.push_back({key, kv.second});
    }
    return m;
  }
};

// The sweep's name, checked: it names the sweep's lock and record files under the workdir.
std::string name_of(const YAML::Node& root, const std::string& file) {
  bool given = root.IsMap() && root["sweep"];
  if (given && !root["sweep"].IsScalar())
    throw Error(at(file, line_of(root["sweep"]), "sweep: the name must be a single value"));
  std::string name = given ? root["sweep"].Scalar() : fs::path(file).stem().string();
  std::string why = sweep_name_problem(name);
  if (!why.empty())
    throw Error(at(file, given ? line_of(root["sweep"]) : 0,
                   (given ? "sweep: " : "the file's name, taken as the sweep's name: ") + why +
                       (given ? "; give the sweep another name" : "; add `sweep: NAME` or rename the file")));
  return name;
}

std::string location(const std::string& file, const YAML::Node& n) {
  return file + ":" + std::to_string(line_of(n));
}

void read_options(const Reader& r, const YAML::Node& n, SweepOptions& o) {
  if (!n.IsMap()) r.fail(n, "options must be a mapping");
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    auto finite = [&] {  // .inf and .nan are YAML numbers, and no option means them
      double d = kv.second.as<double>();
      if (!std::isfinite(d)) throw YAML::Exception(YAML::Mark(), "not finite");
      return d;
    };
    try {
      if (k == "max_retries") o.max_retries = kv.second.as<int>();
      else if (k == "heartbeat_timeout") o.heartbeat_timeout = finite();
      else if (k == "gpus_per_job") o.gpus_per_job = kv.second.as<int>();
      else if (k == "gpu_tflops") o.gpu_tflops = finite();
      else if (k == "cpu_gflops") o.cpu_gflops = finite();
      else if (k == "max_jobs") o.max_jobs = kv.second.as<int64_t>();
      else
        r.fail(kv.first, "unknown option '" + k +
                             "' (one of max_retries, heartbeat_timeout, gpus_per_job, gpu_tflops, cpu_gflops, "
                             "max_jobs)");
    } catch (const YAML::Exception&) {
      r.fail(kv.second, "options." + k + ": expected a finite number");
    }
  }
  if (o.max_retries < 0) r.fail(n, "options.max_retries must be >= 0");
  if (o.heartbeat_timeout <= 0) r.fail(n, "options.heartbeat_timeout must be positive (seconds)");
  if (o.gpus_per_job < 1) r.fail(n, "options.gpus_per_job must be at least 1");
  if (o.max_jobs < 1) r.fail(n, "options.max_jobs must be at least 1");
}

}  // namespace

SweepSpec parse_spec(const YAML::Node& root, const std::string& file, const std::string& base_dir,
                     const std::vector<std::string>& sets) {
  Reader r{file, base_dir, {}};
  SweepSpec spec;
  spec.file = file;
  spec.name = fs::path(file).stem().string();
  if (!root.IsMap()) throw Error(at(file, line_of(root), "a sweep file must be a mapping"));
  static const std::set<std::string> kSections = {"sweep", "extends", "base", "grid", "zip",
                                                  "define", "overrides", "include", "exclude",
                                                  "options"};
  for (const auto& kv : root) {
    std::string k = kv.first.as<std::string>();
    if (!kSections.count(k))
      r.fail(kv.first, "unknown section '" + k + "' (one of sweep, extends, base, grid, zip, "
                       "define, overrides, include, exclude, options)");
  }
  spec.name = name_of(root, file);

  // extends: run-config files (relative to the sweep file) applied before base:.
  if (YAML::Node ext = root["extends"]) {
    std::vector<YAML::Node> paths;
    if (ext.IsSequence()) for (const auto& p : ext) paths.push_back(p);
    else paths.push_back(ext);
    for (const auto& p : paths) {
      fs::path path = fs::path(base_dir) / p.as<std::string>();
      if (!fs::is_regular_file(path))
        r.fail(p, "extends: " + path.string() +
                      (fs::is_directory(path) ? " is a directory; name a run-config YAML file" : " does not exist"));
      YAML::Node cfg = load_yaml_file(path.string(), "run config");
      Reader sub{path.string(), path.parent_path().string(), {}};
      auto s = sub.settings_of(cfg, "the run config");
      spec.base.insert(spec.base.end(), s.begin(), s.end());
    }
  }
  if (YAML::Node b = root["base"]) {
    auto s = r.settings_of(b, "base");
    spec.base.insert(spec.base.end(), s.begin(), s.end());
  }
  for (const auto& kv : sets) spec.sets.push_back(parse_set(kv));
  for (const auto& s : spec.sets)
    if (!is_known_key(s.key)) throw Error(s.where() + ": unknown key (see `gpas train --keys`)", kExitUsage);

  // define: axis -> name -> settings.
  if (YAML::Node d = root["define"]) {
    if (!d.IsMap()) r.fail(d, "define must be a mapping of axis: {name: {settings}}");
    for (const auto& axis : d) {
      std::string name = axis.first.as<std::string>();
      if (is_known_key(name) || is_shorthand(name))
        r.fail(axis.first, "define: '" + name + "' is already a config key or shorthand; pick another axis name");
      if (!axis.second.IsMap()) r.fail(axis.second, "define." + name + " must map names to settings");
      for (const auto& val : axis.second)
        r.defines[name][val.first.as<std::string>()] =
            val.second.IsNull() ? std::vector<Setting>{}
                                : r.settings_of(val.second, "define." + name + "." + val.first.as<std::string>());
    }
  }
  std::map<std::string, std::string> axis_where;  // axis -> file:line of its first mention
  auto add_axis = [&](const std::string& a, const YAML::Node& at_node) {
    for (const auto& n : spec.axis_names)
      if (n == a) r.fail(at_node, "axis '" + a + "' appears twice (grid and zip axes must be distinct)");
    spec.axis_names.push_back(a);
    axis_where[a] = location(file, at_node);
  };

  if (YAML::Node g = root["grid"]) {
    if (!g.IsMap()) r.fail(g, "grid must be a mapping of axis: [values]");
    for (const auto& kv : g) {
      std::string axis = kv.first.as<std::string>();
      add_axis(axis, kv.first);
      Dimension dim;
      for (auto& v : r.values_of(axis, kv.second, kv.first)) dim.points.push_back({{axis, v}});
      spec.dims.push_back(dim);
    }
  }
  if (YAML::Node z = root["zip"]) {
    if (!z.IsSequence()) r.fail(z, "zip must be a list of groups, each a mapping of axis: [values]");
    for (const auto& group : z) {
      if (!group.IsMap() || group.size() == 0) r.fail(group, "a zip group must be a mapping of axis: [values]");
      std::vector<std::pair<std::string, std::vector<AxisValue>>> cols;
      std::string first_axis;
      for (const auto& kv : group) {
        std::string axis = kv.first.as<std::string>();
        add_axis(axis, kv.first);
        cols.push_back({axis, r.values_of(axis, kv.second, kv.first)});
        if (cols.size() > 1 && cols.back().second.size() != cols.front().second.size())
          r.fail(kv.first, "zip: '" + axis + "' has " + std::to_string(cols.back().second.size()) +
                               " values but '" + cols.front().first + "' has " +
                               std::to_string(cols.front().second.size()) +
                               "; axes zipped together need equal lengths");
      }
      Dimension dim;
      for (size_t i = 0; i < cols.front().second.size(); ++i) {
        Assignment p;
        for (const auto& c : cols) p.push_back({c.first, c.second[i]});
        dim.points.push_back(p);
      }
      spec.dims.push_back(dim);
    }
  }
  if (YAML::Node o = root["overrides"]) {
    if (!o.IsSequence()) r.fail(o, "overrides must be a list of {when: {...}, set: {...}}");
    for (const auto& e : o) {
      if (!e.IsMap() || !e["when"] || !e["set"] || e.size() != 2)
        r.fail(e, "an override needs exactly `when:` (axis: value) and `set:` (config keys)");
      spec.overrides.push_back({r.match_of(e["when"], "overrides.when"), r.settings_of(e["set"], "overrides.set")});
    }
  }
  if (YAML::Node inc = root["include"]) {
    if (!inc.IsSequence()) r.fail(inc, "include must be a list of cells");
    for (const auto& e : inc) {
      if (!e.IsMap() || e.size() == 0) r.fail(e, "an include entry must be a mapping of axis/key: value");
      Include in;
      in.where = location(file, e);
      for (const auto& kv : e) {
        std::string key = kv.first.as<std::string>();
        bool axis = r.defines.count(key) || is_shorthand(key) ||
                    std::find(spec.axis_names.begin(), spec.axis_names.end(), key) != spec.axis_names.end();
        if (axis) {
          in.axes.push_back({key, r.value_of(key, kv.second, kv.first)});
        } else if (kv.second.IsMap()) {
          auto s = r.settings_of(kv.second, "include");
          for (auto& x : s) x.key = key + "." + x.key;
          for (const auto& x : s)
            if (!is_known_key(x.key)) throw Error(x.where() + ": unknown key '" + x.key + "' in include");
          in.settings.insert(in.settings.end(), s.begin(), s.end());
        } else if (is_known_key(key)) {
          in.settings.push_back(Setting{key, kv.second, file, line_of(kv.first)});
        } else {
          r.fail(kv.first, "unknown key '" + key + "' in include: not an axis, a shorthand (" +
                               shorthand_names() + ") or a config key");
        }
      }
      for (const auto& a : in.axes)
        if (std::find(spec.axis_names.begin(), spec.axis_names.end(), a.first) == spec.axis_names.end()) {
          spec.axis_names.push_back(a.first);
          axis_where[a.first] = in.where;
        }
      spec.includes.push_back(in);
    }
  }
  if (YAML::Node ex = root["exclude"]) {
    if (!ex.IsSequence()) r.fail(ex, "exclude must be a list of {axis: value} entries");
    for (const auto& e : ex) spec.excludes.push_back(r.match_of(e, "exclude"));
  }
  if (YAML::Node o = root["options"]) read_options(r, o, spec.options);

  // A --set on a key that an axis names would give every job the same value while the jobs keep
  // names that say otherwise (`--set model.gpas.enabled=yes` on a method axis ran a 4-job grid as
  // 2 jobs named `.../pre/...`): refused.
  for (const auto& s : spec.sets)
    for (const auto& axis : spec.axis_names) {
      std::vector<std::string> keys;
      if (auto d = r.defines.find(axis); d != r.defines.end()) {
        for (const auto& v : d->second)
          for (const auto& x : v.second) keys.push_back(x.key);
      } else if (is_shorthand(axis)) {
        keys = shorthand_keys(axis);
      } else {
        keys = {axis};
      }
      if (std::find(keys.begin(), keys.end(), s.key) != keys.end())
        throw Error("--set " + s.key + ": the sweep's axis '" + axis + "' (" + axis_where[axis] +
                        ") sets " + s.key + " in its values; with --set every job would get "
                        "one value and keep a name that says otherwise. Edit the axis in " + file +
                        " (keep the values you want) instead of --set",
                    kExitUsage);
    }
  return spec;
}

Sweep load_sweep_text(const std::string& yaml, const std::string& label, const std::string& base_dir,
                      const std::string& workdir, const std::vector<std::string>& sets) {
  YAML::Node root = load_yaml_text(yaml, label);
  Sweep s = expand(parse_spec(root, label, base_dir, sets), workdir);
  s.file = label;
  return s;
}

std::string sweep_name_of(const std::string& path) {
  return name_of(load_yaml_file(path, "sweep file"), path);
}

std::string sweep_name_problem(const std::string& name) {
  if (name.empty()) return "the name is empty";
  if (name == "." || name == "..") return "'" + name + "' names a directory, not a sweep";
  if (name.find_first_of("/ \t") != std::string::npos)
    return "the name must be without '/' or spaces (it names files)";
  // Control characters (newlines included) and invalid UTF-8: the name is a file name and
  // appears in logs and terminal output.
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) return "the name holds control characters (byte " + std::to_string(c) + " at " + std::to_string(i) + ")";
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = n > 0 && i + n <= name.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(name[i + k]) & 0xc0) == 0x80;
    if (ok && n > 1) {  // no overlong forms, surrogates or code points past U+10FFFF
      uint32_t cp = c & (0x7f >> n);
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(name[i + k]) & 0x3f);
      static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[n] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    }
    if (!ok) return "the name is not valid UTF-8 (at byte " + std::to_string(i) + ")";
    i += n;
  }
  return "";
}

Sweep load_sweep_each(const std::string& path, const std::string& workdir, const std::vector<std::string>& sets,
                      const std::function<void(const Sweep&, Job&&)>& emit) {
  YAML::Node root = load_yaml_file(path, "sweep file");
  SweepSpec spec = parse_spec(root, path, fs::path(path).parent_path().string(), sets);
  Sweep s;
  s.name = spec.name;
  s.file = path;
  s.workdir = workdir;
  s.options = spec.options;
  expand_each(spec, workdir, [&](Job&& j) { emit(s, std::move(j)); });
  return s;
}

Sweep load_sweep(const std::string& path, const std::string& workdir,
                 const std::vector<std::string>& sets) {
  YAML::Node root = load_yaml_file(path, "sweep file");
  Sweep s = expand(parse_spec(root, path, fs::path(path).parent_path().string(), sets), workdir);
  s.file = path;
  return s;
}

}  // namespace gpas::sweeps
