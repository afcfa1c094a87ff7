// Scheduling logic against a FakeBackend with a fake clock: packing K-GPU jobs, dependencies,
// retries, divergence, hung workers, stop requests, finished cells never rerun, errors and ETAs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <set>
#include <stdexcept>

#include "core/common/file_lock.h"
#include "core/common/fs.h"
#include "sweeps/plan.h"
#include "sweeps/progress.h"
#include "sweeps/scheduler.h"
#include "sweeps/sweep_file.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

// What one attempt of a job does: run for `polls` polls, then exit with `code` after writing
// `status` ("" = no status line: a crash). hang: never exits until killed.
struct Attempt {
  int polls = 2;
  int code = 0;
  std::string status = "completed";
  bool hang = false;
  bool silent = false;  // exits without a journal line (a config or data error before training)
  std::string error{};  // the status line's error
  std::string log{};    // the last line it leaves in worker.log
  bool ignores_term = false;  // a graceful stop does nothing (a worker stuck in a collective)
};

class FakeBackend : public JobBackend {
 public:
  std::map<std::string, std::deque<Attempt>> script;  // job id -> attempts (default: complete)
  std::vector<Launch> launched;
  std::vector<std::pair<std::string, bool>> cancels;  // job id, force
  int max_running = 0;

  std::string name() const override { return "fake"; }
  std::vector<std::string> submit(const std::vector<Launch>& ls) override {
    std::vector<std::string> hs;
    for (const auto& l : ls) {
      Attempt a;
      auto& q = script[l.job_id];
      if (!q.empty()) {
        a = q.front();
        q.pop_front();
      }
      std::string h = "h" + std::to_string(launched.size());
      launched.push_back(l);
      running_[h] = {l, a, 0, false};
      if (!a.silent) journal(l.run_dir, R"({"type":"start","time":1,"host":"elsewhere","pid":1})");
      hs.push_back(h);
    }
    max_running = std::max<int>(max_running, static_cast<int>(running_.size()));
    return hs;
  }
  PollResult poll(const std::string& h) override {
    auto& r = running_.at(h);
    if (r.killed) {
      running_.erase(h);
      return {Phase::Exited, 137, "killed by signal 9"};
    }
    if (r.attempt.hang || ++r.polls < r.attempt.polls) return {Phase::Running, 0, ""};
    if (!r.attempt.status.empty())
      journal(r.launch.run_dir, R"({"type":"status","time":2,"status":")" + r.attempt.status + R"(","step":5)" +
                                    (r.attempt.error.empty() ? "" : R"(,"error":")" + r.attempt.error + "\"") + "}");
    if (!r.attempt.log.empty()) testing::write(r.launch.run_dir + "/worker.log", "loading\n" + r.attempt.log + "\n");
    int code = r.attempt.code;
    running_.erase(h);
    return {Phase::Exited, code, describe_exit(code)};
  }
  void cancel(const std::string& h, bool force) override {
    auto it = running_.find(h);
    if (it == running_.end()) return;
    cancels.push_back({it->second.launch.job_id, force});
    if (force) it->second.killed = true;
    else if (it->second.attempt.ignores_term) return;
    else {  // a graceful stop: the worker checkpoints and says cancelled
      it->second.attempt = Attempt{1, 130, "cancelled", false};
      it->second.polls = 0;
    }
  }
  // A task an earlier orchestrator left running (returned by adopt()).
  void leave(const std::string& job_id, const std::string& run_dir) {
    std::string h = "left" + std::to_string(left_.size());
    running_[h] = {Launch{job_id, "", {}, run_dir, 1, {}}, Attempt{}, 0, false};
    left_.emplace_back(job_id, h);
  }
  std::vector<std::pair<std::string, std::string>> adopt() override { return left_; }
  int launches_of(const std::string& id) const {
    int n = 0;
    for (const auto& l : launched) n += l.job_id == id;
    return n;
  }

 private:
  struct Running {
    Launch launch;
    Attempt attempt;
    int polls;
    bool killed;
  };
  static void journal(const std::string& dir, const std::string& line) {
    make_dirs(dir);
    FILE* f = std::fopen((dir + "/journal.jsonl").c_str(), "a");
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
  std::map<std::string, Running> running_;
  std::vector<std::pair<std::string, std::string>> left_;
};

