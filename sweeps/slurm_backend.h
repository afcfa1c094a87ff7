// Slurm: each submit() is one sbatch job array (one task per job, `%N` throttle, --requeue,
// --open-mode=append, --signal=B:USR1@lead, --gres=gpu:K unless on the CPU, K ranks through srun
// on one node, or on several when a job has more ranks than a node has GPUs: MASTER_ADDR is the
// allocation's first host, each rank's exit status is collected). Submitted arrays are recorded, so a rerun adopts the tasks still queued or running.
// The batch script traps USR1, forwards it to the worker (`cmd & wait`), then requeues itself;
// TERM (cancel) is forwarded without requeue. State comes from squeue and `scontrol show job`
// (no accounting needed). Every command goes through a CommandRunner as an argument vector.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "sweeps/backend.h"
#include "sweeps/command_runner.h"

namespace gpas::sweeps {

struct SlurmOptions {
  std::string partition, time, account;
  int throttle = 0;        // %N: tasks at once; 0 = no throttle
  int signal_lead = 120;   // seconds before the time limit: USR1 -> checkpoint -> requeue
  bool cpu = false;        // no --gres
  int cpus_per_task = 0;   // 0 = Slurm's default
  // GPUs of one node (CPU sweeps: ranks per node). A job with more ranks spans ranks / gpus_per_node
  // full nodes (--nodes, --ntasks-per-node, --gpus-per-node); 0 = every job on one node.
  int gpus_per_node = 0;
  std::string state_dir;   // batch scripts, task argument files, logs
  std::string record;      // JSON list of submitted arrays and their jobs (sweep cancel, adopt)
};

// One entry of the record: an array id and the job id of each task (empty in records written
// before the job ids were kept).
struct SlurmArray {
  std::string id;
  std::vector<std::string> jobs;
};
// The record at `path` ([] if there is none). Throws gpas::Error naming the file if unreadable.
std::vector<SlurmArray> read_slurm_record(const std::string& path);

class SlurmBackend : public JobBackend {
 public:
  SlurmBackend(CommandRunner& runner, SlurmOptions o);
  std::string name() const override { return "slurm"; }
  bool schedules_itself() const override { return true; }
  std::vector<std::string> submit(const std::vector<Launch>& launches) override;
  PollResult poll(const std::string& handle) override;
  void cancel(const std::string& handle, bool force) override;
  // Live tasks of the recorded arrays (one `squeue` of this sweep's job name).
  std::vector<std::pair<std::string, std::string>> adopt() override;

  // The batch script of every array (exposed for tests).
  static std::string batch_script();
  // sbatch's argument vector for an array of n tasks with k ranks each.
  std::vector<std::string> sbatch_argv(int n, int k, const std::string& task_dir, const std::string& script) const;

 private:
  void refresh(const std::string& array_id);
  CommandRunner& run_;
  SlurmOptions o_;
  int arrays_ = 0;
  std::map<std::string, std::map<std::string, std::string>> states_;  // array -> task -> state
  std::map<std::string, double> refreshed_;                            // array -> time
};

// Parses "ExitCode=3:0" / "JobState=COMPLETED" out of `scontrol show job -o` text ("" if absent).
std::string scontrol_field(const std::string& text, const std::string& key);
// <workdir>/sweeps/<name>.slurm.json
std::string slurm_record_path(const std::string& workdir, const std::string& sweep);
// scancel (pending tasks, then TERM to running ones) for every array in the record; returns how
// many were asked.
int cancel_recorded_slurm_jobs(const std::string& workdir, const std::string& sweep);

}  // namespace gpas::sweeps
