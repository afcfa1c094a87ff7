// Where jobs run: a JobBackend submits worker processes, polls them and stops them. LocalBackend
// (local_backend.h) forks them here; SlurmBackend (slurm_backend.h) hands them to sbatch. Which job
// runs when, retries and heartbeats are the scheduler's business, not a backend's.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace gpas::sweeps {

struct Launch {
  std::string job_id;             // the run id
  std::string name;
  std::vector<std::string> argv;  // the worker command of one rank (`gpas train ...`)
  std::string run_dir;
  int ranks = 1;                  // data-parallel processes (RANK 0..ranks-1)
  std::vector<int> gpus;          // local devices for the job; empty = CPU
};

enum class Phase { Queued, Running, Exited };

struct PollResult {
  Phase phase = Phase::Queued;
  int exit_code = 0;   // Exited: the worker's code; 128+N when killed by signal N; -1 unknown
  std::string detail;  // e.g. "killed by signal 9", a Slurm state
};

class JobBackend {
 public:
  virtual ~JobBackend() = default;
  virtual std::string name() const = 0;
  // true: the backend packs resources itself (Slurm); the scheduler submits every ready job.
  virtual bool schedules_itself() const { return false; }
  // One handle per launch, in order. Throws gpas::Error if nothing could be submitted.
  virtual std::vector<std::string> submit(const std::vector<Launch>& launches) = 0;
  virtual PollResult poll(const std::string& handle) = 0;
  // force = false: ask the worker to checkpoint and stop (SIGTERM; a queued task just goes away);
  // true: kill it now.
  virtual void cancel(const std::string& handle, bool force) = 0;
  // At start-up: tasks an earlier orchestrator of this sweep submitted that are still queued or
  // running, as (job id, handle); job id "" when it cannot be told. The scheduler polls them like
  // its own instead of submitting the job again. Local workers die with their orchestrator: none.
  virtual std::vector<std::pair<std::string, std::string>> adopt() { return {}; }
};

// "exit 3", "killed by signal 9 (SIGKILL)" for an exit code as PollResult gives it.
std::string describe_exit(int code);

}  // namespace gpas::sweeps
