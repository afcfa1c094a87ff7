// Plans: states, progress and cost estimates of every job of a sweep, as a table or JSON.
#include "sweeps/plan.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <sstream>
#include <unordered_map>

#include "core/common/fs.h"
#include "core/config/flops.h"
#include "core/config/schemes.h"
#include "core/data/brown.h"

namespace gpas::sweeps {

int64_t parameter_count(const RunConfig& cfg) { return count_parameters(priced_model(cfg)).total; }

int64_t data_vocab(const DataConfig& d) {
  if (d.source == "synthetic") return d.synthetic_vocab;
  if (d.source == "brown") return kBrownVocab;
  // A prepared directory says its tokenizer's size in manifest.json (read once per directory).
  static std::map<std::string, int64_t> seen;
  if (d.source == "prepared" && !d.path.empty()) {
    auto it = seen.find(d.path);
    if (it != seen.end()) return it->second;
    int64_t v = kAssumedVocab;
    try {
      auto j = nlohmann::json::parse(read_file(d.path + "/manifest.json"));
      v = j.at("tokenizer").at("vocab_size").get<int64_t>();
    } catch (const std::exception&) {  // not prepared yet: the assumption, as before
    }
    return seen[d.path] = v;
  }
  return kAssumedVocab;
}

ModelConfig priced_model(const RunConfig& cfg) {
  ModelConfig m = cfg.model;
  if (m.vocab_size <= 0) m.vocab_size = data_vocab(cfg.data);
  return m;
}

double train_flops(const RunConfig& cfg) {
  // The one formula (core/config/flops.h), with the vocabulary the run will have.
  double tokens = static_cast<double>(cfg.train.steps) * cfg.train.batch_size * cfg.train.seq_len;
  return flops_per_token(priced_model(cfg), cfg.train.seq_len) * tokens;
}

double estimate_hours(const RunConfig& cfg, const SweepOptions& o, int gpus) {
  // Device-hours: g GPUs take 1/g of the time, so the count cancels.
  double per_device = gpus > 0 ? o.gpu_tflops * 1e12 : o.cpu_gflops * 1e9;
  return train_flops(cfg) / per_device / 3600.0;
}

int Plan::count(State s) const {
  int n = 0;
  for (const auto& r : rows) n += r.info.state == s;
  return n;
}

int Plan::interrupted() const {
  int n = 0;
  for (const auto& r : rows) n += r.info.state == State::Pending && r.info.interrupted;
  return n;
}

double Plan::left_hours() const {
  double h = 0;
  for (const auto& r : rows) h += r.left_hours;
  return h;
}

std::string Plan::device() const {
  size_t cpu = 0;
  for (const auto& r : rows) cpu += r.cpu;
  if (cpu == rows.size()) return "cpu";
  return cpu == 0 ? "gpu" : "mixed";
}

Rate Plan::rate(const PlanRow& r) const {
  Rate out = rates.at(r.rate);
  out.flops = r.rate_flops;
  return out;
}

std::string Plan::name(const PlanRow& r) const {
  std::vector<std::pair<std::string, std::string>> cell;
  for (uint32_t i : r.cell) cell.push_back(cell_values[i]);
  return job_name(sweep, cell);
}

namespace {

// Each value once: a plan of 10^6 rows holds an index per row, not a string.
template <typename T>
uint32_t intern(std::vector<T>& values, std::unordered_map<std::string, uint32_t>& index, const std::string& key,
                const T& value) {
  auto [it, fresh] = index.try_emplace(key, static_cast<uint32_t>(values.size()));
  if (fresh) values.push_back(value);
  return it->second;
}

std::string rate_key(const Rate& r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d %d %a ", int(r.from), int(r.exact), r.flops);
  return buf + r.source;
}

const Rate kOwnTime{Rate::From::Sweep, 0, true, "its own run time"};

}  // namespace

Plan start_plan(const Sweep& header, int gpus_per_job) {
  Plan p;
  p.sweep = header.name;
  p.file = header.file;
  p.workdir = header.workdir;
  p.heartbeat_timeout = header.options.heartbeat_timeout;
  p.gpus_per_job = gpus_per_job;
  return p;
}

void add_job(Plan& p, const Job& j, const SweepOptions& o, const std::vector<BenchEntry>& bench) {
  PlanRow r;
  r.id = j.id;
  r.depends_on = j.depends_on;
  for (const auto& cv : j.cell) r.cell.push_back(intern(p.cell_values, p.cell_index_, cv.first + '\n' + cv.second, cv));
  r.steps = j.cfg.train.steps;
  r.flops = train_flops(j.cfg);
  r.parameters = parameter_count(j.cfg);
  r.cpu = p.gpus_per_job == 0 || j.cfg.train.device == "cpu";
  Rate rate = job_rate(bench, j.cfg, o, r.cpu);
  r.bench_rate = intern(p.rates, p.rate_index_, rate_key(rate), rate);
  std::string c = calibrate_command(j.cfg, r.cpu);
  r.calibrate = static_cast<int32_t>(intern(p.commands, p.command_index_, c, c));
  p.rows.push_back(std::move(r));
}

void read_states(Plan& p) {
  const uint32_t own = intern(p.rates, p.rate_index_, rate_key(kOwnTime), kOwnTime);
  for (auto& r : p.rows) {
    r.info = read_run(run_dir_of(p.workdir, r.id), p.heartbeat_timeout);
    int gpus = r.cpu ? 0 : p.gpus_per_job;
    r.rate = r.bench_rate;
    r.rate_flops = p.rates[r.bench_rate].flops;
    r.est_hours = r.flops / r.rate_flops / 3600.0;  // device-hours, as estimate_hours
    if (is_final(r.info.state)) {
      if (r.info.end_time > r.info.first_start && r.info.first_start > 0) {  // measured
        r.est_hours = (r.info.end_time - r.info.first_start) / 3600.0 * std::max(1, gpus);
        r.rate = own;
        r.rate_flops = r.flops / (r.est_hours * 3600);
      }
      r.left_hours = 0;
    } else {
      double done = r.info.step > 0 ? static_cast<double>(r.info.step) / r.steps : 0.0;
      r.left_hours = r.est_hours * (1.0 - std::min(1.0, done));
    }
  }
  // Jobs still to run are priced at the rate this sweep's finished and running jobs measured, per
  // device kind (CPU, or per GPU), where there are any: it includes what a bench leaves out
  // (start-up, data, evaluation, checkpoints, and the jobs beside it on the same machine).
  for (bool cpu : {true, false}) {
    double flops = 0, device_hours = 0;
    int n = 0;
    for (const auto& r : p.rows) {
      if (r.cpu != cpu) continue;
      const RunInfo& i = r.info;
      if (is_final(i.state) && i.end_time > i.attempt_start && i.attempt_start > 0) {
        // Its last attempt, up to the step it ended at (a diverged run stops early): a run
        // interrupted and resumed hours later did not train in between. An attempt that only
        // evaluated (killed after its last step) measures nothing.
        const int64_t end = std::min(std::max(i.step, i.attempt_start_step), r.steps);
        if (end <= i.attempt_start_step) continue;
        flops += r.flops * double(end - i.attempt_start_step) / r.steps;
        device_hours += (i.end_time - i.attempt_start) / 3600.0 * (cpu ? 1 : std::max(1, p.gpus_per_job));
        ++n;
      } else if (i.state == State::Running && i.step > i.attempt_start_step && i.step_time > i.attempt_start &&
                 i.attempt_start > 0) {  // this attempt's steps so far
        flops += r.flops * double(i.step - i.attempt_start_step) / r.steps;
        device_hours += (i.step_time - i.attempt_start) / 3600.0 * (cpu ? 1 : std::max(1, p.gpus_per_job));
        ++n;
      }
    }
    if (flops <= 0 || device_hours <= 0) continue;
    Rate measured;
    measured.from = Rate::From::Sweep;
    measured.flops = flops / (device_hours * 3600);
    measured.exact = true;
    measured.source = "the rate " + std::to_string(n) + " finished or running " + (cpu ? "CPU" : "GPU") +
                      " job(s) of this sweep measured";
    // Keyed by device kind, not by its value, which changes on every look of a --watch: the table
    // keeps one entry per kind (its text the latest), the FLOP/s are each row's own (Plan::rate).
    uint32_t m = intern(p.rates, p.rate_index_, cpu ? "measured cpu" : "measured gpu", measured);
    p.rates[m] = measured;
    for (auto& r : p.rows) {
      if (r.cpu != cpu || is_final(r.info.state)) continue;
      double done = r.left_hours / std::max(r.est_hours, 1e-12);
      r.rate = m;
      r.rate_flops = measured.flops;
      r.est_hours = r.flops / flops * device_hours;
      r.left_hours = r.est_hours * done;
    }
  }
}

Plan make_plan(const Sweep& sweep, int gpus_per_job, const std::vector<BenchEntry>& bench) {
  Plan p = start_plan(sweep, gpus_per_job);
  for (const auto& j : sweep.jobs) add_job(p, j, sweep.options, bench);
  read_states(p);
  return p;
}

double planned_seconds_per_flop(const Plan& p) {
  // Measured rates only: a nominal one is a guess (quickstart jobs priced at 17 min took 4 s), and
  // an ETA of "?" says so better than a number would.
  double seconds = 0, flops = 0;
  for (const auto& r : p.rows) {
    if (is_final(r.info.state) || r.info.state == State::Failed || p.rates[r.rate].from == Rate::From::Nominal) continue;
    seconds += r.est_hours * 3600 / (r.cpu ? 1 : std::max(1, p.gpus_per_job));
    flops += r.flops;
  }
  return flops > 0 ? seconds / flops : 0;
}

std::string render_rates(const Plan& p) {
  std::vector<std::pair<std::string, int>> sources;
  std::vector<int32_t> commands;
  for (const auto& r : p.rows) {
    if (is_final(r.info.state)) continue;
    const Rate& rate = p.rates[r.rate];
    auto it = std::find_if(sources.begin(), sources.end(), [&](const auto& s) { return s.first == rate.source; });
    if (it == sources.end()) sources.push_back({rate.source, 1});
    else ++it->second;
    if (!rate.exact && std::find(commands.begin(), commands.end(), r.calibrate) == commands.end())
      commands.push_back(r.calibrate);
  }
  std::string out;
  for (const auto& [source, n] : sources)
    out += "estimates of " + std::to_string(n) + " job(s) to run: " + source + "\n";
  for (size_t i = 0; i < commands.size() && i < 3; ++i)
    out += "calibrate on this machine: " + p.commands[commands[i]] + "\n";
  if (commands.size() > 3) out += "(and " + std::to_string(commands.size() - 3) + " more shapes)\n";
  return out;
}

namespace {
std::string hours(double h) {
  char buf[32];
  if (h < 1.0 / 60) std::snprintf(buf, sizeof buf, "%.0fs", h * 3600);
  else if (h < 1) std::snprintf(buf, sizeof buf, "%.1fm", h * 60);
  else std::snprintf(buf, sizeof buf, "%.1fh", h);
  return buf;
}
}  // namespace

void write_plan(std::ostream& out, const Plan& p) {
  char line[512];
  std::string device = p.device();
  std::string unit = device == "cpu" ? "CPU-h" : device == "gpu" ? "GPU-h" : "device-h (GPU and CPU jobs)";
  std::snprintf(line, sizeof line, "sweep %s: %zu jobs, runs in %s/runs\n", p.sweep.c_str(), p.rows.size(),
                p.workdir.c_str());
  out << line;
  std::snprintf(line, sizeof line, "  %-12s  %-10s  %-13s  %8s  %s\n", "run_id", "state", "step", "estimate", "job");
  out << line;
  for (const auto& r : p.rows) {
    std::string step = (r.info.step >= 0 ? std::to_string(r.info.step) : "-") + "/" + std::to_string(r.steps);
    std::string name = p.name(r);
    if (!r.depends_on.empty()) name += "  (after " + r.depends_on + ")";
    if (!r.info.error.empty() && (r.info.state == State::Failed)) name += "  [" + r.info.error.substr(0, 60) + "]";
    std::snprintf(line, sizeof line, "  %-12s  %-10s  %-13s  %8s  ", r.id.c_str(), state_name(r.info).c_str(),
                  step.c_str(), hours(r.est_hours).c_str());
    out << line << name << "\n";
  }
  std::snprintf(line, sizeof line,
                "%d completed, %d diverged, %d running, %d interrupted, %d failed, %d cancelled, %d pending; "
                "about %.1f %s left (estimate)\n",
                p.count(State::Completed), p.count(State::Diverged), p.count(State::Running), p.interrupted(),
                p.count(State::Failed), p.count(State::Cancelled), p.waiting(), p.left_hours(), unit.c_str());
  out << line << render_rates(p);
}

std::string render_plan(const Plan& p) {
  std::ostringstream out;
  write_plan(out, p);
  return out.str();
}

void write_plan_json(std::ostream& out, const Plan& p, const nlohmann::json& extra) {
  // Every value is made before anything is written, with invalid UTF-8 replaced as in the rows: a
  // failure leaves nothing half-written.
  nlohmann::json head = {
      {"sweep", p.sweep}, {"file", p.file}, {"workdir", p.workdir}, {"device", p.device()},
      {"gpus_per_job", p.device() == "cpu" ? 0 : p.gpus_per_job}, {"left_device_hours", p.left_hours()},
      {"counts", {{"completed", p.count(State::Completed)}, {"diverged", p.count(State::Diverged)},
                  {"running", p.count(State::Running)}, {"failed", p.count(State::Failed)},
                  {"cancelled", p.count(State::Cancelled)}, {"interrupted", p.interrupted()},
                  {"pending", p.waiting()}}}};
  head.update(extra);
  std::string top = "{\n";
  const auto replace = nlohmann::json::error_handler_t::replace;
  for (const auto& [key, value] : head.items())
    top += "  " + nlohmann::json(key).dump(-1, ' ', false, replace) + ": " + value.dump(-1, ' ', false, replace) + ",\n";
  out << top << "  \"jobs\": [";
  bool first = true;
  for (const auto& r : p.rows) {
    nlohmann::json cell = nlohmann::json::object();
    for (uint32_t i : r.cell) cell[p.cell_values[i].first] = p.cell_values[i].second;
    Rate rate = p.rate(r);
    nlohmann::json job = {{"run_id", r.id}, {"name", p.name(r)}, {"state", state_name(r.info)},
                          {"step", r.info.step}, {"steps", r.steps},
                          {"attempts", r.info.attempts}, {"error", r.info.error},
                          {"depends_on", r.depends_on}, {"cell", cell},
                          {"run_dir", run_dir_of(p.workdir, r.id)},
                          {"parameters", r.parameters},
                          {"est_device_hours", r.est_hours}, {"left_device_hours", r.left_hours},
                          {"rate_flops", rate.flops}, {"rate_source", rate.source},
                          {"calibrate", rate.exact ? "" : p.commands[r.calibrate]}};
    out << (first ? "\n    " : ",\n    ") << job.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    first = false;
  }
  out << (first ? "]\n}\n" : "\n  ]\n}\n");
}

nlohmann::json plan_json(const Plan& p) {
  std::ostringstream out;
  write_plan_json(out, p);
  return nlohmann::json::parse(out.str());
}

}  // namespace gpas::sweeps
