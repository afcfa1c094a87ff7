// Expansion of a parsed sweep into jobs: cartesian product of the dimensions, per-cell overrides,
// excludes (each must match something), includes, `@run(axis=value)` references (a dependency on
// the matching job, whose run dir becomes the value), identities and de-duplication.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "sweeps/sweep_spec.h"

namespace gpas::sweeps {

std::string run_dir_of(const std::string& workdir, const std::string& id) {
  std::string w = workdir.empty() ? "." : workdir;
  while (w.size() > 1 && w.back() == '/') w.pop_back();
  return w + "/runs/" + id;
}

const Job* find_job(const Sweep& s, const std::string& id) {
  for (const auto& j : s.jobs)
    if (j.id == id) return &j;
  return nullptr;
}

namespace {

struct Cell {
  Assignment axes;
  std::vector<Setting> settings;  // base, axis values, include keys (no overrides, no --set)
  std::string where;
  RunConfig cfg;
};

// "0.001" and "1e-3" are the same value; "True" and "true" too.
bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  char* ea = nullptr;
  char* eb = nullptr;
  double da = std::strtod(a.c_str(), &ea);
  double db = std::strtod(b.c_str(), &eb);
  if (!a.empty() && !b.empty() && *ea == 0 && *eb == 0) return da == db;
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
  };
  return lower(a) == lower(b);
}

bool matches(const Match& m, const Assignment& axes, const RunConfig& cfg) {
  auto flat = flatten(cfg);
  for (const auto& c : m.conds) {
    std::string want = c.value.Scalar();
    auto ax = std::find_if(axes.begin(), axes.end(), [&](const auto& a) { return a.first == c.key; });
    if (ax != axes.end()) {
      if (!same_value(ax->second.label, want)) return false;
      continue;
    }
    auto f = std::find_if(flat.begin(), flat.end(), [&](const auto& kv) { return kv.first == c.key; });
    if (f == flat.end() || !same_value(f->second, want)) return false;
  }
  return true;
}

std::string job_name(const std::string& sweep, const Assignment& axes) {
  std::string n = sweep;
  for (const auto& [axis, v] : axes) {
    // Job names reach file headers, logs and Slurm job names: no control characters in them.
    for (unsigned char c : v.label)
      if (c < 0x20 || c == 0x7f)
        throw Error("sweep " + sweep + ": grid axis " + axis + ": the value " +
                    nlohmann::json(v.label).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                    " holds a control character, and job names are made of axis values; remove it");
    std::string part = v.label;
    if (axis.find('.') != std::string::npos) part = axis.substr(axis.rfind('.') + 1) + "=" + v.label;
    n += "/" + part;
  }
  return n;
}

RunConfig build(const std::vector<Setting>& settings, const std::string& name) {
  try {
    RunConfig cfg = build_config(settings);
    cfg.name = name;
    return cfg;
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (in job " + name + ")");
  }
}

// A `@run(axis=value, ...)` value: the run dir of this cell's job with those axes changed.
struct Ref {
  size_t setting;  // index into the job's settings
  std::vector<std::pair<std::string, std::string>> changes;
};

std::vector<Ref> find_refs(const std::vector<Setting>& settings) {
  std::vector<Ref> refs;
  for (size_t i = 0; i < settings.size(); ++i) {
    const auto& v = settings[i].value;
    if (!v.IsScalar() || v.Scalar().rfind("@run(", 0) != 0) continue;
    std::string body = v.Scalar();
    if (body.back() != ')')
      throw Error(settings[i].where() + ": expected @run(axis=value, ...), got '" + body + "'");
    body = body.substr(5, body.size() - 6);
    Ref r{i, {}};
    size_t pos = 0;
    while (pos < body.size()) {
      size_t comma = body.find(',', pos);
      std::string kv = body.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      auto eq = kv.find('=');
      auto trim = [](std::string s) {
        s.erase(0, s.find_first_not_of(" \t"));
        s.erase(s.find_last_not_of(" \t") + 1);
        return s;
      };
      if (eq == std::string::npos)
        throw Error(settings[i].where() + ": @run(...) takes axis=value pairs, got '" + kv + "'");
      r.changes.push_back({trim(kv.substr(0, eq)), trim(kv.substr(eq + 1))});
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    refs.push_back(r);
  }
  return refs;
}

}  // namespace

