// What a sweep would do, without doing it: every job with its state (from its run dir), progress,
// and estimated device-hours (core/config/flops.h's FLOPs over a rate: the one this sweep's finished
// jobs measured, else the nearest `gpas bench train` measurement cached on this machine, else the
// sweep's nominal one; a finished run's own time). Rendering for people and as JSON. No processes.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweeps/job.h"
#include "sweeps/run_state.h"
#include "sweeps/throughput.h"

namespace gpas::sweeps {

// The vocabulary a run will have before it starts (model.vocab_size 0 = the data's): synthetic's,
// Brown's (8000), a prepared directory's manifest, else kAssumedVocab (T5's 32000).
inline constexpr int64_t kAssumedVocab = 32000;
int64_t data_vocab(const DataConfig& d);
int64_t parameter_count(const RunConfig& cfg);  // count_parameters() of priced_model()
ModelConfig priced_model(const RunConfig& cfg);  // the model with the vocabulary the run will have
double train_flops(const RunConfig& cfg);        // flops_per_token x tokens
// Estimated device-hours of a whole run: GPU-hours (gpus GPUs) or, with gpus = 0, CPU job hours.
// (make_plan passes gpus = 0 for a job whose config says `train.device: cpu`.)
double estimate_hours(const RunConfig& cfg, const SweepOptions& o, int gpus);

struct PlanRow {
  const Job* job = nullptr;
  RunInfo info;
  double est_hours = 0;   // the whole run, device-hours
  double left_hours = 0;  // what is left of it
  bool cpu = false;       // priced as a CPU job
  Rate rate;              // what prices it (a finished row: its own time)
};

struct Plan {
  const Sweep* sweep = nullptr;
  std::vector<PlanRow> rows;
  int gpus_per_job = 1;  // 0 = CPU
  int count(State s) const;  // Pending counts interrupted runs too
  int interrupted() const;   // started, not finished, no live trainer (resume from a checkpoint)
  int waiting() const { return count(State::Pending) - interrupted(); }  // never started
  double left_hours() const;
  std::string device() const;  // "cpu", "gpu" or "mixed": what the rows are priced as
};

// bench: the cached measurements (read_bench_cache(bench_cache_path())); none = nominal rates.
Plan make_plan(const Sweep& sweep, int gpus_per_job, const std::vector<BenchEntry>& bench = {});
// Wall seconds per FLOP of the jobs still to run at the measured rates the plan priced them with
// (0: none): the live ETA's rate until the sweep run measures its own.
double planned_seconds_per_flop(const Plan& p);
std::string render_plan(const Plan& p);  // a table for a terminal, then render_rates
// Where the estimates of the jobs still to run come from (a line per source) and the `gpas bench
// train` commands that would measure the nominal or inexact ones on this machine.
std::string render_rates(const Plan& p);
nlohmann::json plan_json(const Plan& p);

}  // namespace gpas::sweeps
