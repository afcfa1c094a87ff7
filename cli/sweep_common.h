// Options shared by `gpas sweep run` and `gpas ablate`, and the one function that runs a sweep
// with them (backend choice, signals, the progress display). Used by sweep.cpp and ablate.cpp.
#pragma once
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace gpas::sweeps {
struct Sweep;
}

namespace gpas::cli {

struct SweepRunArgs {
  std::string workdir = ".";
  std::vector<std::string> sets;
  std::string gpus;          // "0,1,2,3"
  bool cpu = false;
  int gpus_per_job = 0;
  int max_parallel = 0;
  int max_retries = -1;
  double heartbeat_timeout = -1;
  std::string backend = "local";
  std::string partition, time, account;
  int signal_lead = 120;     // slurm: seconds of warning before the time limit
  int cpus_per_task = 0;     // slurm: --cpus-per-task; 0 = Slurm's default
  int gpus_per_node = 0;     // slurm: a job with more GPUs spans nodes; 0 = one node per job
  bool quiet = false;
  double progress_every = 30;  // outside a terminal: a progress line at least this often (s)
};

void add_run_options(CLI::App& cmd, SweepRunArgs& a);  // everything but the sweep itself
int run_sweep_cli(const sweeps::Sweep& sweep, const SweepRunArgs& a);

}  // namespace gpas::cli
