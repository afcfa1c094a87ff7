// A job's state, derived from its run directory (the truth): the journal's status lines, its
// mtime as the heartbeat, the pid of the last start line, and the orchestrator's own record
// (<run_dir>/sweep.json: attempts, and failures a dead worker could not write). No scheduling here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gpas::sweeps {

enum class State { Pending, Running, Completed, Diverged, Failed, Cancelled };
std::string to_string(State s);
inline bool is_final(State s) { return s == State::Completed || s == State::Diverged; }

struct RunInfo {
  State state = State::Pending;
  bool started = false;     // a journal exists: a rerun resumes rather than starts
  bool interrupted = false; // started, not finished, no live trainer: Pending, and resumes
  int64_t step = -1;        // last step the journal mentions
  double heartbeat = 0;     // journal mtime (seconds since the epoch); 0 = no journal
  double first_start = 0;   // time of the first start line
  double end_time = 0;      // time of the final status line
  double attempt_start = 0; // time of the last start line, and the step it resumed from
  int64_t attempt_start_step = 0;
  double step_time = 0;     // time of the line that logged `step` (the attempt's progress so far)
  std::string host;         // of the last start line
  int64_t pid = 0;
  int attempts = 0;         // launches by orchestrators (sweep.json)
  std::string error;
  std::string writer;       // a writer that is not its trainer holds the run lock ("gpas eval"):
                            // the run is not running, and no trainer may start until it is done
};

// to_string(state), but "interrupted" for a started run with no live trainer ("interrupted,
// busy: gpas eval" while another writer holds it).
inline std::string state_name(const RunInfo& i) {
  if (!i.interrupted) return to_string(i.state);
  return i.writer.empty() ? "interrupted" : "interrupted, busy: " + i.writer;
}

// heartbeat_timeout: a worker on another host counts as running while its journal is younger.
RunInfo read_run(const std::string& run_dir, double heartbeat_timeout);
double journal_mtime(const std::string& run_dir);  // 0 if none
bool process_alive(int64_t pid);                    // this host
// Sends sig to pid (this host) only if it is the `train` worker of run_dir: its /proc command line
// has `train` and `--run-dir` naming that run. false (nothing sent) if it is not, or cannot be told.
bool signal_worker(int64_t pid, const std::string& run_dir, int sig);

// The orchestrator's record, <run_dir>/sweep.json.
struct RunRecord {
  int attempts = 0;
  std::string state;  // "" | failed | cancelled: the orchestrator's word on the last attempt
  std::string error;
  double time = 0;
  std::string sweep;                // the sweep that launched it last
  std::vector<std::string> sweeps;  // every sweep it belongs to (a cell shared by sweeps), sorted
};
RunRecord read_record(const std::string& run_dir);
// Writes r; the memberships already on disk are kept, and r.sweep joins them.
void write_record(const std::string& run_dir, const RunRecord& r);
// Adds sweep to the memberships of an existing run dir (no-op if it is one already, or no dir):
// a store rebuilt from the run dirs lists the run in every sweep that shares it.
void record_membership(const std::string& run_dir, const std::string& sweep);

}  // namespace gpas::sweeps
