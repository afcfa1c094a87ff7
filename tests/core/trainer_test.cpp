// The trainer: schedule values, overfitting one batch, accumulation == one big micro-batch,
// bitwise resume, divergence, and export -> init_from / forward reproducing logits exactly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "tests/core/fixture.h"
#include "core/common/error.h"
#include "core/common/journal.h"
#include "core/config/config_yaml.h"
#include "core/model/model.h"
#include "core/model/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/export.h"
#include "core/train/importance.h"
#include "core/train/model_source.h"
#include "core/train/schedule.h"
#include "core/train/trainer.h"

namespace gpas {
namespace {

using testing::fresh_dir;
using testing::quiet;

namespace fs = std::filesystem;

RunConfig tiny(int64_t steps) {
  RunConfig c;
  c.model.vocab_size = 64;
  c.data.synthetic_vocab = 64;
  c.train.steps = steps;
  c.train.warmup_steps = 2;
  c.train.batch_size = 8;
  c.train.micro_batch = 8;
  c.train.seq_len = 16;
  c.train.eval_tokens = 256;
  c.train.log_every = 1000;
  c.model.gpas.enabled = true;
  resolve(c);
  validate(c);
  return c;
}

TEST(Schedule, WarmupThenCosineToMin) {
  TrainConfig t;
  t.lr = 1e-3;
  t.warmup_steps = 10;
  t.steps = 110;
  t.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(lr_at(0, t), 0.0);
  EXPECT_DOUBLE_EQ(lr_at(5, t), 5e-4);
  EXPECT_DOUBLE_EQ(lr_at(10, t), 1e-3);
  EXPECT_NEAR(lr_at(110, t), 1e-4, 1e-15);  // min_lr is reached one past the last step
  EXPECT_GT(lr_at(109, t), 1e-4);
  EXPECT_GT(lr_at(60, t), 1e-4);
  EXPECT_LT(lr_at(60, t), 1e-3);
}

TEST(Schedule, IsTheReferenceFormulaAtEveryStep) {
  // GaLore's get_cosine_schedule_with_min_lr, which the paper's code uses: progress is
  // (step - warmup) / (steps - warmup).
  TrainConfig t;
  t.lr = 5e-4;
  t.warmup_steps = 7;
  t.steps = 50;
  t.min_lr_ratio = 0.1;
  for (int64_t s = 0; s < t.steps; ++s) {
    double factor;
    if (s < t.warmup_steps) {
      factor = double(s) / double(t.warmup_steps);
    } else {
      double progress = double(s - t.warmup_steps) / double(t.steps - t.warmup_steps);
      factor = 0.1 + 0.9 * 0.5 * (1.0 + std::cos(M_PI * progress));
    }
    EXPECT_NEAR(lr_at(s, t), t.lr * factor, 1e-18) << "step " << s;
  }
}

TEST(Trainer, OverfitsOneBatch) {
  // One fixed batch, the trainer's loss and Adam: the loss must fall far below log(V).
  RunConfig c = tiny(1);
  Transformer model(c.model);
  model->init_weights(0);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  torch::manual_seed(0);
  auto tok = torch::randint(0, 64, {4, 17});
  auto in = tok.slice(1, 0, 16), tg = tok.slice(1, 1);
  double first = 0, last = 0;
  for (int s = 0; s < 60; ++s) {
    opt.zero_grad();
    auto loss = TransformerImpl::loss_sum(model(in), tg) / 64.0;
    loss.backward();
    opt.step();
    (s == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_NEAR(first, std::log(64.0), 0.5);
  EXPECT_LT(last, 0.1 * first);
}

TEST(Trainer, LearnsTheSyntheticStream) {
  RunConfig c = tiny(80);
  c.train.lr = 3e-3;
  c.train.eval_tokens = 128;
  c.data.synthetic_vocab = c.model.vocab_size = 16;
  auto r = train_run(c, fresh_dir("trainer_overfit"), quiet());
  EXPECT_EQ(r.status, "completed");
  EXPECT_LT(r.final_train_loss, 0.6 * std::log(16.0));
  EXPECT_LT(r.final_eval_loss, 0.6 * std::log(16.0));
}

TEST(Trainer, AccumulationEqualsOneMicroBatch) {
  RunConfig a = tiny(3);
  RunConfig b = a;
  b.train.micro_batch = 2;  // 4 x 2 == 1 x 8
  auto ra = train_run(a, fresh_dir("trainer_acc_a"), quiet());
  auto rb = train_run(b, fresh_dir("trainer_acc_b"), quiet());
  EXPECT_NEAR(ra.final_train_loss, rb.final_train_loss, 1e-5);
  Transformer ma(a.model), mb(b.model);
  load_checkpoint(latest_checkpoint(::testing::TempDir() + "gpas_trainer_acc_a"), ma, nullptr);
  load_checkpoint(latest_checkpoint(::testing::TempDir() + "gpas_trainer_acc_b"), mb, nullptr);
  auto pa = ma->named_parameters(), pb = mb->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::allclose(p.value(), pb[p.key()], 1e-4, 1e-6)) << p.key();
}

TEST(Trainer, ResumeIsBitwiseExact) {
  RunConfig c = tiny(8);
  std::string straight = fresh_dir("trainer_straight"), split = fresh_dir("trainer_split");
  train_run(c, straight, quiet());
  TrainOptions stop = quiet();
  stop.stop_at_step = 4;
  auto first = train_run(c, split, stop);
  EXPECT_EQ(first.status, "cancelled");
  EXPECT_EQ(first.steps, 4);
  auto second = train_run(c, split, quiet());
  EXPECT_EQ(second.status, "completed");
  Transformer ma(c.model), mb(c.model);
  load_checkpoint(latest_checkpoint(straight), ma, nullptr);
  load_checkpoint(latest_checkpoint(split), mb, nullptr);
  auto pa = ma->named_parameters(), pb = mb->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  // A second start found the checkpoint: the journal has two start lines.
  int starts = 0;
  for (const auto& j : read_journal(split + "/journal.jsonl")) starts += j["type"] == "start";
  EXPECT_EQ(starts, 2);
}

// eval, train.init_from, fixed gates and importance read a run's newest checkpoint that matches
// its .sha256, passing over a damaged newer one as resume does; a checkpoint named by the user
// that fails is refused, not used.
TEST(Trainer, ReadersOfARunTakeTheNewestCheckpointThatVerifies) {
  RunConfig c = tiny(6);
  c.train.checkpoint_every = 3;
  c.train.keep_checkpoints = 3;
  std::string dir = fresh_dir("trainer_verified_ckpt");
  ASSERT_EQ(train_run(c, dir, quiet()).status, "completed");
  auto all = list_checkpoints(dir);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(latest_checkpoint(dir), all[1]);
  {  // one byte of the newest flipped
    std::fstream f(all[1], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char b = 0;
    f.read(&b, 1);
    f.seekp(100);
    b = char(b ^ 0x5a);
    f.write(&b, 1);
  }
  EXPECT_EQ(latest_checkpoint(dir), all[0]);
  EXPECT_EQ(resolve_model_source(dir).weights, all[0]);
  try {
    resolve_model_source(all[1]);
    ADD_FAILURE() << "a damaged checkpoint named by path was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
  }
  fs::remove(checksum_path(all[0]));  // unverifiable: taken, with a warning
  EXPECT_EQ(latest_checkpoint(dir), all[0]);
  {  // the older one truncated as well: nothing verifies
    std::ofstream(checksum_path(all[0])) << std::string(64, '0') << "  x\n";
  }
  EXPECT_THROW(latest_checkpoint(dir), Error);
}

TEST(Trainer, InjectedNanEndsTheRunAsDiverged) {
  RunConfig c = tiny(10);
  TrainHooks hooks;
  hooks.on_loss = [](int64_t step, torch::Tensor& loss) {
    if (step == 4) loss = loss * std::numeric_limits<double>::quiet_NaN();
  };
  std::string dir = fresh_dir("trainer_nan");
  auto r = train_run(c, dir, quiet(), hooks);
  EXPECT_EQ(r.status, "diverged");
  EXPECT_EQ(r.diverged_step, 5);
  auto lines = read_journal(dir + "/journal.jsonl");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["status"], "diverged");
  EXPECT_EQ(lines.back()["step"], 5);
}

TEST(Trainer, LossAboveTheBoundDiverges) {
  RunConfig c = tiny(5);
  c.train.diverge_loss = 0.5;  // below the initial ~log(64) loss
  auto r = train_run(c, fresh_dir("trainer_bound"), quiet());
  EXPECT_EQ(r.status, "diverged");
  EXPECT_EQ(r.diverged_step, 1);
}

TEST(Export, RoundTripReproducesLogitsBitForBit) {
  RunConfig c = tiny(3);
  c.model.norm = "sandwich";
  std::string dir = fresh_dir("trainer_export");
  train_run(c, dir, quiet());
  std::string ckpt = latest_checkpoint(dir);
  std::string out = dir + "/export";
  export_checkpoint(ckpt, out);

  Transformer trained(c.model);
  load_checkpoint(ckpt, trained, nullptr);
  Transformer loaded(c.model);
  loaded->init_weights(99);
  loaded->load_exported(load_safetensors(out + "/model.safetensors"));
  torch::manual_seed(5);
  auto tok = torch::randint(0, 64, {2, 12});
  torch::NoGradGuard ng;
  auto want = trained(tok);
  EXPECT_TRUE(torch::equal(want, loaded(tok)));

  save_safetensors(dir + "/tokens.safetensors", {{"tokens", tok}});
  forward_file(out + "/model.safetensors", dir + "/tokens.safetensors", dir + "/out.safetensors");
  auto res = load_safetensors(dir + "/out.safetensors");
  ASSERT_EQ(res[0].first, "logits");
  EXPECT_TRUE(torch::equal(res[0].second, want));

  // Training can start from exported weights: step 0's loss equals the trained model's loss.
  RunConfig from = c;
  from.train.init_from = out + "/model.safetensors";
  from.train.steps = 1;
  Transformer init(from.model);
  init->load_exported(load_safetensors(from.train.init_from));
  EXPECT_TRUE(torch::equal(init(tok), want));
}

TEST(Trainer, ProbesRecordEveryLayerStatisticAtTheirSteps) {
  for (bool with_gpas : {true, false}) {
    RunConfig c = tiny(6);
    c.model.layers = 3;
    c.model.gpas.enabled = with_gpas;
    c.train.probe_every = 3;
    std::string dir = fresh_dir(with_gpas ? "trainer_probes_gpas" : "trainer_probes_base");
    train_run(c, dir, quiet());
    std::map<std::pair<std::string, int64_t>, std::set<int>> seen;  // (kind, step) -> layers
    std::map<int, double> last_gate;
    for (const auto& j : read_journal(dir + "/journal.jsonl")) {
      if (j.value("type", "") != "layer" || j["kind"].get<std::string>().rfind("importance_", 0) == 0) continue;
      seen[{j["kind"], j["step"].get<int64_t>()}].insert(j["layer"].get<int>());
      if (j["kind"] == "gate" && j["step"] == 6) last_gate[j["layer"].get<int>()] = j["value"];
      EXPECT_TRUE(std::isfinite(j["value"].get<double>())) << j.dump();
    }
    std::vector<std::string> kinds = {"act_var", "grad_norm", "attn_wnorm", "ffn_wnorm"};
    if (with_gpas) kinds.push_back("gate");
    EXPECT_EQ(seen.size(), kinds.size() * 2) << "kinds x steps {3, 6}, and nothing else";
    for (const auto& k : kinds)
      for (int64_t step : {3, 6}) {
        const std::set<int> all_layers = {0, 1, 2};
        EXPECT_EQ(seen[std::make_pair(k, step)], all_layers) << k << " " << step;
      }
    if (with_gpas) {  // the journaled gates are the checkpoint's
      Transformer m(c.model);
      load_checkpoint(latest_checkpoint(dir), m, nullptr);
      auto gates = m->gates();
      for (int l = 0; l < 3; ++l) EXPECT_DOUBLE_EQ(last_gate[l], gates[l].item<double>()) << l;
    }
  }
}

TEST(Trainer, LoggedGradNormIsTheNormBeforeClipping) {
  RunConfig c = tiny(2);
  c.train.log_every = 1;
  c.train.grad_clip = 1e-3;  // far below the norm of a fresh model's gradients
  std::string dir = fresh_dir("trainer_gradnorm");
  train_run(c, dir, quiet());
  int n = 0;
  for (const auto& j : read_journal(dir + "/journal.jsonl"))
    if (j.value("type", "") == "metric" && j["key"] == "train/grad_norm") {
      EXPECT_GT(j["value"].get<double>(), 10 * c.train.grad_clip) << j.dump();
      ++n;
    }
  EXPECT_EQ(n, 2);
}

TEST(Importance, RemovingEachLayerIsMeasuredAndJournaled) {
  RunConfig c = tiny(20);
  c.model.layers = 3;
  c.model.gpas.enabled = false;
  std::string dir = fresh_dir("trainer_importance");
  train_run(c, dir, quiet());
  double loss0 = 0, ppl0 = 0;
  auto rows = analyze_importance(dir, 0, &loss0, &ppl0);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& r : rows) {
    EXPECT_NE(r.eval_loss, loss0);  // removing a trained layer changes the model's loss
    EXPECT_NEAR(r.delta_ppl, r.eval_ppl - ppl0, 1e-9);
  }
  int lines = 0;
  for (const auto& j : read_journal(dir + "/journal.jsonl"))
    lines += j.value("type", "") == "layer" && j.value("kind", "").rfind("importance_", 0) == 0;
  EXPECT_EQ(lines, 6);
}

}  // namespace
}  // namespace gpas