Sweep expand(const SweepSpec& spec, const std::string& workdir) {
  // 0. Its size first: a grid above options.max_jobs is refused before anything is expanded.
  double size = 1;
  for (const auto& dim : spec.dims) size *= double(dim.points.size());
  if (!spec.dims.empty() && size + double(spec.includes.size()) > double(spec.options.max_jobs)) {
    char n[32];
    std::snprintf(n, sizeof n, "%.0f", size);
    throw Error(spec.file + ": the grid expands to " + n + " jobs, more than options.max_jobs (" +
                std::to_string(spec.options.max_jobs) + "); shrink the grid, or raise options.max_jobs "
                "in the sweep file if you mean it");
  }
  // 1. The cartesian product of the dimensions (first dimension varies slowest), then includes.
  // Each cell is made from its index (mixed radix), never the whole product at once.
  std::vector<Cell> cells;
  size_t product_size = spec.dims.empty() && !spec.includes.empty() ? 0 : 1;
  for (const auto& dim : spec.dims) product_size *= dim.points.size();
  auto product_cell = [&](size_t index) {
    Assignment a;
    for (size_t d = spec.dims.size(), rest = index; d-- > 0;) {  // the last dimension varies fastest
      const auto& points = spec.dims[d].points;
      const auto& point = points[rest % points.size()];
      a.insert(a.begin(), point.begin(), point.end());
      rest /= points.size();
    }
    return a;
  };
  std::vector<bool> exclude_used(spec.excludes.size(), false);
  std::vector<bool> override_used(spec.overrides.size(), false);
  auto settings_of = [&](const Assignment& axes, const std::vector<Setting>& extra) {
    std::vector<Setting> s = spec.base;
    for (const auto& a : axes) s.insert(s.end(), a.second.settings.begin(), a.second.settings.end());
    s.insert(s.end(), extra.begin(), extra.end());
    return s;
  };
  auto finish = [&](Cell c, bool can_exclude) -> bool {
    // Overrides match on the cell before overrides; excludes on the final config.
    std::string name = job_name(spec.name, c.axes);
    std::vector<Setting> s = c.settings;
    auto no_refs = [](const std::vector<Setting>& v) {
      std::vector<Setting> out;  // fresh nodes: assigning to a YAML::Node would edit the shared one
      for (const auto& x : v)
        out.push_back(x.value.IsScalar() && x.value.Scalar().rfind("@run(", 0) == 0
                          ? Setting{x.key, YAML::Node(""), x.file, x.line}
                          : x);
      return out;
    };
    // The config before overrides, only where there are overrides to match (half the cost of a job).
    RunConfig pre = spec.overrides.empty() ? RunConfig{} : build(no_refs(s), name);
    for (size_t i = 0; i < spec.overrides.size(); ++i)
      if (matches(spec.overrides[i].when, c.axes, pre)) {
        s.insert(s.end(), spec.overrides[i].set.begin(), spec.overrides[i].set.end());
        override_used[i] = true;
      }
    s.insert(s.end(), spec.sets.begin(), spec.sets.end());
    c.cfg = build(no_refs(s), name);
    c.settings = find_refs(s).empty() ? std::vector<Setting>{} : std::move(s);  // kept only to resolve its references
    if (can_exclude) {
      bool drop = false;
      for (size_t i = 0; i < spec.excludes.size(); ++i)
        if (matches(spec.excludes[i], c.axes, c.cfg)) drop = exclude_used[i] = true;
      if (drop) return false;
    }
    cells.push_back(c);
    return true;
  };
  for (size_t i = 0; i < product_size; ++i) {
    Assignment axes = product_cell(i);
    finish(Cell{axes, settings_of(axes, {}), spec.file, {}}, true);
  }
  for (size_t i = 0; i < spec.excludes.size(); ++i)
    if (!exclude_used[i])
      throw Error(spec.excludes[i].where + ": this exclude matches no job of the grid (a typo?)");
  for (const auto& in : spec.includes) finish(Cell{in.axes, settings_of(in.axes, in.settings), in.where, {}}, false);
  for (size_t i = 0; i < spec.overrides.size(); ++i)
    if (!override_used[i])
      throw Error(spec.overrides[i].when.where + ": this override's `when` matches no job of the sweep (a typo?)");
  if (cells.empty()) throw Error(spec.file + ": the sweep has no jobs (add a grid: or include:)");

  // 2. Identities of the jobs without references, then the references to them.
  Sweep sweep;
  sweep.name = spec.name;
  sweep.workdir = workdir;
  sweep.options = spec.options;
  std::vector<Job> plain, dependent;
  std::vector<std::vector<Ref>> refs(cells.size());
  std::vector<std::string> ids(cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    refs[i] = find_refs(cells[i].settings);
    if (refs[i].empty()) ids[i] = run_id_at(workdir, cells[i].cfg);
  }
  for (size_t i = 0; i < cells.size(); ++i) {
    Job j{"", job_name(spec.name, cells[i].axes), std::move(cells[i].cfg), {}, "", cells[i].where};
    for (const auto& a : cells[i].axes) j.cell.push_back({a.first, a.second.label});
    for (const auto& r : refs[i]) {
      const Setting& s = cells[i].settings[r.setting];
      auto want = j.cell;
      for (const auto& [axis, label] : r.changes) {
        auto it = std::find_if(want.begin(), want.end(), [&](const auto& a) { return a.first == axis; });
        if (it == want.end())
          throw Error(s.where() + ": @run(" + axis + "=...): job " + j.name + " has no axis '" + axis + "'");
        it->second = label;
      }
      size_t target = cells.size();
      for (size_t k = 0; k < cells.size(); ++k) {
        if (cells[k].axes.size() != want.size()) continue;
        bool eq = true;
        for (size_t a = 0; a < want.size() && eq; ++a)
          eq = cells[k].axes[a].first == want[a].first && same_value(cells[k].axes[a].second.label, want[a].second);
        if (eq) target = k;
      }
      if (target == cells.size())
        throw Error(s.where() + ": " + s.value.Scalar() + " from job " + j.name +
                    ": no job of this sweep has those values");
      if (!refs[target].empty())
        throw Error(s.where() + ": " + s.value.Scalar() + " refers to " + job_name(spec.name, cells[target].axes) +
                    ", which has a reference itself (chains are not supported)");
      if (!j.depends_on.empty() && j.depends_on != ids[target])
        throw Error(s.where() + ": a job can depend on one other job only");
      j.depends_on = ids[target];
    }
    if (!refs[i].empty()) {
      std::vector<Setting> s;
      for (size_t k = 0; k < cells[i].settings.size(); ++k) {
        const Setting& x = cells[i].settings[k];
        bool is_ref = std::any_of(refs[i].begin(), refs[i].end(), [&](const Ref& r) { return r.setting == k; });
        s.push_back(is_ref ? Setting{x.key, YAML::Node("run:" + j.depends_on), x.file, x.line} : x);
      }
      j.cfg = build(s, j.name);
    }
    j.id = refs[i].empty() ? ids[i] : run_id_at(workdir, j.cfg);
    (j.depends_on.empty() ? plain : dependent).push_back(std::move(j));
    // What a cell needs once its job is made: its axes (other cells' references look them up).
    cells[i].settings = {};
  }
  // 3. Dependencies first; a cell whose config equals an earlier one's is the same job (a map of
  // ids: a scan of the jobs so far made this quadratic). Said once per sweep where it happens: cells
  // that differ only in keys left out of a run's identity (log_every, device, ...) are one run.
  std::unordered_map<std::string, std::string> seen;  // id -> the name of the job kept
  size_t merged = 0;
  std::string example;
  for (auto* list : {&plain, &dependent})
    for (auto& j : *list) {
      auto [it, fresh] = seen.emplace(j.id, j.name);
      if (fresh) {
        sweep.jobs.push_back(std::move(j));
      } else if (it->second != j.name && merged++ == 0) {
        example = j.name + " is " + it->second;
      }
    }
  if (merged > 0)
    spdlog::warn("sweep {}: {} cell(s) are the same run as another cell (e.g. {}): their configs differ "
                 "at most in keys that do not change a run's result (train.log_every, checkpoint_every, "
                 "device, ...), so each is run once",
                 spec.name, merged, example);
  return sweep;
}

}  // namespace gpas::sweeps
