// Zero-shot evaluation on a model: batched log-likelihoods equal one-request-at-a-time sums of
// log-softmax, do not depend on the batch size, truncate on the left; the task driver reads the
// JSONL files, scores every document and writes the journal metrics.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "../data/data_fixture.h"
#include "core/common/error.h"
#include "core/common/journal.h"
#include "core/train/mc_eval.h"

namespace gpas {
namespace {

Transformer small_model(int64_t vocab, int64_t max_positions = 64) {
  ModelConfig m;
  m.vocab_size = vocab;
  m.max_positions = max_positions;
  m.gpas.enabled = true;
  Transformer model(m);
  model->init_weights(1);
  return model;
}

double reference(Transformer& model, const McTokens& r) {
  std::vector<int64_t> all(r.context.begin(), r.context.end());
  all.insert(all.end(), r.continuation.begin(), r.continuation.end());
  auto t = torch::tensor(all).unsqueeze(0);
  torch::NoGradGuard ng;
  auto lp = torch::log_softmax(model(t.slice(1, 0, -1)).to(torch::kFloat64), -1)[0];  // (T-1, V)
  double s = 0;
  for (size_t i = r.context.size(); i < all.size(); ++i) s += lp[int64_t(i) - 1][all[i]].item<double>();
  return s;
}

TEST(McEval, BatchedLoglikelihoodsMatchOneAtATime) {
  Transformer model = small_model(50);
  std::vector<McTokens> reqs;
  std::mt19937 rng(3);
  for (int i = 0; i < 9; ++i) {
    McTokens r;
    for (int k = 0, n = 1 + int(rng() % 12); k < n; ++k) r.context.push_back(int32_t(rng() % 50));
    for (int k = 0, n = 1 + int(rng() % 5); k < n; ++k) r.continuation.push_back(int32_t(rng() % 50));
    reqs.push_back(r);
  }
  auto one = loglikelihoods(model, reqs, 1);
  auto many = loglikelihoods(model, reqs, 4);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_NEAR(one[i], reference(model, reqs[i]), 1e-4) << i;
    EXPECT_NEAR(many[i], one[i], 1e-4) << i;
    EXPECT_LT(one[i], 0);
  }
  EXPECT_EQ(loglikelihoods(model, reqs, 4), many);  // deterministic
}

TEST(McEval, LongInputsKeepTheirLastTokens) {
  Transformer model = small_model(50, 8);
  McTokens r;
  for (int i = 0; i < 20; ++i) r.context.push_back(i % 50);
  r.continuation = {7, 8};
  McTokens cut;
  cut.context.assign(r.context.end() - 7, r.context.end());  // 7 + 2 = max_positions + 1
  cut.continuation = r.continuation;
  EXPECT_NEAR(loglikelihoods(model, {r}, 1)[0], reference(model, cut), 1e-4);
}

TEST(McEval, TasksFromFilesToJournal) {
  std::string dir = testing::temp_dir("mc_eval");
  testing::write_text(dir + "/piqa.jsonl",
                      R"({"goal":"Tamo lis","sol1":"karen dor","sol2":"pe vin su","label":0})" "\n"
                      R"({"goal":"Gal tho","sol1":"mer","sol2":"an el","label":1})" "\n"
                      R"({"goal":"Ri os","sol1":"qua","sol2":"zen bel","label":1})" "\n");
  testing::write_text(dir + "/winogrande.jsonl",
                      R"({"sentence":"Tamo _ lis ka.","option1":"dor","option2":"pe","answer":"1"})" "\n"
                      R"({"sentence":"Vin su _ gal.","option1":"tho","option2":"mer","answer":"2"})" "\n");
  Tokenizer tok = Tokenizer::load(testing::small_tokenizer());
  Transformer model = small_model(tok.vocab_size());
  DownstreamOptions o;
  o.dir = dir;
  auto rs = evaluate_downstream(model, tok, o);
  ASSERT_EQ(rs.size(), 2u);  // the files present, in the paper's column order
  EXPECT_EQ(rs[0].task, "winogrande");
  EXPECT_EQ(rs[1].task, "piqa");
  EXPECT_EQ(rs[1].score.n, 3);
  EXPECT_TRUE(rs[1].has_acc_norm);
  EXPECT_FALSE(rs[0].has_acc_norm);
  for (const auto& r : rs) EXPECT_TRUE(r.score.acc.value >= 0 && r.score.acc.value <= 1);
  o.limit = 1;
  o.tasks = {"piqa"};
  EXPECT_EQ(evaluate_downstream(model, tok, o)[0].score.n, 1);
  o.tasks = {"boolq"};
  EXPECT_THROW(evaluate_downstream(model, tok, o), Error);  // asked for, file missing

  std::string jpath = dir + "/journal.jsonl";
  {
    Journal j(jpath);
    journal_downstream(j, 42, rs);
  }
  std::map<std::string, double> got;
  for (const auto& line : read_journal(jpath)) got[line["key"]] = line["value"].get<double>();
  EXPECT_EQ(got.at("downstream/piqa/acc"), rs[1].score.acc.value);
  EXPECT_TRUE(got.count("downstream/piqa/acc_norm_stderr"));
  EXPECT_FALSE(got.count("downstream/winogrande/acc_norm"));
  EXPECT_NEAR(got.at("downstream/average/acc"), (rs[0].score.acc.value + rs[1].score.acc.value) / 2, 1e-12);
}

}  // namespace
}  // namespace gpas
