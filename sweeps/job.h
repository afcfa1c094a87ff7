// A sweep after expansion: its jobs (each a resolved RunConfig whose run_id() is its identity) and
// the options that say how to run them. Parsing sweep files lives in sweep_file.h; running in
// scheduler.h. Options are not part of any job's identity.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"

namespace gpas::sweeps {

struct SweepOptions {
  int max_retries = 2;              // extra attempts after a crash, a hang or a failure
  double heartbeat_timeout = 600;   // seconds without a journal write before a worker is hung
  int gpus_per_job = 1;             // ranks (GPUs) per job unless the command line says otherwise
  double gpu_tflops = 100;          // effective throughput per GPU, for device-hour estimates
  double cpu_gflops = 20;           // effective throughput of one CPU job, same
  int64_t max_jobs = 100000;        // a larger grid is refused before it is expanded
};

struct Job {
  std::string id;    // run_id(cfg): 12 hex digits
  std::string name;  // "<sweep>/<label>/...", also cfg.name
  RunConfig cfg;
  std::vector<std::pair<std::string, std::string>> cell;  // axis -> value label, in axis order
  std::string depends_on;  // id of a job that must complete first ("" = none)
  std::string where;       // file:line of the grid cell or include entry that made it
};

struct Sweep {
  std::string name;
  std::string file;     // the sweep file ("" for sweeps built in code, e.g. gpas ablate)
  std::string workdir;  // runs live in <workdir>/runs/<id>
  SweepOptions options;
  std::vector<Job> jobs;  // in expansion order, unique ids, dependencies before dependents
};

// "<sweep>/<value>/...": a cell's values in axis order, an axis with a dot (train.lr) as lr=value.
std::string job_name(const std::string& sweep, const std::vector<std::pair<std::string, std::string>>& cell);
std::string run_dir_of(const std::string& workdir, const std::string& id);  // <workdir>/runs/<id>
const Job* find_job(const Sweep& s, const std::string& id);

}  // namespace gpas::sweeps
