// RunDir (core/train/run_dir.h) on its own: the identity a directory keeps, the journal's start
// lines and finished tail, and checkpoints saved, pruned and resumed. The trainer's tests and
// tests/cli (runs_state, checkpoint, live_views) cover it through train_run and the lock.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "tests/core/fixture.h"
#include "core/common/error.h"
#include "core/common/journal.h"
#include "core/config/config_yaml.h"
#include "core/model/model.h"
#include "core/train/run_dir.h"

namespace gpas {
namespace {

using testing::fresh_dir;

// The default (tiny) model; only the identity matters here, and steps change it.
RunConfig config(int64_t steps) {
  RunConfig c;
  c.model.vocab_size = 64;
  c.train.steps = steps;
  resolve(c);
  return c;
}

TEST(RunDir, KeepsTheIdentityOfItsConfigAndRefusesAnotherRun) {
  const std::string dir = fresh_dir("run_dir_identity");
  const RunConfig a = config(4), b = config(5);
  {
    RunDir d(dir, a, /*lead=*/true);
    EXPECT_EQ(d.run_id(), run_id(a));
    EXPECT_TRUE(std::filesystem::exists(dir + "/config.yaml"));
  }
  EXPECT_EQ(run_id(load_run_config(dir + "/config.yaml")), run_id(a));
  RunDir again(dir, a, /*lead=*/false);  // another rank of the same run: no lock, no write
  try {
    RunDir other(dir, b, /*lead=*/true);
    FAIL() << "a directory of another run was taken";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": holds run " + run_id(a) + ", not " + run_id(b) +
                                         " (this config); use another --run-dir or delete it");
  }
}

TEST(RunDir, CountsAttemptsAndSeesAFinishedJournal) {
  const std::string dir = fresh_dir("run_dir_journal");
  const RunConfig cfg = config(4);
  RunDir d(dir, cfg, /*lead=*/true);
  EXPECT_FALSE(d.finished().has_value());
  d.open_journal();
  d.record_start(cfg, "cpu x1", 0);
  d.record_start(cfg, "cpu x1", 2);
  std::vector<int64_t> attempts, resumed;
  for (const auto& j : read_journal(dir + "/journal.jsonl"))
    if (j["type"] == "start") {
      attempts.push_back(j["attempt"]);
      resumed.push_back(j["resumed_from_step"]);
      EXPECT_EQ(j["run_id"], run_id(cfg));
      EXPECT_EQ(j["devices"], "cpu x1");
    }
  EXPECT_EQ(attempts, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(resumed, (std::vector<int64_t>{0, 2}));
  EXPECT_FALSE(d.finished().has_value());  // running
  d.journal().status("completed", 4);
  auto end = d.finished();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->status.value("status", ""), "completed");
  EXPECT_EQ(end->int_of(end->status, "step", 0), 4);
}

TEST(RunDir, SavesPrunesAndResumesTheNewestCheckpoint) {
  const std::string dir = fresh_dir("run_dir_ckpt");
  const RunConfig cfg = config(4);
  Transformer saved(cfg.model);
  saved->init_weights(1);
  torch::optim::Adam opt(saved->parameters(), torch::optim::AdamOptions(1e-3));
  for (auto& p : saved->parameters()) p.mutable_grad() = torch::ones_like(p);
  opt.step();  // Adam state to save
  {
    RunDir d(dir, cfg, /*lead=*/true);
    d.open_journal();
    TrainState s;
    s.data = {{"pos", 3}};
    for (int64_t step : {2, 4}) {
      s.step = step;
      d.save(cfg, saved, opt, s, /*keep=*/1);
    }
  }
  EXPECT_EQ(list_checkpoints(dir), std::vector<std::string>{checkpoint_path(dir, 4)});
  int artifacts = 0;
  for (const auto& j : read_journal(dir + "/journal.jsonl")) artifacts += j["type"] == "artifact";
  EXPECT_EQ(artifacts, 2);

  RunDir d(dir, cfg, /*lead=*/true);
  Transformer m(cfg.model);
  m->init_weights(2);
  torch::optim::Adam opt2(m->parameters(), torch::optim::AdamOptions(1e-3));
  TrainState st;
  EXPECT_EQ(d.resume(m, opt2, st, /*fresh=*/true), "");
  EXPECT_EQ(st.step, 0);
  EXPECT_EQ(d.resume(m, opt2, st, /*fresh=*/false), checkpoint_path(dir, 4));
  EXPECT_EQ(st.step, 4);
  EXPECT_EQ(st.data, (nlohmann::json{{"pos", 3}}));
  EXPECT_TRUE(d.skipped().empty());
  auto a = saved->parameters(), b = m->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
}

}  // namespace
}  // namespace gpas
