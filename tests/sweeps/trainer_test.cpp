// With the real worker (`gpas train`, GPAS_BINARY): a tiny synthetic sweep whose worker is
// SIGKILLed mid-run completes, and its final weights equal those of an uninterrupted run
// (both exported from the final checkpoint with `gpas export`, compared byte for byte).
// Skipped only when the gpas binary is missing or cannot train.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "core/common/fs.h"
#include "core/common/journal.h"
#include "sweeps/local_backend.h"
#include "sweeps/scheduler.h"
#include "sweeps/sweep_file.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

namespace fs = std::filesystem;

std::string binary() {
  const char* env = std::getenv("GPAS_BINARY");
  return env ? env : GPAS_BINARY;
}

const char* kSweep = R"Y(sweep: trainer
base:
  model: {size: tiny}
  data: {source: synthetic}
  train: {steps: 30, warmup_steps: 3, batch_size: 4, micro_batch: 4, seq_len: 32, device: cpu,
          checkpoint_every: 5, eval_tokens: 512, log_every: 5}
grid: {method: [pre+gpas]}
)Y";

std::string final_checkpoint(const std::string& run_dir) {
  std::string last;
  if (!fs::exists(run_dir + "/checkpoints")) return last;
  for (auto& e : fs::directory_iterator(run_dir + "/checkpoints"))
    if (e.path().extension() == ".pt" && e.path().string() > last) last = e.path().string();
  return last;
}

class RealTrainer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(binary())) GTEST_SKIP() << "no gpas binary at " << binary() << " (build the gpas target)";
    std::string cmd = binary() + " train --help >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << binary() << " train --help fails";
  }
  std::string run(const std::string& wd, bool kill_once) {
    Sweep s = load_sweep_text(kSweep, "trainer.yaml", ".", wd);
    LocalBackend b(true);
    SchedulerOptions o;
    o.worker = binary();
    o.poll_interval = 0.1;
    bool killed = false;
    if (kill_once)
      o.on_progress = [&](const Progress& p) {
        if (killed || p.jobs[0].step < 12) return;
        for (auto& l : read_journal(run_dir_of(wd, s.jobs[0].id) + "/journal.jsonl"))
          if (l["type"] == "start") ::kill(l["pid"].get<pid_t>(), SIGKILL);
        killed = true;
      };
    SweepOutcome out = run_sweep(s, b, o);
    EXPECT_EQ(out.completed, 1);
    if (kill_once) {
      EXPECT_TRUE(killed);
    }
    std::string dir = run_dir_of(wd, s.jobs[0].id);
    std::string ckpt = final_checkpoint(dir);
    EXPECT_FALSE(ckpt.empty());
    std::string cmd = binary() + " export " + ckpt + " --out " + wd + "/export >" + wd + "/export.log 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << read_file(wd + "/export.log");
    return wd + "/export/model.safetensors";
  }
};

TEST_F(RealTrainer, KilledWorkerResumesToTheSameFinalWeights) {
  std::string a = run(testing::temp_dir("trainA"), false);
  std::string b = run(testing::temp_dir("trainB"), true);
  ASSERT_TRUE(path_exists(a) && path_exists(b));
  EXPECT_TRUE(read_file(a) == read_file(b)) << "resumed weights differ from the uninterrupted run's";
}

}  // namespace
}  // namespace gpas::sweeps
