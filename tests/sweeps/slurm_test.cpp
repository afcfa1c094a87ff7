// The Slurm backend: argument vectors and state parsing with a FakeCommandRunner, then for real
// against a private single-node Slurm started by slurm_cluster.sh (skipped, saying why, if the
// daemons cannot start): a small sweep completes, and a pre-timeout USR1 requeues a task that
// resumes from its checkpoint.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <deque>

#include "core/common/fs.h"
#include "core/common/journal.h"
#include "sweeps/scheduler.h"
#include "sweeps/slurm_backend.h"
#include "sweeps/sweep_file.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

class FakeRunner : public CommandRunner {
 public:
  std::vector<std::vector<std::string>> calls;
  std::deque<CommandResult> replies;
  CommandResult run(const std::vector<std::string>& argv) override {
    calls.push_back(argv);
    if (replies.empty()) return {0, "", ""};
    CommandResult r = replies.front();
    replies.pop_front();
    return r;
  }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(SlurmFake, SubmitsOneArrayWithTheContractFlags) {
  FakeRunner r;
  SlurmOptions o;
  o.state_dir = testing::temp_dir("slurmfake");
  o.throttle = 2;
  o.signal_lead = 90;
  o.time = "01:00:00";
  r.replies.push_back({0, "4242\n", ""});
  SlurmBackend b(r, o);
  std::vector<Launch> ls(3);
  for (int i = 0; i < 3; ++i) ls[i] = {"id" + std::to_string(i), "n", {"gpas", "train", "--run-dir", "x y;$(rm -rf /)"}, "d", 2, {}};
  auto hs = b.submit(ls);
  EXPECT_EQ(hs, (std::vector<std::string>{"4242_0", "4242_1", "4242_2"}));
  ASSERT_EQ(r.calls.size(), 1u);
  const auto& a = r.calls[0];
  EXPECT_EQ(a[0], "sbatch");
  EXPECT_TRUE(has(a, "--array=0-2%2"));
  EXPECT_TRUE(has(a, "--requeue"));
  EXPECT_TRUE(has(a, "--open-mode=append"));
  EXPECT_TRUE(has(a, "--signal=B:USR1@90"));
  EXPECT_TRUE(has(a, "--gres=gpu:2"));
  EXPECT_TRUE(has(a, "--ntasks=2"));
  EXPECT_TRUE(has(a, "--time=01:00:00"));
  // The worker's arguments travel NUL-separated in a file, never through a shell.
  std::string task_dir = a.back();
  EXPECT_EQ(read_file(task_dir + "/1.argv"), std::string("gpas\0train\0--run-dir\0x y;$(rm -rf /)\0", 37));
  std::string script = SlurmBackend::batch_script();
  EXPECT_NE(script.find("trap 'forward 1 USR1' USR1"), std::string::npos);
  EXPECT_NE(script.find("scontrol requeue"), std::string::npos);
  EXPECT_NE(script.find("srun"), std::string::npos);
}

TEST(SlurmFake, CpuJobsAskForNoGpus) {
  FakeRunner r;
  SlurmOptions o;
  o.cpu = true;
  SlurmBackend b(r, o);
  auto a = b.sbatch_argv(1, 1, "/t", "/t/batch.sh");
  for (const auto& x : a) EXPECT_EQ(x.find("--gres"), std::string::npos);
  EXPECT_FALSE(has(a, "--ntasks=1"));
  EXPECT_TRUE(has(a, "--array=0-0"));
}

TEST(SlurmFake, PollReadsSqueueThenScontrol) {
  FakeRunner r;
  SlurmBackend b(r, SlurmOptions{});
  r.replies.push_back({0, "7_0 RUNNING\n7_1 PENDING\n7_2 COMPLETED\n", ""});
  EXPECT_EQ(b.poll("7_0").phase, Phase::Running);
  EXPECT_EQ(b.poll("7_1").phase, Phase::Queued);  // cached squeue
  r.replies.push_back({0, "JobId=9 ArrayJobId=7 ArrayTaskId=2 JobState=COMPLETED Reason=None ExitCode=3:0 X=1\n", ""});
  PollResult p = b.poll("7_2");
  EXPECT_EQ(p.phase, Phase::Exited);
  EXPECT_EQ(p.exit_code, 3);
  EXPECT_EQ(scontrol_field("JobState=TIMEOUT ExitCode=0:9", "ExitCode"), "0:9");
  b.cancel("7_0", false);
  EXPECT_TRUE(has(r.calls.back(), "--signal=TERM"));
}

// ---- a real Slurm ----

class RealSlurm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::temp_dir("slurm");
    std::string cmd = std::string(GPAS_SOURCE_DIR) + "/tests/sweeps/slurm_cluster.sh start " + dir_ + " 2>" + dir_ + "/why";
    ok_ = std::system(cmd.c_str()) == 0;
    if (ok_) ::setenv("SLURM_CONF", (dir_ + "/slurm.conf").c_str(), 1);
    else why_ = read_file(dir_ + "/why");
  }
  static void TearDownTestSuite() {
    std::string cmd = std::string(GPAS_SOURCE_DIR) + "/tests/sweeps/slurm_cluster.sh stop " + dir_;
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not stop the test slurm in %s\n", dir_.c_str());
  }
  void SetUp() override {
    if (!ok_) GTEST_SKIP() << why_;
  }
  SchedulerOptions options() {
    SchedulerOptions o;
    o.worker = std::string(GPAS_SOURCE_DIR) + "/tests/sweeps/fake_worker.sh";
    o.poll_interval = 0.5;
    return o;
  }
  static std::string dir_, why_;
  static bool ok_;
};
std::string RealSlurm::dir_, RealSlurm::why_;
bool RealSlurm::ok_ = false;