struct Fixture {
  std::string wd = testing::temp_dir("sched");
  double clock = 1000;
  SchedulerOptions opts;
  Fixture() {
    opts.worker = "gpas";
    opts.now = [this] { return clock; };
    opts.sleep = [this](double s) { clock += s; };
    opts.heartbeat = [this](const std::string&) { return clock; };  // always fresh
  }
  Sweep sweep(const std::string& grid, const std::string& extra = "") {
    return load_sweep_text("sweep: t\nbase: {train: {steps: 5}}\n" + grid + "\n" + extra, "t.yaml", ".", wd);
  }
};

TEST(Scheduler, PacksKGpuJobsOntoFreeDevices) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1, 2, 3]}");
  FakeBackend b;
  f.opts.gpus = {0, 1, 2, 3};
  f.opts.gpus_per_job = 2;
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.completed, 3);
  EXPECT_EQ(out.exit_code(), 0);
  ASSERT_EQ(b.launched.size(), 3u);
  EXPECT_EQ(b.launched[0].gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(b.launched[1].gpus, (std::vector<int>{2, 3}));
  EXPECT_EQ(b.launched[2].ranks, 2);
  EXPECT_EQ(b.launched[2].gpus.size(), 2u);
  EXPECT_EQ(b.max_running, 2);
  EXPECT_EQ(b.launched[0].argv[1], "train");
  EXPECT_EQ(b.launched[0].argv.back(), "--no-index");  // workers never open gpas.db; the orchestrator ingests
  EXPECT_TRUE(path_exists(b.launched[0].run_dir + "/job.yaml"));
}

TEST(Scheduler, TooFewGpusForOneJobIsAUsageError) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1]}");
  FakeBackend b;
  f.opts.gpus = {0};
  f.opts.gpus_per_job = 2;
  EXPECT_THROW(run_sweep(s, b, f.opts), std::exception);
}

TEST(Scheduler, CrashesAreRetriedUpToMaxRetries) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1, 2]}", "options: {max_retries: 2}");
  FakeBackend b;
  Attempt crash{1, 137, "", false};
  b.script[s.jobs[0].id] = {crash, crash};          // completes on the third attempt
  b.script[s.jobs[1].id] = {crash, crash, crash};   // never
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.completed, 1);
  EXPECT_EQ(out.failed, 1);
  EXPECT_EQ(out.exit_code(), 1);
  EXPECT_EQ(b.launches_of(s.jobs[0].id), 3);
  EXPECT_EQ(b.launches_of(s.jobs[1].id), 3);
  RunRecord rec = read_record(run_dir_of(f.wd, s.jobs[1].id));
  EXPECT_EQ(rec.state, "failed");
  EXPECT_EQ(rec.attempts, 3);
  EXPECT_NE(rec.error.find("signal 9"), std::string::npos);
  EXPECT_EQ(read_run(run_dir_of(f.wd, s.jobs[1].id), 60).state, State::Failed);
}

TEST(Scheduler, AnErrorBeforeTrainingIsNotRetried) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1, 2]}", "options: {max_retries: 2}");
  FakeBackend b;
  b.script[s.jobs[0].id] = {Attempt{1, 1, "", false, true}};   // fails before any journal line
  b.script[s.jobs[1].id] = {Attempt{1, 1, "failed", false}};   // fails while training: retried
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.failed, 1);
  EXPECT_EQ(out.completed, 1);
  EXPECT_EQ(b.launches_of(s.jobs[0].id), 1);
  EXPECT_EQ(b.launches_of(s.jobs[1].id), 2);
  RunRecord rec = read_record(run_dir_of(f.wd, s.jobs[0].id));
  EXPECT_EQ(rec.state, "failed");
  EXPECT_EQ(rec.attempts, 1);
}

