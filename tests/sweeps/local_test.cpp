// Real worker processes on the CPU (tests/sweeps/fake_worker.sh keeps the worker contract):
// crashes, hangs and a SIGKILLed worker are retried with resume; ranks get their environment;
// Ctrl-C lets workers checkpoint; a SIGKILLed orchestrator's sweep resumes when rerun.
#include <gtest/gtest.h>
#include <cstdlib>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common/fs.h"
#include "core/common/journal.h"
#include "sweeps/local_backend.h"
#include "sweeps/scheduler.h"
#include "sweeps/sweep_file.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

const std::string kWorker = std::string(GPAS_SOURCE_DIR) + "/tests/sweeps/fake_worker.sh";

struct Local {
  std::string wd = testing::temp_dir("local");
  SchedulerOptions opts;
  Local() {
    opts.worker = kWorker;
    opts.poll_interval = 0.05;
    opts.kill_grace = 5;
  }
  Sweep sweep(const std::string& grid, const std::string& extra = "") {
    return load_sweep_text("sweep: l\nbase: {train: {steps: 8}}\n" + grid + "\n" + extra, "l.yaml", ".", wd);
  }
  std::vector<nlohmann::json> lines(const Sweep& s, size_t i, const std::string& type) {
    std::vector<nlohmann::json> out;
    for (auto& l : read_journal(run_dir_of(wd, s.jobs[i].id) + "/journal.jsonl"))
      if (l.value("type", "") == type) out.push_back(l);
    return out;
  }
};

TEST(LocalWorkers, CrashAndHangAreRetriedWithResume) {
  Local t;
  Sweep s = t.sweep("grid: {seed: [0, 1, 3, 2]}", "options: {heartbeat_timeout: 1.5, max_retries: 2}");
  LocalBackend b(true);
  t.opts.max_parallel = 2;
  SweepOutcome out = run_sweep(s, b, t.opts);
  EXPECT_EQ(out.completed, 3);
  EXPECT_EQ(out.diverged, 1);
  EXPECT_EQ(t.lines(s, 0, "start").size(), 1u);
  auto crash = t.lines(s, 1, "start");
  ASSERT_EQ(crash.size(), 2u);  // crashed at step 3, resumed
  auto running = t.lines(s, 1, "status");
  EXPECT_EQ(running[1]["step"], 2);  // the second attempt started from the checkpoint
  EXPECT_EQ(t.lines(s, 2, "start").size(), 2u);  // hung, killed, retried
  EXPECT_EQ(t.lines(s, 3, "start").size(), 1u);  // diverged: not retried
  EXPECT_EQ(t.lines(s, 0, "start")[0]["cuda"], "");  // CPU: no devices
}

TEST(LocalWorkers, MultiRankJobsGetTheDistributedEnvironment) {
  Local t;
  Sweep s = t.sweep("grid: {seed: [0]}");
  LocalBackend b(true);
  t.opts.gpus_per_job = 2;
  EXPECT_EQ(run_sweep(s, b, t.opts).completed, 1);
  auto starts = t.lines(s, 0, "start");
  ASSERT_EQ(starts.size(), 2u);
  std::set<std::string> ranks;
  for (auto& l : starts) {
    ranks.insert(l["rank"].get<std::string>());
    EXPECT_EQ(l["world"], "2");
  }
  EXPECT_EQ(ranks, (std::set<std::string>{"0", "1"}));
}

// `sweep run --cpu --max-parallel 2` on 2 cores: each worker gets GPAS_THREADS=1 (its share), and a
// GPAS_THREADS the user set wins.
TEST(LocalWorkers, CpuJobsSideBySideShareTheCores) {
  const char* user = std::getenv("GPAS_THREADS");
  std::string saved = user ? user : "";
  ::unsetenv("GPAS_THREADS");
  {
    Local t;
    Sweep s = t.sweep("grid: {seed: [0, 1]}");
    LocalBackend b(true, 1);
    t.opts.max_parallel = 2;
    EXPECT_EQ(run_sweep(s, b, t.opts).completed, 2);
    for (size_t i = 0; i < 2; ++i) EXPECT_EQ(t.lines(s, i, "start")[0]["threads"], "1");
  }
  {
    Local t;
    Sweep s = t.sweep("grid: {seed: [0]}");
    LocalBackend b(true);  // one job at a time: it takes every core, as gpas train does
    EXPECT_EQ(run_sweep(s, b, t.opts).completed, 1);
    EXPECT_EQ(t.lines(s, 0, "start")[0]["threads"], "unset");
  }
  {
    ::setenv("GPAS_THREADS", "3", 1);
    Local t;
    Sweep s = t.sweep("grid: {seed: [0]}");
    LocalBackend b(true, 1);
    EXPECT_EQ(run_sweep(s, b, t.opts).completed, 1);
    EXPECT_EQ(t.lines(s, 0, "start")[0]["threads"], "3");
  }
  if (user) ::setenv("GPAS_THREADS", saved.c_str(), 1); else ::unsetenv("GPAS_THREADS");
}

