// Plans: states, progress and cost estimates of every job of a sweep, as a table or JSON.
#include "sweeps/plan.h"

#include <algorithm>
#include <cstdio>
#include <map>

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
  int cpu = 0;
  for (const auto& r : rows) cpu += r.cpu;
  if (cpu == static_cast<int>(rows.size())) return "cpu";
  return cpu == 0 ? "gpu" : "mixed";
}

Plan make_plan(const Sweep& sweep, int gpus_per_job, const std::vector<BenchEntry>& bench) {
  Plan p;
  p.sweep = &sweep;
  p.gpus_per_job = gpus_per_job;
  for (const auto& j : sweep.jobs) {
    PlanRow r;
    r.job = &j;
    r.info = read_run(run_dir_of(sweep.workdir, j.id), sweep.options.heartbeat_timeout);
    r.cpu = gpus_per_job == 0 || j.cfg.train.device == "cpu";
    int gpus = r.cpu ? 0 : gpus_per_job;
    r.rate = job_rate(bench, j.cfg, sweep.options, r.cpu);
    r.est_hours = train_flops(j.cfg) / r.rate.flops / 3600.0;  // device-hours, as estimate_hours
    if (is_final(r.info.state)) {
      if (r.info.end_time > r.info.first_start && r.info.first_start > 0) {  // measured
        r.est_hours = (r.info.end_time - r.info.first_start) / 3600.0 * std::max(1, gpus);
        r.rate = {Rate::From::Sweep, train_flops(j.cfg) / (r.est_hours * 3600), true, "its own run time"};
      }
      r.left_hours = 0;
    } else {
      double done = r.info.step > 0 ? static_cast<double>(r.info.step) / j.cfg.train.steps : 0.0;
      r.left_hours = r.est_hours * (1.0 - std::min(1.0, done));
    }
    p.rows.push_back(r);
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
      if (is_final(i.state) && i.end_time > i.first_start && i.first_start > 0) {
        flops += train_flops(r.job->cfg);
        device_hours += r.est_hours;
        ++n;
      } else if (i.state == State::Running && i.step > i.attempt_start_step && i.step_time > i.attempt_start &&
                 i.attempt_start > 0) {  // this attempt's steps so far
        flops += train_flops(r.job->cfg) * double(i.step - i.attempt_start_step) / r.job->cfg.train.steps;
        device_hours += (i.step_time - i.attempt_start) / 3600.0 * (cpu ? 1 : std::max(1, gpus_per_job));
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
    for (auto& r : p.rows) {
      if (r.cpu != cpu || is_final(r.info.state)) continue;
      double done = r.left_hours / std::max(r.est_hours, 1e-12);
      r.rate = measured;
      r.est_hours = train_flops(r.job->cfg) / flops * device_hours;
      r.left_hours = r.est_hours * done;
    }
  }
  return p;
}

double planned_seconds_per_flop(const Plan& p) {
  // Measured rates only: a nominal one is a guess (quickstart jobs priced at 17 min took 4 s), and
  // an ETA of "?" says so better than a number would.
  double seconds = 0, flops = 0;
  for (const auto& r : p.rows) {
    if (is_final(r.info.state) || r.info.state == State::Failed || r.rate.from == Rate::From::Nominal) continue;
    seconds += r.est_hours * 3600 / (r.cpu ? 1 : std::max(1, p.gpus_per_job));
    flops += train_flops(r.job->cfg);
  }
  return flops > 0 ? seconds / flops : 0;
}

std::string render_rates(const Plan& p) {
  std::vector<std::pair<std::string, int>> sources;
  std::vector<std::string> commands;
  for (const auto& r : p.rows) {
    if (is_final(r.info.state)) continue;
    auto it = std::find_if(sources.begin(), sources.end(), [&](const auto& s) { return s.first == r.rate.source; });
    if (it == sources.end()) sources.push_back({r.rate.source, 1});
    else ++it->second;
    if (!r.rate.exact) {
      std::string c = calibrate_command(r.job->cfg, r.cpu);
      if (std::find(commands.begin(), commands.end(), c) == commands.end()) commands.push_back(c);
    }
  }
  std::string out;
  for (const auto& [source, n] : sources)
    out += "estimates of " + std::to_string(n) + " job(s) to run: " + source + "\n";
  for (size_t i = 0; i < commands.size() && i < 3; ++i)
    out += "calibrate on this machine: " + commands[i] + "\n";
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

std::string render_plan(const Plan& p) {
  std::string out;
  char line[512];
  std::string device = p.device();
  std::string unit = device == "cpu" ? "CPU-h" : device == "gpu" ? "GPU-h" : "device-h (GPU and CPU jobs)";
  std::snprintf(line, sizeof line, "sweep %s: %zu jobs, runs in %s/runs\n", p.sweep->name.c_str(),
                p.rows.size(), p.sweep->workdir.c_str());
  out += line;
  std::snprintf(line, sizeof line, "  %-12s  %-10s  %-13s  %8s  %s\n", "run_id", "state", "step", "estimate", "job");
  out += line;
  for (const auto& r : p.rows) {
    std::string step = r.info.step >= 0 ? std::to_string(r.info.step) + "/" + std::to_string(r.job->cfg.train.steps)
                                        : "-/" + std::to_string(r.job->cfg.train.steps);
    std::string name = r.job->name;
    if (!r.job->depends_on.empty()) name += "  (after " + r.job->depends_on + ")";
    if (!r.info.error.empty() && (r.info.state == State::Failed)) name += "  [" + r.info.error.substr(0, 60) + "]";
    std::snprintf(line, sizeof line, "  %-12s  %-10s  %-13s  %8s  %s\n", r.job->id.c_str(),
                  state_name(r.info).c_str(), step.c_str(), hours(r.est_hours).c_str(), name.c_str());
    out += line;
  }
  std::snprintf(line, sizeof line,
                "%d completed, %d diverged, %d running, %d interrupted, %d failed, %d cancelled, %d pending; "
                "about %.1f %s left (estimate)\n",
                p.count(State::Completed), p.count(State::Diverged), p.count(State::Running), p.interrupted(),
                p.count(State::Failed), p.count(State::Cancelled), p.waiting(),
                p.left_hours(), unit.c_str());
  out += line;
  return out + render_rates(p);
}

nlohmann::json plan_json(const Plan& p) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& r : p.rows) {
    nlohmann::json cell = nlohmann::json::object();
    for (const auto& [a, v] : r.job->cell) cell[a] = v;
    jobs.push_back({{"run_id", r.job->id}, {"name", r.job->name}, {"state", state_name(r.info)},
                    {"step", r.info.step}, {"steps", r.job->cfg.train.steps},
                    {"attempts", r.info.attempts}, {"error", r.info.error},
                    {"depends_on", r.job->depends_on}, {"cell", cell},
                    {"run_dir", run_dir_of(p.sweep->workdir, r.job->id)},
                    {"parameters", parameter_count(r.job->cfg)},
                    {"est_device_hours", r.est_hours}, {"left_device_hours", r.left_hours},
                    {"rate_flops", r.rate.flops}, {"rate_source", r.rate.source},
                    {"calibrate", r.rate.exact ? "" : calibrate_command(r.job->cfg, r.cpu)}});
  }
  return {{"sweep", p.sweep->name}, {"file", p.sweep->file}, {"workdir", p.sweep->workdir},
          {"device", p.device()}, {"gpus_per_job", p.device() == "cpu" ? 0 : p.gpus_per_job},
          {"jobs", jobs}, {"left_device_hours", p.left_hours()},
          {"counts", {{"completed", p.count(State::Completed)}, {"diverged", p.count(State::Diverged)},
                      {"running", p.count(State::Running)}, {"failed", p.count(State::Failed)},
                      {"cancelled", p.count(State::Cancelled)}, {"interrupted", p.interrupted()},
                      {"pending", p.waiting()}}}};
}

}  // namespace gpas::sweeps
