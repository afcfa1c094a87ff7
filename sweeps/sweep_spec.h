// The parsed, not yet expanded form of a sweep file, shared by the reader (sweep_file.cpp) and the
// expander (expand.cpp). Internal to gpas_sweeps; nothing here builds configs.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config/config_yaml.h"
#include "sweeps/job.h"

namespace gpas::sweeps {

struct AxisValue {
  std::string label;              // the value as written ("350m", "pre+gpas", "0.001")
  std::vector<Setting> settings;  // what it sets
};
using Assignment = std::vector<std::pair<std::string, AxisValue>>;  // axis -> value

// One factor of the cartesian product: a grid axis (points of one axis) or a zip group.
struct Dimension {
  std::vector<Assignment> points;
};

struct Condition {
  std::string key;  // an axis name or a config key
  YAML::Node value;
};
struct Match {
  std::vector<Condition> conds;
  std::string where;  // file:line of the entry
};
struct Override {
  Match when;
  std::vector<Setting> set;
};
struct Include {
  Assignment axes;                // axis values named in the entry
  std::vector<Setting> settings;  // config keys set directly
  std::string where;
};

struct SweepSpec {
  std::string name;
  std::string file;
  std::vector<std::string> axis_names;  // every axis a cell may carry, in order
  std::vector<Setting> base;            // extends: files, then base:
  std::vector<Setting> sets;            // --set, applied last
  std::vector<Dimension> dims;
  std::vector<Override> overrides;
  std::vector<Include> includes;
  std::vector<Match> excludes;
  SweepOptions options;
};

SweepSpec parse_spec(const YAML::Node& root, const std::string& file, const std::string& base_dir,
                     const std::vector<std::string>& sets);
Sweep expand(const SweepSpec& spec, const std::string& workdir);
// The same jobs, in the same order, passed to emit one at a time: without `@run` references
// nothing is kept but each job's identity (a cell merged into an earlier one is not passed on).
void expand_each(const SweepSpec& spec, const std::string& workdir, const std::function<void(Job&&)>& emit);
bool has_references(const SweepSpec& spec);  // an `@run(...)` value anywhere in it

}  // namespace gpas::sweeps