// `sweep status` shows the error of the latest attempt, never one an earlier attempt left in the
// journal: attempt 1 fails with error A, attempt 2 dies after its start line (a crash) or before
// writing any line (an error before training), saying error B (issue 10, case 5).
TEST(Scheduler, StatusShowsTheErrorOfTheLatestAttempt) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1, 2]}", "options: {max_retries: 1}");
  FakeBackend b;
  Attempt a{1, 1, "failed"};
  a.error = "error A";
  Attempt crash{1, 137, ""};
  crash.log = "error B";
  Attempt silent{1, 1, "", false, true};
  silent.log = "error B";
  b.script[s.jobs[0].id] = {a, crash};
  b.script[s.jobs[1].id] = {a, silent};
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.failed, 2);
  EXPECT_EQ(b.launched.size(), 4u);
  for (const auto& j : s.jobs) {
    RunInfo info = read_run(run_dir_of(f.wd, j.id), 60);
    EXPECT_EQ(info.state, State::Failed);
    EXPECT_NE(info.error.find("error B"), std::string::npos) << info.error;
    EXPECT_EQ(info.error.find("error A"), std::string::npos) << info.error;
  }
  std::string status = render_plan(make_plan(s, 0));  // what `sweep status` prints
  EXPECT_EQ(status.find("error A"), std::string::npos) << status;
  EXPECT_NE(status.find("error B"), std::string::npos) << status;
}

// Before any job of this run has measured a rate, the ETA is the plan's (a measured rate: finished
// jobs or `gpas bench train`), marked planned; with none it is unknown (issue 10, case 8).
TEST(Scheduler, TheFirstEtaIsThePlansUntilAJobMeasuresOne) {
  for (double planned : {0.0, 1e-9}) {
    Fixture f;
    Sweep s = f.sweep("grid: {seed: [1, 2]}");
    FakeBackend b;
    f.opts.planned_sec_per_flop = planned;
    std::vector<Progress> seen;
    f.opts.on_progress = [&](const Progress& p) { seen.push_back(p); };
    run_sweep(s, b, f.opts);
    ASSERT_FALSE(seen.empty());
    const Progress& first = seen.front();  // one job running, none with a step yet
    EXPECT_EQ(first.running, 1);
    if (planned == 0) {
      EXPECT_EQ(first.eta, -1);
      EXPECT_FALSE(first.eta_planned);
    } else {
      EXPECT_TRUE(first.eta_planned);
      EXPECT_DOUBLE_EQ(first.eta, (train_flops(s.jobs[0].cfg) + train_flops(s.jobs[1].cfg)) * planned);
      EXPECT_NE(summary_line(first).find("(planned)"), std::string::npos) << summary_line(first);
    }
  }
}

TEST(Scheduler, DivergedIsRecordedNotRetried) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1]}");
  FakeBackend b;
  b.script[s.jobs[0].id] = {Attempt{1, 3, "diverged", false}};
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.diverged, 1);
  EXPECT_EQ(b.launched.size(), 1u);
  EXPECT_EQ(out.exit_code(), 0);
}

TEST(Scheduler, HungWorkerIsKilledAndRetried) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1]}", "options: {heartbeat_timeout: 30}");
  FakeBackend b;
  b.script[s.jobs[0].id] = {Attempt{0, 0, "", true}};
  double frozen = -1;
  f.opts.heartbeat = [&](const std::string&) { return frozen >= 0 ? frozen : f.clock; };
  frozen = f.clock;  // the first attempt never beats
  f.opts.on_progress = [&](const Progress&) {
    if (b.launched.size() > 1) frozen = -1;
  };
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.completed, 1);
  EXPECT_EQ(b.launched.size(), 2u);
  ASSERT_FALSE(b.cancels.empty());
  EXPECT_TRUE(b.cancels[0].second);  // killed, not asked
}

