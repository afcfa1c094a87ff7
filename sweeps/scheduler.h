// Runs a sweep to the end on a JobBackend: packs K-GPU jobs onto free devices (or CPU slots),
// honours dependencies, retries crashes and hangs with resume, records divergence without retrying,
// and on a stop request lets workers checkpoint before recording them cancelled. Job states are
// re-derived from run directories, so a rerun after any crash picks up where the last one stopped.
//
// Each job is in one status of a small state machine (in the manner of ninja's Builder/Plan); each
// row below is one function of the Scheduler in scheduler.cpp and a test in scheduler_test.cpp.
//
//   from      event                                     to                       how
//   (start)   run dir final (completed, diverged)       Done                     ingested, never rerun
//   (start)   a live worker of an earlier orchestrator  Running                  adopt(): an orphan, a
//             (run lock held), or a backend task it left                         handle like any other
//   (start)   another writer (gpas eval) holds the      Running (shown pending)  adopt(): an orphan queued
//             lock of an unfinished run                                          until it lets go (no
//                                                                                heartbeat); a stop leaves
//                                                                                it Waiting
//   (start)   anything else                             Waiting                  resumes if started
//   Waiting   dependency failed or diverged             Done (failed)            dependency_failed()
//   Waiting   dependency completed, slots free, in order Running                 launch()
//   Running   poll: exited, run completed / diverged    Done                     exited()
//   Running   poll: exit 1 before its first journal     Done (failed)            exited(): not retried
//             line (a config or data error)
//   Running   poll: exited otherwise                    Waiting, or Done         retry_or_fail(): up to
//                                                       (failed) past retries    max_retries
//   Running   an orphan exited unfinished               Waiting                  not counted (its attempt
//                                                                                was the dead orchestrator's)
//   Running   no heartbeat for heartbeat_timeout        Killing                  hung(): SIGKILL
//   Running   stop requested (Ctrl-C, SIGTERM)          Stopping                 stop(): SIGTERM, the
//                                                                                worker checkpoints
//   Stopping  kill_grace passed, or a second Ctrl-C     Killing                  kill(): SIGKILL
//   Stopping, poll: exited, run not finished            Done (cancelled)         exited(); a rerun resumes
//   Killing   (a stop's kill)
//   Killing   poll: exited after a hang                 Waiting, or Done         retry_or_fail()
//                                                       (failed)
//   Killing   an orphan that cannot be signalled (not   Waiting, or Done         given up on: exited()
//             this run's worker here)                   (failed)
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "sweeps/backend.h"
#include "sweeps/job.h"
#include "sweeps/run_index.h"
#include "sweeps/run_state.h"

namespace gpas::sweeps {

struct JobProgress {
  const Job* job = nullptr;
  State state = State::Pending;
  int attempt = 0;          // launches in this orchestrator
  int64_t step = -1;        // last step seen in the journal
  std::string devices;      // "gpu 0,1" / "cpu"
  std::string note;         // "retry 1: killed by signal 9", "waits for <id>", ...
};

struct Progress {
  std::vector<JobProgress> jobs;  // every job of the sweep, in sweep order
  int done = 0, running = 0, pending = 0, failed = 0;
  double elapsed = 0;
  double eta = -1;  // seconds; -1 = unknown
  bool eta_planned = false;  // from SchedulerOptions::planned_sec_per_flop: nothing measured yet
  bool stopping = false;
};

struct SchedulerOptions {
  std::string worker;        // the gpas program that runs `train`
  std::vector<int> gpus;     // devices to pack jobs onto; empty = CPU
  int gpus_per_job = 0;      // ranks per job; 0 = the sweep's option
  int max_parallel = 0;      // jobs at once; 0 = as many as fit (CPU: 1)
  int max_retries = -1;      // -1 = the sweep's option
  double heartbeat_timeout = -1;  // -1 = the sweep's option
  double poll_interval = 1.0;
  double kill_grace = 120;   // after SIGTERM, seconds before SIGKILL
  std::function<bool()> stop_requested = [] { return false; };
  std::function<bool()> force_requested = [] { return false; };  // a second Ctrl-C
  std::function<void(const Progress&)> on_progress = [](const Progress&) {};
  RunIndex* index = nullptr;  // nullptr = no store
  // Wall seconds per FLOP of a job for the ETA until this run measures its own (planned_seconds_
  // per_flop of the sweep's plan: finished jobs or `gpas bench train`, never nominal); 0 = unknown.
  double planned_sec_per_flop = 0;
  // Injected for tests: time, sleeping, the heartbeat of a run dir (default: journal mtime).
  std::function<double()> now;
  std::function<void(double)> sleep;
  std::function<double(const std::string&)> heartbeat;
};

struct SweepOutcome {
  int completed = 0, diverged = 0, failed = 0, cancelled = 0, pending = 0;
  bool stopped = false;  // a stop was requested
  int exit_code() const;  // 0 all done, 130 stopped, 1 failures
};

// The worker command of a job:
//   <worker> train --config <run_dir>/job.yaml --run-dir <run_dir> --workdir W --no-index
std::vector<std::string> worker_argv(const std::string& worker, const Sweep& s, const Job& j);
// Writes <run_dir>/job.yaml (the resolved config the worker reads).
void write_job_config(const Sweep& s, const Job& j);

SweepOutcome run_sweep(const Sweep& sweep, JobBackend& backend, const SchedulerOptions& opts);

}  // namespace gpas::sweeps
