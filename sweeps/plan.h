// What a sweep would do, without doing it: every job with its state (from its run dir), progress,
// and estimated device-hours (core/config/flops.h's FLOPs over a rate: the one this sweep's finished
// jobs measured, else the nearest `gpas bench train` measurement cached on this machine, else the
// sweep's nominal one; a finished run's own time). Rendering for people and as JSON. No processes.
#pragma once
#include <iosfwd>
#include <string>
#include <unordered_map>
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

// A job as a plan holds it: what pricing and the table need, not its config (a 10^6-job plan is
// a few hundred bytes a job). Cells and rates are indices into the plan's tables.
struct PlanRow {
  std::string id, depends_on;
  std::vector<uint32_t> cell;  // into Plan::cell_values: (axis, value label), in axis order
  int64_t steps = 0;
  double flops = 0;            // train_flops of its config
  int64_t parameters = 0;
  bool cpu = false;            // priced as a CPU job
  uint32_t bench_rate = 0;     // into Plan::rates: the bench cache's or the nominal rate for its shape
  int32_t calibrate = -1;      // into Plan::commands: the `gpas bench train` that would measure it
  // From its run directory, and the price (read_states):
  RunInfo info;
  double est_hours = 0;   // the whole run, device-hours
  double left_hours = 0;  // what is left of it
  uint32_t rate = 0;      // into Plan::rates: what prices it (kOwnTime: a finished row's own time)
  double rate_flops = 0;  // FLOP/s of one device it is priced at
};

struct Plan {
  std::string sweep, file, workdir;
  double heartbeat_timeout = 600;
  int gpus_per_job = 1;  // 0 = CPU
  std::vector<PlanRow> rows;
  std::vector<std::pair<std::string, std::string>> cell_values;  // (axis, label), each once
  std::vector<Rate> rates;          // each distinct rate source once (flops: the source's own)
  std::vector<std::string> commands;  // calibrate commands, each once
  int count(State s) const;  // Pending counts interrupted runs too
  int interrupted() const;   // started, not finished, no live trainer (resume from a checkpoint)
  int waiting() const { return count(State::Pending) - interrupted(); }  // never started
  double left_hours() const;
  std::string device() const;  // "cpu", "gpu" or "mixed": what the rows are priced as
  Rate rate(const PlanRow& r) const;  // rates[r.rate] at the row's own FLOP/s
  std::string name(const PlanRow& r) const;  // the job's name, from its cell
  // Where each value of the three tables is (add_job, read_states).
  std::unordered_map<std::string, uint32_t> cell_index_, rate_index_, command_index_;
};

// A plan built job by job (with load_sweep_each, nothing of a job but its row is held), then
// read_states; make_plan does both for an expanded sweep. bench: the cached measurements
// (read_bench_cache(bench_cache_path())); none = nominal rates.
Plan start_plan(const Sweep& header, int gpus_per_job);
void add_job(Plan& p, const Job& j, const SweepOptions& o, const std::vector<BenchEntry>& bench);
// Every row's state from its run directory now, and its price: jobs still to run at the rate this
// sweep's finished and running jobs measured where there are any. Again for each look (--watch).
void read_states(Plan& p);
Plan make_plan(const Sweep& sweep, int gpus_per_job, const std::vector<BenchEntry>& bench = {});
// Wall seconds per FLOP of the jobs still to run at the measured rates the plan priced them with
// (0: none): the live ETA's rate until the sweep run measures its own.
double planned_seconds_per_flop(const Plan& p);
// A table for a terminal, then render_rates; written row by row.
void write_plan(std::ostream& out, const Plan& p);
std::string render_plan(const Plan& p);
// Where the estimates of the jobs still to run come from (a line per source) and the `gpas bench
// train` commands that would measure the nominal or inexact ones on this machine.
std::string render_rates(const Plan& p);
// One JSON object, written job by job; `extra` adds top-level keys.
void write_plan_json(std::ostream& out, const Plan& p, const nlohmann::json& extra = nlohmann::json::object());
nlohmann::json plan_json(const Plan& p);

}  // namespace gpas::sweeps