TEST(Scheduler, DependentsWaitAndFailWithTheirDependency) {
  Fixture f;
  const char* defs = R"Y(define:
  gates:
    learnable: {}
    fixed: {model.gpas.learnable: false, train.fixed_gates_from: "@run(gates=learnable)"}
)Y";
  Sweep s = f.sweep("grid: {seed: [1, 2], gates: [fixed, learnable]}", defs);
  ASSERT_EQ(s.jobs.size(), 4u);
  FakeBackend b;
  f.opts.max_parallel = 4;
  f.opts.gpus = {0, 1, 2, 3};
  // seed 2's learnable run diverges: its fixed-gate run cannot start.
  const Job* learn2 = nullptr;
  for (const auto& j : s.jobs)
    if (j.name == "t/2/learnable") learn2 = &j;
  ASSERT_TRUE(learn2);
  b.script[learn2->id] = {Attempt{1, 3, "diverged", false}};
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.completed, 2);
  EXPECT_EQ(out.diverged, 1);
  EXPECT_EQ(out.failed, 1);
  // Each dependent launched after its dependency.
  std::vector<std::string> order;
  for (const auto& l : b.launched) order.push_back(l.job_id);
  for (const auto& j : s.jobs) {
    if (j.depends_on.empty()) continue;
    auto me = std::find(order.begin(), order.end(), j.id);
    auto dep = std::find(order.begin(), order.end(), j.depends_on);
    if (me != order.end()) {
      EXPECT_LT(dep - order.begin(), me - order.begin());
    }
  }
}

TEST(Scheduler, FinishedCellsAreNeverRerunAndEditedGridsRunOnlyWhatChanged) {
  Fixture f;
  FakeBackend b;
  Sweep s1 = f.sweep("grid: {seed: [1, 2]}");
  b.script[s1.jobs[1].id] = {Attempt{1, 3, "diverged", false}};
  run_sweep(s1, b, f.opts);
  EXPECT_EQ(b.launched.size(), 2u);
  Sweep s2 = f.sweep("grid: {seed: [1, 2, 3]}");
  run_sweep(s2, b, f.opts);
  ASSERT_EQ(b.launched.size(), 3u);
  EXPECT_EQ(b.launched[2].job_id, s2.jobs[2].id);
}

TEST(Scheduler, StopAsksWorkersToCheckpointAndRecordsCancelled) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1, 2]}");
  FakeBackend b;
  b.script[s.jobs[0].id] = {Attempt{100, 0, "completed", false}};
  bool stop = false;
  f.opts.stop_requested = [&] { return stop; };
  f.opts.on_progress = [&](const Progress& p) {
    if (p.running > 0) stop = true;
  };
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_TRUE(out.stopped);
  EXPECT_EQ(out.exit_code(), 130);
  EXPECT_EQ(out.cancelled, 1);
  EXPECT_EQ(out.pending, 1);  // never started
  ASSERT_EQ(b.cancels.size(), 1u);
  EXPECT_FALSE(b.cancels[0].second);
  EXPECT_EQ(read_run(run_dir_of(f.wd, s.jobs[0].id), 60).state, State::Cancelled);
  // A rerun resumes the cancelled job and runs the other.
  FakeBackend b2;
  SweepOutcome again = run_sweep(s, b2, f.opts = [&] { SchedulerOptions o = f.opts; o.stop_requested = [] { return false; }; o.on_progress = [](const Progress&) {}; return o; }());
  EXPECT_EQ(again.completed, 2);
  EXPECT_EQ(b2.launched.size(), 2u);
}

TEST(Scheduler, ARerunAdoptsLiveTasksAndCancelsStrayOnes) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1, 2]}");
  FakeBackend b;
  b.leave(s.jobs[0].id, run_dir_of(f.wd, s.jobs[0].id));  // still queued in Slurm: no journal yet
  b.leave("gone", f.wd + "/runs/gone");                   // a job no longer in the sweep
  SweepOutcome out = run_sweep(s, b, f.opts);
  EXPECT_EQ(out.completed, 2);
  EXPECT_EQ(b.launches_of(s.jobs[0].id), 0);  // polled to its end, never submitted again
  EXPECT_EQ(b.launches_of(s.jobs[1].id), 1);
  ASSERT_EQ(b.cancels.size(), 1u);
  EXPECT_EQ(b.cancels[0], std::make_pair(std::string("gone"), false));
}

