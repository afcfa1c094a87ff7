// Expansion of a parsed sweep into jobs: cartesian product of the dimensions, per-cell overrides,
// excludes (each must match something), includes, `@run(axis=value)` references (a dependency on
// the matching job, whose run dir becomes the value), identities and de-duplication.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
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

std::string job_name(const std::string& sweep, const std::vector<std::pair<std::string, std::string>>& cell) {
  std::string n = sweep;
  for (const auto& [axis, label] : cell)
    n += "/" + (axis.find('.') != std::string::npos ? axis.substr(axis.rfind('.') + 1) + "=" + label : label);
  return n;
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
  size_t index = 0;  // in the product, then product size + the include's position
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
  std::vector<std::pair<std::string, std::string>> cell;
  for (const auto& [axis, v] : axes) {
    // Job names reach file headers, logs and Slurm job names: no control characters in them.
    for (unsigned char c : v.label)
      if (c < 0x20 || c == 0x7f)
        throw Error("sweep " + sweep + ": grid axis " + axis + ": the value " +
                    nlohmann::json(v.label).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                    " holds a control character, and job names are made of axis values; remove it");
    cell.push_back({axis, v.label});
  }
  return sweeps::job_name(sweep, cell);
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

bool has_references(const SweepSpec& spec) {
  auto any = [](const std::vector<Setting>& v) { return !find_refs(v).empty(); };
  if (any(spec.base) || any(spec.sets)) return true;
  for (const auto& dim : spec.dims)
    for (const auto& point : dim.points)
      for (const auto& [axis, v] : point)
        if (any(v.settings)) return true;
  for (const auto& o : spec.overrides)
    if (any(o.set)) return true;
  for (const auto& in : spec.includes) {
    if (any(in.settings)) return true;
    for (const auto& [axis, v] : in.axes)
      if (any(v.settings)) return true;
  }
  return false;
}

void expand_each(const SweepSpec& spec, const std::string& workdir, const std::function<void(Job&&)>& emit) {
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
  // Each cell is made from its index (mixed radix), never the whole product at once. Without
  // `@run` references each cell becomes its job at once and is passed on: nothing of a job is
  // held but its identity (a 10^6-cell plan in bounded memory). References look other cells up,
  // so a sweep with them keeps its cells until all are made.
  const bool refs_anywhere = has_references(spec);
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
  auto axes_of = [&](size_t index) {  // of a cell by its index: product cells, then includes
    return index < product_size ? product_cell(index) : spec.includes[index - product_size].axes;
  };
  // 3 (for every job as it is made). A cell whose config equals an earlier one's is the same job
  // (a map of ids: a scan of the jobs so far made this quadratic). Said once per sweep where it
  // happens: cells that differ only in keys left out of a run's identity (log_every, device, ...)
  // are one run.
  std::unordered_map<std::string, size_t> seen;  // id -> the index of the cell kept
  size_t merged = 0;
  std::string example;
  auto pass_on = [&](Job&& j, size_t index) {
    auto [it, fresh] = seen.emplace(j.id, index);
    if (fresh) {
      emit(std::move(j));
      return;
    }
    std::string kept = job_name(spec.name, axes_of(it->second));
    if (kept != j.name && merged++ == 0) example = j.name + " is " + kept;
  };
  auto make_job = [&](Cell& c) {
    Job j{"", job_name(spec.name, c.axes), std::move(c.cfg), {}, "", c.where};
    for (const auto& a : c.axes) j.cell.push_back({a.first, a.second.label});
    return j;
  };
  std::vector<bool> exclude_used(spec.excludes.size(), false);
  std::vector<bool> override_used(spec.overrides.size(), false);
  auto settings_of = [&](const Assignment& axes, const std::vector<Setting>& extra) {
    std::vector<Setting> s = spec.base;
    for (const auto& a : axes) s.insert(s.end(), a.second.settings.begin(), a.second.settings.end());
    s.insert(s.end(), extra.begin(), extra.end());
    return s;
  };
  size_t made = 0;
  auto finish = [&](Cell c, bool can_exclude) {
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
    RunConfig pre = spec.overrides.empty() ? RunConfig{} : build(refs_anywhere ? no_refs(s) : s, name);
    for (size_t i = 0; i < spec.overrides.size(); ++i)
      if (matches(spec.overrides[i].when, c.axes, pre)) {
        s.insert(s.end(), spec.overrides[i].set.begin(), spec.overrides[i].set.end());
        override_used[i] = true;
      }
    s.insert(s.end(), spec.sets.begin(), spec.sets.end());
    c.cfg = build(refs_anywhere ? no_refs(s) : s, name);
    if (can_exclude) {
      bool drop = false;
      for (size_t i = 0; i < spec.excludes.size(); ++i)
        if (matches(spec.excludes[i], c.axes, c.cfg)) drop = exclude_used[i] = true;
      if (drop) return;
    }
    ++made;
    if (!refs_anywhere) {
      Job j = make_job(c);
      j.id = run_id_at(workdir, j.cfg);
      pass_on(std::move(j), c.index);
      return;
    }
    c.settings = find_refs(s).empty() ? std::vector<Setting>{} : std::move(s);  // kept only to resolve its references
    cells.push_back(std::move(c));
  };
  for (size_t i = 0; i < product_size; ++i) {
    Assignment axes = product_cell(i);
    finish(Cell{axes, settings_of(axes, {}), spec.file, {}, i}, true);
  }
  for (size_t i = 0; i < spec.excludes.size(); ++i)
    if (!exclude_used[i])
      throw Error(spec.excludes[i].where + ": this exclude matches no job of the grid (a typo?)");
  for (size_t i = 0; i < spec.includes.size(); ++i) {
    const auto& in = spec.includes[i];
    finish(Cell{in.axes, settings_of(in.axes, in.settings), in.where, {}, product_size + i}, false);
  }
  for (size_t i = 0; i < spec.overrides.size(); ++i)
    if (!override_used[i])
      throw Error(spec.overrides[i].when.where + ": this override's `when` matches no job of the sweep (a typo?)");
  if (made == 0) throw Error(spec.file + ": the sweep has no jobs (add a grid: or include:)");

  if (refs_anywhere) {
    // 2. Identities of the jobs without references, then the references to them; dependencies
    // are passed on first.
    std::vector<Job> plain, dependent;
    std::vector<size_t> plain_index, dependent_index;
    std::vector<std::vector<Ref>> refs(cells.size());
    std::vector<std::string> ids(cells.size());
    for (size_t i = 0; i < cells.size(); ++i) {
      refs[i] = find_refs(cells[i].settings);
      if (refs[i].empty()) ids[i] = run_id_at(workdir, cells[i].cfg);
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      Job j = make_job(cells[i]);
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
      bool depends = !j.depends_on.empty();
      (depends ? dependent : plain).push_back(std::move(j));
      (depends ? dependent_index : plain_index).push_back(cells[i].index);
      // What a cell needs once its job is made: its axes (other cells' references look them up).
      cells[i].settings = {};
    }
    for (size_t i = 0; i < plain.size(); ++i) pass_on(std::move(plain[i]), plain_index[i]);
    for (size_t i = 0; i < dependent.size(); ++i) pass_on(std::move(dependent[i]), dependent_index[i]);
  }
  if (merged > 0)
    spdlog::warn("sweep {}: {} cell(s) are the same run as another cell (e.g. {}): their configs differ "
                 "at most in keys that do not change a run's result (train.log_every, checkpoint_every, "
                 "device, ...), so each is run once",
                 spec.name, merged, example);
}

Sweep expand(const SweepSpec& spec, const std::string& workdir) {
  Sweep sweep;
  sweep.name = spec.name;
  sweep.workdir = workdir;
  sweep.options = spec.options;
  expand_each(spec, workdir, [&](Job&& j) { sweep.jobs.push_back(std::move(j)); });
  return sweep;
}

}  // namespace gpas::sweeps
