// What a sweep would do, without doing it: every job with its state (from its run dir), progress,
// and estimated device-hours (6 x parameters x tokens over an assumed throughput, or the measured
// time of a finished run). Rendering for people and as JSON. No processes are started here.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweeps/job.h"
#include "sweeps/run_state.h"

namespace gpas::sweeps {

int64_t parameter_count(const RunConfig& cfg);  // embedding + head + layers (vocab 0 -> 32000)
double train_flops(const RunConfig& cfg);       // 6 N tokens
// Estimated device-hours of a whole run: GPU-hours (gpus GPUs) or, with gpus = 0, CPU job hours.
// (make_plan passes gpus = 0 for a job whose config says `train.device: cpu`.)
double estimate_hours(const RunConfig& cfg, const SweepOptions& o, int gpus);

struct PlanRow {
  const Job* job = nullptr;
  RunInfo info;
  double est_hours = 0;   // the whole run, device-hours
  double left_hours = 0;  // what is left of it
  bool cpu = false;       // priced as a CPU job
};

struct Plan {
  const Sweep* sweep = nullptr;
  std::vector<PlanRow> rows;
  int gpus_per_job = 1;  // 0 = CPU
  int count(State s) const;
  double left_hours() const;
  std::string device() const;  // "cpu", "gpu" or "mixed": what the rows are priced as
};

Plan make_plan(const Sweep& sweep, int gpus_per_job);
std::string render_plan(const Plan& p);  // a table for a terminal
nlohmann::json plan_json(const Plan& p);

}  // namespace gpas::sweeps