// A live process standing in for a worker of a dead orchestrator: `train ... --run-dir DIR` on its
// command line, running `script` (default: ignoring SIGTERM like a worker stuck in a collective).
pid_t spawn_stuck_worker(const std::string& run_dir,
                         const char* script = "trap '' TERM; while :; do sleep 0.05; done") {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("bash", "bash", "-c", script, "gpas", "train", "--run-dir", run_dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::usleep(200000);  // until bash has exec'd
  return pid;
}

// The start line of a worker `pid` on this host, as a trainer writes it.
void journal_start(const std::string& dir, pid_t pid) {
  testing::write(dir + "/journal.jsonl", R"({"type":"start","time":1,"host":")" + hostname() +
                                             R"(","pid":)" + std::to_string(pid) + "}\n");
}

// Reaps pid; false (and kills it) if it has not exited.
bool reaped(pid_t pid, int* status) {
  if (::waitpid(pid, status, WNOHANG) == pid) return true;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return false;
}

// Stopping -> Killing: a worker that ignores SIGTERM is killed once kill_grace has passed, and the
// job is recorded cancelled (resumable), not failed.
TEST(Scheduler, AStopPastItsGraceKillsTheWorkerAndRecordsCancelled) {
  for (bool second_ctrl_c : {false, true}) {
    Fixture f;
    Sweep s = f.sweep("grid: {seed: [1]}");
    FakeBackend b;
    Attempt stuck{0, 0, "", true};
    stuck.ignores_term = true;
    b.script[s.jobs[0].id] = {stuck};
    f.opts.kill_grace = 50;
    bool stop = false;
    double stop_time = 0, kill_time = 0;
    f.opts.stop_requested = [&] { return stop; };
    f.opts.force_requested = [&] { return second_ctrl_c && stop; };
    f.opts.on_progress = [&](const Progress& p) {
      if (p.running > 0 && !stop) stop = true, stop_time = f.clock;
      if (b.cancels.size() == 2 && kill_time == 0) kill_time = f.clock;
    };
    SweepOutcome out = run_sweep(s, b, f.opts);
    EXPECT_EQ(out.cancelled, 1);
    EXPECT_EQ(out.exit_code(), 130);
    ASSERT_EQ(b.cancels.size(), 2u);
    EXPECT_FALSE(b.cancels[0].second);  // asked first
    EXPECT_TRUE(b.cancels[1].second);   // then killed
    if (second_ctrl_c) EXPECT_LT(kill_time - stop_time, 5);  // at once
    else EXPECT_GE(kill_time - stop_time, 50);              // after the grace
    EXPECT_EQ(read_record(run_dir_of(f.wd, s.jobs[0].id)).state, "cancelled");
  }
}

// Running (an orphan) -> Waiting: a worker of a dead orchestrator that ends without finishing is
// resumed, and its attempt is not counted against this orchestrator's retries (max_retries 0).
TEST(Scheduler, AnOrphanThatEndsUnfinishedIsResumedNotCounted) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1]}", "options: {max_retries: 0}");
  std::string dir = run_dir_of(f.wd, s.jobs[0].id);
  pid_t pid = spawn_stuck_worker(dir, "sleep 1; exit 0");  // not just "sleep": bash would exec it
  ASSERT_GT(pid, 0);
  journal_start(dir, pid);
  ASSERT_EQ(read_run(dir, 30).state, State::Running);
  FakeBackend b;
  bool was_orphan = false;
  f.opts.on_progress = [&](const Progress& p) {
    was_orphan = was_orphan || p.jobs[0].note.find("earlier orchestrator") != std::string::npos;
    ::usleep(1000);
  };
  SweepOutcome out = run_sweep(s, b, f.opts);
  int status = 0;
  EXPECT_TRUE(reaped(pid, &status));
  EXPECT_TRUE(was_orphan);
  EXPECT_EQ(out.completed, 1);
  EXPECT_EQ(out.failed, 0);
  EXPECT_EQ(b.launches_of(s.jobs[0].id), 1);
}