TEST_F(RealSlurm, ASmallSweepCompletes) {
  std::string wd = testing::temp_dir("slurmwd");
  Sweep s = load_sweep_text("sweep: s\nbase: {train: {steps: 4}}\ngrid: {seed: [0, 2, 0]}\ninclude: [{seed: 0, train.lr: 0.002}]\n",
                            "s.yaml", ".", wd);
  auto runner = make_process_runner();
  SlurmOptions so;
  so.cpu = true;
  so.throttle = 2;
  so.state_dir = wd + "/sweeps/s";
  SlurmBackend b(*runner, so);
  SweepOutcome out = run_sweep(s, b, options());
  EXPECT_EQ(out.completed, 2);
  EXPECT_EQ(out.diverged, 1);
  EXPECT_EQ(out.failed, 0);
}

TEST_F(RealSlurm, PreTimeoutSignalRequeuesAndTheTaskResumes) {
  std::string wd = testing::temp_dir("slurmrq");
  Sweep s = load_sweep_text("sweep: r\nbase: {train: {steps: 30}}\ngrid: {seed: [5]}\n", "r.yaml", ".", wd);
  auto runner = make_process_runner();
  SlurmOptions so;
  so.cpu = true;
  so.state_dir = wd + "/sweeps/r";
  SlurmBackend b(*runner, so);
  SchedulerOptions o = options();
  bool signalled = false;
  // Find the handle through squeue instead: the only gpas-sweep job of this test cluster that runs.
  o.on_progress = [&](const Progress& p) {
    if (signalled || p.jobs[0].step < 3) return;
    CommandResult q = runner->run({"squeue", "-h", "-t", "RUNNING", "-o", "%i"});
    std::string id = q.out.substr(0, q.out.find('\n'));
    ASSERT_FALSE(id.empty());
    runner->run({"scancel", "--signal=USR1", "--batch", id});
    signalled = true;
  };
  SweepOutcome out = run_sweep(s, b, o);
  EXPECT_TRUE(signalled);
  EXPECT_EQ(out.completed, 1);
  std::vector<nlohmann::json> starts, status;
  for (auto& l : read_journal(run_dir_of(wd, s.jobs[0].id) + "/journal.jsonl")) {
    if (l["type"] == "start") starts.push_back(l);
    if (l["type"] == "status") status.push_back(l);
  }
  ASSERT_EQ(starts.size(), 2u);               // requeued once, same Slurm job
  EXPECT_GE(status[2]["step"].get<int>(), 3);  // the rerun resumed from its checkpoint
  EXPECT_EQ(status.back()["status"], "completed");
}

}  // namespace
}  // namespace gpas::sweeps
