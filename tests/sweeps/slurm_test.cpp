// The Slurm backend: argument vectors and state parsing with a FakeCommandRunner, then for real
// against a private single-node Slurm started by slurm_cluster.sh (skipped, saying why, if the
// daemons cannot start): a small sweep completes, and a pre-timeout USR1 requeues a task that
// resumes from its checkpoint.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <deque>
#include <stdexcept>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/journal.h"
#include "sweeps/command_runner.h"
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
  o.record = o.state_dir + "/s.slurm.json";
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
  EXPECT_TRUE(has(a, "--nodes=1"));  // the ranks rendezvous at one MASTER_ADDR
  EXPECT_TRUE(has(a, "--time=01:00:00"));
  for (const auto& x : a) EXPECT_EQ(x.find("--cpus-per-task"), std::string::npos);  // Slurm's default
  // The record names each task's job, for a rerun to adopt.
  auto rec = read_slurm_record(o.record);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].id, "4242");
  EXPECT_EQ(rec[0].jobs, (std::vector<std::string>{"id0", "id1", "id2"}));
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
  o.cpus_per_task = 4;
  EXPECT_TRUE(has(SlurmBackend(r, o).sbatch_argv(1, 1, "/t", "/t/batch.sh"), "--cpus-per-task=4"));
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
  // A signal does not remove a queued task: pending ones are cancelled outright.
  ASSERT_GE(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[r.calls.size() - 2], (std::vector<std::string>{"scancel", "--state=PENDING", "7_0"}));
  EXPECT_TRUE(has(r.calls.back(), "--signal=TERM"));
}

TEST(SlurmFake, ARerunAdoptsTheLiveTasksOfItsRecordedArrays) {
  FakeRunner r;
  SlurmOptions o;
  o.record = testing::write(testing::temp_dir("slurmrec") + "/s.slurm.json",
                            R"(["5", {"array": "7", "jobs": ["a", "b", "c"]}])");
  SlurmBackend b(r, o);
  r.replies.push_back({0, "7_0 RUNNING\n7_1 PENDING\n7_2 COMPLETED\n8_0 PENDING\n5_3 RUNNING\n", ""});
  auto live = b.adopt();
  EXPECT_TRUE(has(r.calls[0], "gpas-sweep"));
  // 7_2 ended, 8 is not this sweep's, 5 is from a record without job ids.
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(live, (std::vector<P>{{"a", "7_0"}, {"b", "7_1"}, {"", "5_3"}}));
  // If Slurm cannot say, nothing is submitted: the rerun could duplicate queued tasks.
  r.replies.push_back({1, "", "slurm_load_jobs error: Unable to contact slurm controller"});
  try {
    b.adopt();
    ADD_FAILURE() << "adopt() without squeue should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("squeue failed"), std::string::npos) << e.what();
  }
  // Without a record there is nothing to ask.
  SlurmBackend fresh(r, SlurmOptions{});
  size_t calls = r.calls.size();
  EXPECT_TRUE(fresh.adopt().empty());
  EXPECT_EQ(r.calls.size(), calls);
}

// A hung squeue (or anything the runner starts) must not block the orchestrator: it is killed with
// what it started at the runner's timeout, and the answer says so.
TEST(CommandRunner, AHungCommandIsKilledAtItsTimeout) {
  auto runner = make_process_runner(0.5);
  auto t0 = std::chrono::steady_clock::now();
  CommandResult r = runner->run({"sh", "-c", "echo started; sleep 30 & sleep 30"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 124);
  EXPECT_EQ(r.out, "started\n");
  EXPECT_NE(r.err.find("sh: no answer after 0.5 s, killed"), std::string::npos) << r.err;
  EXPECT_LT(took, 10.0);  // not the 30 s of the hung command (or of its child holding the pipe)
  CommandResult ok = make_process_runner(5)->run({"sh", "-c", "echo fine"});
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(ok.out, "fine\n");
}

TEST(SlurmFake, BadRecordNamesItsFile) {
  std::string path = testing::write(testing::temp_dir("slurmbad") + "/s.slurm.json", "[{\"jobs\": []}]");
  try {
    read_slurm_record(path);
    ADD_FAILURE() << "a record without array ids should throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":", 0), 0u) << e.what();
  }
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

TEST_F(RealSlurm, KilledOrchestratorsRerunAdoptsItsTasksInsteadOfSubmittingTwice) {
  std::string wd = testing::temp_dir("slurmadopt");
  Sweep s = load_sweep_text("sweep: k\nbase: {train: {steps: 6}}\ngrid: {seed: [5]}\n"
                            "include: [{seed: 5, train.lr: 0.002}, {seed: 5, train.lr: 0.003}]\n",
                            "k.yaml", ".", wd);
  ASSERT_EQ(s.jobs.size(), 3u);
  auto runner = make_process_runner();
  SlurmOptions so;
  so.cpu = true;
  so.throttle = 1;  // one task runs, two stay queued in Slurm
  so.state_dir = wd + "/sweeps/k";
  so.record = slurm_record_path(wd, "k");
  {
    SlurmBackend b(*runner, so);
    SchedulerOptions o = options();
    // The orchestrator dies (no cancel, no cleanup) once the first task is stepping.
    o.on_progress = [](const Progress& p) {
      for (const auto& j : p.jobs)
        if (j.step >= 1) throw std::runtime_error("orchestrator killed");
    };
    EXPECT_THROW(run_sweep(s, b, o), std::runtime_error);
  }
  ASSERT_EQ(read_slurm_record(so.record).size(), 1u);
  SlurmBackend b(*runner, so);
  SweepOutcome out = run_sweep(s, b, options());
  int arrays = static_cast<int>(read_slurm_record(so.record).size());
  cancel_recorded_slurm_jobs(wd, "k");  // leave nothing behind, whatever happened
  EXPECT_EQ(out.completed, 3);
  EXPECT_EQ(arrays, 1) << "the rerun submitted jobs that were still queued in Slurm";
  for (const auto& j : s.jobs) {
    int starts = 0;
    for (auto& l : read_journal(run_dir_of(wd, j.id) + "/journal.jsonl")) starts += l["type"] == "start";
    EXPECT_EQ(starts, 1) << j.name;
  }
}

}  // namespace
}  // namespace gpas::sweeps