// Running (an orphan) -> Stopping: a stop request reaches an earlier orchestrator's worker as it
// reaches ours (SIGTERM to the run's own worker); it checkpoints, and the job is cancelled.
TEST(Scheduler, AStopReachesAnOrphanToo) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1]}");
  std::string dir = run_dir_of(f.wd, s.jobs[0].id);
  pid_t pid = spawn_stuck_worker(dir, "trap 'exit 0' TERM; while :; do sleep 0.05; done");
  ASSERT_GT(pid, 0);
  journal_start(dir, pid);
  FakeBackend b;
  f.opts.stop_requested = [] { return true; };
  int polls = 0;
  f.opts.on_progress = [&](const Progress&) {
    if (++polls > 20000) throw std::runtime_error("the orphan never stopped");
    ::usleep(1000);
  };
  SweepOutcome out = run_sweep(s, b, f.opts);
  int status = 0;
  ASSERT_TRUE(reaped(pid, &status)) << "the orphan is still alive";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);  // SIGTERM, not SIGKILL
  EXPECT_EQ(out.cancelled, 1);
  EXPECT_EQ(b.launched.size(), 0u);
  EXPECT_EQ(read_record(dir).state, "cancelled");
}

TEST(Scheduler, HungWorkerOfAnEarlierOrchestratorIsKilledAndRetried) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1]}", "options: {heartbeat_timeout: 30}");
  std::string dir = run_dir_of(f.wd, s.jobs[0].id);
  pid_t pid = spawn_stuck_worker(dir);
  ASSERT_GT(pid, 0);
  testing::write(dir + "/journal.jsonl", R"({"type":"start","time":1,"host":")" + hostname() +
                                             R"(","pid":)" + std::to_string(pid) + "}\n");
  ASSERT_EQ(read_run(dir, 30).state, State::Running);  // a live worker is trusted...
  FakeBackend b;
  f.opts.kill_grace = 10;
  f.opts.heartbeat = [&](const std::string&) { return 1000.0; };  // ...until its heartbeat is stale
  bool was_foreign = false;
  int polls = 0;
  f.opts.on_progress = [&](const Progress& p) {
    was_foreign = was_foreign || p.jobs[0].note.find("pid " + std::to_string(pid)) != std::string::npos;
    if (++polls > 5000) throw std::runtime_error("still waiting for the hung worker");
  };
  SweepOutcome out;
  EXPECT_NO_THROW(out = run_sweep(s, b, f.opts));
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    FAIL() << "the stuck worker is still alive";
  }
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);  // killed, as a hung worker of ours
  EXPECT_TRUE(was_foreign);
  EXPECT_EQ(out.completed, 1);
  EXPECT_EQ(b.launches_of(s.jobs[0].id), 1);  // retried (resumes from its checkpoint)
}

TEST(Scheduler, OnlyTheRunsOwnWorkerIsSignalled) {
  std::string wd = testing::temp_dir("sig");
  pid_t pid = spawn_stuck_worker(wd + "/runs/abc");
  EXPECT_FALSE(signal_worker(pid, wd + "/runs/other", SIGKILL));  // another run's worker
  EXPECT_FALSE(signal_worker(::getpid(), wd + "/runs/abc", SIGKILL));  // not a worker at all
  EXPECT_TRUE(signal_worker(pid, wd + "/runs/abc/", SIGKILL));
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
}

}  // namespace
}  // namespace gpas::sweeps

