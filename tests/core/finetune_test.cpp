// Finetuning (Table 3) as a run: from a parent run through train.init_from, on instruction data,
// steps from epochs, gates frozen, LISA training only its sampled layers, exact resume; AdamW
// equal to torch's; a parent of another architecture refused.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "../data/data_fixture.h"
#include "tests/core/fixture.h"
#include "core/common/error.h"
#include "core/model/model.h"
#include "core/train/checkpoint.h"
#include "core/train/model_source.h"
#include "core/train/optimizers.h"
#include "core/train/trainer.h"

namespace gpas {
namespace {

using testing::fresh_dir;
using testing::quiet;

namespace fs = std::filesystem;

RunConfig parent_cfg() {
  RunConfig c;
  c.model.layers = 3;
  c.model.gpas.enabled = true;
  c.model.gpas.init = {0.3};
  c.data.synthetic_vocab = 400;  // the fixture tokenizer's vocabulary
  c.train.steps = 2;
  c.train.seq_len = 16;
  c.train.eval_tokens = 64;
  c.train.log_every = 1000;
  resolve(c);
  return c;
}

RunConfig finetune_cfg(const RunConfig& parent, const std::string& parent_dir, const std::string& data) {
  RunConfig c = parent;
  c.model.gpas.learnable = false;
  c.train.init_from = parent_dir;
  c.train.optimizer = "lisa";
  c.train.lisa_layers = 1;
  c.train.lisa_interval = 3;
  c.train.seed = 5;
  c.train.epochs = 2;
  c.train.batch_size = 4;
  c.train.micro_batch = 2;
  c.train.seq_len = 160;
  c.train.lr = 3e-3;
  c.train.warmup_steps = 0;
  c.data = DataConfig{};
  c.data.source = "instruct";
  c.data.path = data;
  c.data.tokenizer = testing::small_tokenizer();
  c.data.val_examples = 2;
  validate(c);
  return c;
}

std::string examples(const std::string& dir) {
  static const char* w[] = {"ta", "ren", "mo", "lis", "ka", "dor", "pe", "vin", "su", "gal", "tho", "mer"};
  std::string s;
  for (int i = 0; i < 12; ++i)
    s += nlohmann::json({{"instruction", std::string("Tamo ") + w[i]}, {"input", ""}, {"output", std::string("lis ") + w[11 - i]}}).dump() + "\n";
  testing::write_text(dir + "/sft.jsonl", s);
  return dir + "/sft.jsonl";
}

std::map<std::string, torch::Tensor> weights_of(const std::string& ckpt, const RunConfig& c) {
  Transformer m(c.model);
  load_checkpoint(ckpt, m, nullptr);
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m->named_parameters()) out[p.key()] = p.value().clone();
  return out;
}

TEST(Finetune, LisaFromAParentRunWithFrozenGatesResumesExactly) {
  std::string pdir = fresh_dir("finetune_parent");
  RunConfig p = parent_cfg();
  ASSERT_EQ(train_run(p, pdir, quiet()).status, "completed");
  std::string data = examples(fresh_dir("finetune_data"));
  RunConfig f = finetune_cfg(p, pdir, data);

  std::string a = fresh_dir("finetune_a");
  RunResult ra = train_run(f, a, quiet());
  ASSERT_EQ(ra.status, "completed") << ra.error;
  EXPECT_EQ(ra.steps, 5);  // ceil(2 epochs x 10 training examples / batch 4)
  EXPECT_TRUE(std::isfinite(ra.final_eval_loss));  // loss on the 2 held-out responses

  auto before = weights_of(latest_checkpoint(pdir), p);
  auto after = weights_of(latest_checkpoint(a), f);
  std::set<int64_t> sampled;
  for (int64_t i = 0; i * f.train.lisa_interval < ra.steps; ++i)
    for (int64_t l : lisa_layers_at(3, 1, 5, i)) sampled.insert(l);
  ASSERT_LT(sampled.size(), 3u) << "the test needs a layer LISA never picks; change the seed";
  for (const auto& [name, w] : after) {
    const bool same = torch::equal(w, before.at(name));
    if (name.find("gpas_block") != std::string::npos) {
      EXPECT_TRUE(same) << name << ": gates are frozen";
    } else if (name.rfind("layers.", 0) == 0) {
      int64_t l = std::stoll(name.substr(7));
      EXPECT_EQ(same, !sampled.count(l)) << name;
    } else {
      EXPECT_FALSE(same) << name << ": embeddings, head and final norm always train";
    }
  }

  // Stopped after update 4 (inside LISA's second interval) and resumed: bitwise the same.
  std::string b = fresh_dir("finetune_b");
  TrainOptions stop = quiet();
  stop.stop_at_step = 4;
  EXPECT_EQ(train_run(f, b, stop).status, "cancelled");
  EXPECT_EQ(train_run(f, b, quiet()).status, "completed");
  auto resumed = weights_of(latest_checkpoint(b), f);
  for (const auto& [name, w] : after) EXPECT_TRUE(torch::equal(w, resumed.at(name))) << name;
}

TEST(Finetune, ParentOfAnotherArchitectureIsRefused) {
  std::string pdir = fresh_dir("finetune_parent_arch");
  RunConfig p = parent_cfg();
  train_run(p, pdir, quiet());
  RunConfig f = finetune_cfg(p, pdir, examples(fresh_dir("finetune_data_arch")));
  f.model.layers = 2;
  f.train.optimizer = "adamw";
  try {
    train_run(f, fresh_dir("finetune_arch"), quiet());
    ADD_FAILURE() << "trained from weights of another model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers 3"), std::string::npos) << e.what();
  }
}

TEST(Finetune, AdamWEqualsTorchAdamW) {
  torch::manual_seed(0);
  auto w0 = torch::randn({4, 3});
  TrainConfig c;
  c.optimizer = "adamw";
  c.lr = 0.01;
  c.weight_decay = 0.1;
  auto a = w0.clone().set_requires_grad(true), b = w0.clone().set_requires_grad(true);
  Transformer unused(ModelConfig{[] { ModelConfig m; m.vocab_size = 8; return m; }()});
  auto mine = make_optimizer(unused, {a}, c, 1);
  torch::optim::AdamW ref({b}, torch::optim::AdamWOptions(0.01).weight_decay(0.1));
  for (int i = 0; i < 5; ++i) {
    auto g = torch::randn({4, 3});
    a.mutable_grad() = g.clone();
    b.mutable_grad() = g.clone();
    mine->step();
    ref.step();
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-7));
  EXPECT_FALSE(torch::equal(a, w0));
}

}  // namespace
}  // namespace gpas