TEST(LocalWorkers, SigkilledWorkerIsRetriedAndTheSweepCompletes) {
  Local t;
  Sweep s = t.sweep("grid: {seed: [5]}");
  LocalBackend b(true);
  bool killed = false;
  t.opts.on_progress = [&](const Progress& p) {
    if (!killed && p.jobs[0].step >= 2) {
      auto starts = t.lines(s, 0, "start");
      ASSERT_FALSE(starts.empty());
      ::kill(starts.back()["pid"].get<pid_t>(), SIGKILL);
      killed = true;
    }
  };
  SweepOutcome out = run_sweep(s, b, t.opts);
  EXPECT_TRUE(killed);
  EXPECT_EQ(out.completed, 1);
  auto status = t.lines(s, 0, "status");
  EXPECT_GE(status[1]["step"].get<int>(), 2);  // resumed, not restarted
  EXPECT_EQ(status.back()["status"], "completed");
}

TEST(LocalWorkers, StopLetsWorkersCheckpointAndARerunResumes) {
  Local t;
  Sweep s = t.sweep("grid: {seed: [5, 0]}");
  t.opts.max_parallel = 1;
  {
    LocalBackend b(true);
    bool stop = false;
    t.opts.stop_requested = [&] { return stop; };
    t.opts.on_progress = [&](const Progress& p) { stop = stop || p.jobs[0].step >= 2; };
    SweepOutcome out = run_sweep(s, b, t.opts);
    EXPECT_TRUE(out.stopped);
    EXPECT_EQ(out.cancelled, 1);
    EXPECT_EQ(out.pending, 1);
    EXPECT_EQ(t.lines(s, 0, "status").back()["status"], "cancelled");
  }
  LocalBackend b(true);
  t.opts.stop_requested = [] { return false; };
  t.opts.on_progress = [](const Progress&) {};
  SweepOutcome out = run_sweep(s, b, t.opts);
  EXPECT_EQ(out.completed, 2);
  auto status = t.lines(s, 0, "status");
  EXPECT_GE(status[2]["step"].get<int>(), 2);  // running line of the resumed attempt
}

TEST(LocalWorkers, SigkilledOrchestratorLeavesNothingRunningAndARerunResumes) {
  Local t;
  Sweep s = load_sweep_text("sweep: o\nbase: {train: {steps: 12}}\ngrid: {seed: [5]}\ninclude: [{seed: 5, train.lr: 2e-3}]\n",
                      "o.yaml", ".", t.wd);
  ASSERT_EQ(s.jobs.size(), 2u);
  t.opts.max_parallel = 2;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    LocalBackend b(true);
    run_sweep(s, b, t.opts);
    ::_exit(0);
  }
  // Wait until both workers are a few steps in, then kill the orchestrator outright.
  for (int i = 0; i < 200; ++i) {
    bool both = true;
    for (size_t j = 0; j < 2; ++j) {
      auto hb = path_exists(run_dir_of(t.wd, s.jobs[j].id) + "/journal.jsonl") ? t.lines(s, j, "heartbeat")
                                                                                : std::vector<nlohmann::json>{};
      both = both && hb.size() >= 2;
    }
    if (both) break;
    ::usleep(50000);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // The rerun waits for the orphans (they got SIGTERM and checkpoint), then resumes them.
  LocalBackend b(true);
  SweepOutcome out = run_sweep(s, b, t.opts);
  EXPECT_EQ(out.completed, 2);
  for (size_t j = 0; j < 2; ++j) {
    auto status = t.lines(s, j, "status");
    bool cancelled = false;
    for (auto& l : status) cancelled |= l["status"] == "cancelled";
    EXPECT_TRUE(cancelled) << "the orphaned worker should have checkpointed on its parent's death";
    EXPECT_EQ(status.back()["status"], "completed");
    EXPECT_EQ(t.lines(s, j, "start").size(), 2u);
    EXPECT_EQ(read_run(run_dir_of(t.wd, s.jobs[j].id), 60).state, State::Completed);
  }
}

}  // namespace
}  // namespace gpas::sweeps