namespace gpas::sweeps {
namespace {

// (start) -> Running (waits): `gpas eval` holding the lock of an unfinished run (interrupted, or
// cancelled by a stop) is no live trainer: the run shows interrupted and busy, not running, and the
// orchestrator waits for it to let go -- shown pending, never taken for hung however stale the
// journal -- instead of launching a trainer that the lock would refuse; then it resumes the run.
TEST(Scheduler, AWriterHoldingTheRunLockIsWaitedForNotShownRunning) {
  for (bool cancelled : {false, true}) {
    Fixture f;
    Sweep s = f.sweep("grid: {seed: [1]}", "options: {max_retries: 0, heartbeat_timeout: 30}");
    std::string dir = run_dir_of(f.wd, s.jobs[0].id);
    journal_start(dir, 999999);  // a trainer that died
    if (cancelled) write_record(dir, RunRecord{1, "cancelled", "stopped by the user", now_seconds(), "t", {}});
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    pid_t eval = ::fork();
    if (eval == 0) {
      ::close(p[0]);
      auto lock = FileLock::try_take(run_lock_path(dir), "gpas eval");
      char ok = lock ? '1' : '0';
      if (::write(p[1], &ok, 1) != 1) ::_exit(2);
      ::usleep(800000);
      ::_exit(0);
    }
    ::close(p[1]);
    char ok = 0;
    ASSERT_TRUE(::read(p[0], &ok, 1) == 1 && ok == '1');
    ::close(p[0]);
    RunInfo info = read_run(dir, 30);
    EXPECT_EQ(info.writer, "gpas eval");
    if (!cancelled) {
      EXPECT_EQ(info.state, State::Pending);
      EXPECT_EQ(state_name(info), "interrupted, busy: gpas eval");
    }
    FakeBackend b;
    f.opts.heartbeat = [](const std::string&) { return 0.0; };  // the dead trainer's journal: stale
    bool waited = false;
    f.opts.on_progress = [&](const Progress& pr) {
      if (pr.jobs[0].note.find("waits for gpas eval") != std::string::npos) {
        waited = true;
        EXPECT_TRUE(b.launched.empty());
        EXPECT_EQ(pr.jobs[0].state, State::Pending);
      }
      ::usleep(1000);
    };
    SweepOutcome out = run_sweep(s, b, f.opts);
    int status = 0;
    EXPECT_EQ(::waitpid(eval, &status, 0), eval);
    EXPECT_TRUE(waited) << cancelled;
    EXPECT_EQ(out.completed, 1) << cancelled;
    EXPECT_EQ(b.launches_of(s.jobs[0].id), 1) << cancelled;
  }
}

// Killing -> Waiting (a retry): a hung orphan whose pid is not this run's worker any more (another
// run's, or one on another host) cannot be signalled; it is given up on, not waited for forever.
TEST(Scheduler, AHungOrphanThatCannotBeSignalledIsGivenUpOn) {
  Fixture f;
  Sweep s = f.sweep("grid: {seed: [1]}", "options: {heartbeat_timeout: 30}");
  std::string dir = run_dir_of(f.wd, s.jobs[0].id);
  pid_t other = spawn_stuck_worker(f.wd + "/runs/another");  // a `train` worker, of another run
  ASSERT_GT(other, 0);
  journal_start(dir, other);  // a run dir without a lock file: its liveness is the pid's
  ASSERT_EQ(read_run(dir, 30).state, State::Running);
  FakeBackend b;
  f.opts.heartbeat = [](const std::string&) { return 0.0; };
  int polls = 0;
  f.opts.on_progress = [&](const Progress&) {
    if (++polls > 2000) throw std::runtime_error("still waiting for an orphan it cannot signal");
  };
  SweepOutcome out;
  EXPECT_NO_THROW(out = run_sweep(s, b, f.opts));
  int status = 0;
  EXPECT_FALSE(reaped(other, &status));  // never signalled: it is not this run's
  EXPECT_EQ(out.completed, 1);
  EXPECT_EQ(b.launches_of(s.jobs[0].id), 1);
}

}  // namespace
}  // namespace gpas::sweeps
