// Instruction data (core/data/instruct.h): both file layouts, the Alpaca / LLM-Adapters prompt,
// the loss on the response and EOS only, the held-out split, epochs, resume and rank shares.
#include <gtest/gtest.h>

#include <set>

#include "core/data/instruct.h"
#include "data_fixture.h"

namespace gpas {
namespace {

using testing::error_of;

// A word per number from the fixture tokenizer's syllables (it has no digits).
std::string word(int i) {
  static const char* syl[] = {"ta", "ren", "mo", "lis", "ka", "dor", "pe", "vin", "su", "gal"};
  return std::string(syl[i % 10]) + syl[(i / 10) % 10] + "s";
}

std::string write_examples(const std::string& dir, int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += nlohmann::json({{"instruction", "Tamo lis ka " + word(i)},
                         {"input", i % 2 ? "dor pe" : ""},
                         {"output", "vin " + word(i + 3)}}).dump() + "\n";
  testing::write_text(dir + "/sft.jsonl", s);
  return dir + "/sft.jsonl";
}

// data.source instruct on n examples of write_examples in dir, val_examples of them held out.
DataConfig instruct_config(const std::string& dir, int n, int64_t val_examples) {
  DataConfig cfg;
  cfg.source = "instruct";
  cfg.path = write_examples(dir, n);
  cfg.tokenizer = testing::small_tokenizer();
  cfg.val_examples = val_examples;
  return cfg;
}

TEST(Instruct, ReadsJsonArrayAndJsonlWithErrorsThatNameTheRow) {
  std::string dir = testing::temp_dir("instruct_read");
  testing::write_text(dir + "/a.json", R"([{"instruction":"i","input":"","output":"o"},{"instruction":"j","output":"p"}])");
  auto a = read_instruct_file(dir + "/a.json");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].input, "");
  EXPECT_EQ(read_instruct_file(write_examples(dir, 3)).size(), 3u);
  testing::write_text(dir + "/b.jsonl", "{\"instruction\":\"i\",\"output\":\"o\"}\n\n{\"instruction\":\"i\"}\n");
  EXPECT_NE(error_of([&] { read_instruct_file(dir + "/b.jsonl"); }).find("b.jsonl:3: missing key \"output\""),
            std::string::npos);
  testing::write_text(dir + "/c.json", R"([{"instruction":"i","output":5}])");
  EXPECT_NE(error_of([&] { read_instruct_file(dir + "/c.json"); }).find("c.json: example 0: \"output\" must be a string"),
            std::string::npos);
}

TEST(Instruct, PromptTemplateAndLossOnTheResponseOnly) {
  InstructExample e{"Pick one.", "", "b"};
  EXPECT_EQ(instruct_prompt(e),
            "Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\nPick one.\n\n### Response:\n");
  e.input = "a or b";
  EXPECT_NE(instruct_prompt(e).find("paired with an input that provides further context. Write a response that "
                                    "appropriately completes the request.\n\n### Instruction:\nPick one.\n\n"
                                    "### Input:\na or b\n\n### Response:\n"),
            std::string::npos);

  std::string dir = testing::temp_dir("instruct_stream");
  Tokenizer tok = Tokenizer::load(testing::small_tokenizer());
  DataConfig cfg = instruct_config(dir, 10, 2);
  EXPECT_EQ(instruct_train_examples(cfg), 8);
  StreamSpec spec;
  spec.micro_batch = 3;
  spec.seq_len = 600;
  auto s = make_instruct_stream(cfg, spec, false);
  EXPECT_EQ(s->examples(), 8);
  TokenBatch b;
  ASSERT_TRUE(s->next(b));
  // Each row: its targets are exactly the response tokens and EOS (the prompt is masked).
  auto rows = read_instruct_file(cfg.path);
  std::set<std::vector<int32_t>> responses;
  for (const auto& r : rows) {
    InstructTokens t = tokenize_instruct(tok, r, 600);
    responses.insert(std::vector<int32_t>(t.ids.begin() + t.prompt, t.ids.end()));
    EXPECT_EQ(t.ids.back(), tok.eos_id());
  }
  for (int64_t r = 0; r < b.rows; ++r) {
    std::vector<int32_t> got;
    for (int64_t t = 0; t < b.seq; ++t)
      if (b.targets[size_t(r * b.seq + t)] >= 0) got.push_back(b.targets[size_t(r * b.seq + t)]);
    EXPECT_TRUE(responses.count(got)) << "row " << r;
  }
  // Cutoff: at most seq_len + 1 tokens, the prompt part kept first.
  EXPECT_EQ(tokenize_instruct(tok, rows[0], 5).ids.size(), 6u);
}

// A prompt that fills seq_len leaves nothing to learn: a split of only such examples is refused
// (it trained at loss 0 before), a split with some is kept (they are counted in a warning).
TEST(Instruct, PromptsThatFillSeqLenAreRefusedWhenNoExampleHasAResponseLeft) {
  std::string dir = testing::temp_dir("instruct_cut");
  Tokenizer tok = Tokenizer::load(testing::small_tokenizer());
  DataConfig cfg = instruct_config(dir, 6, 2);
  auto rows = read_instruct_file(cfg.path);
  InstructTokens cut = tokenize_instruct(tok, rows[0], 5);
  EXPECT_EQ(cut.prompt, 6);
  EXPECT_EQ(response_tokens(cut), 0);
  int64_t shortest = 1 << 20, longest = 0;
  for (const auto& r : rows) {
    int64_t n = int64_t(tok.encode(instruct_prompt(r)).size());
    shortest = std::min(shortest, n);
    longest = std::max(longest, n);
  }
  StreamSpec spec;
  spec.micro_batch = 2;
  spec.seq_len = shortest - 1;  // the target after the last prompt token is cut off too
  auto msg = error_of([&] { make_instruct_stream(cfg, spec, false); });
  EXPECT_NE(msg.find("4 of 4 training examples have no response token within train.seq_len " +
                     std::to_string(spec.seq_len)), std::string::npos) << msg;
  EXPECT_NE(msg.find("raise train.seq_len"), std::string::npos) << msg;
  // Three long instructions among the short ones: kept.
  std::string all;
  for (int k = 0; k < 3; ++k)
    all += nlohmann::json({{"instruction", std::string(size_t(4 * longest), 'a')}, {"output", "vin"}}).dump() + "\n";
  for (const auto& r : rows)
    all += nlohmann::json({{"instruction", r.instruction}, {"input", r.input}, {"output", r.output}}).dump() + "\n";
  testing::write_text(dir + "/mixed.jsonl", all);
  cfg.path = dir + "/mixed.jsonl";
  cfg.val_examples = 0;
  spec.seq_len = longest + 8;
  auto s = make_instruct_stream(cfg, spec, false);
  EXPECT_EQ(s->examples(), 9);
}

TEST(Instruct, EpochsSplitResumeAndRanks) {
  std::string dir = testing::temp_dir("instruct_epochs");
  DataConfig cfg = instruct_config(dir, 12, 3);
  StreamSpec spec;
  spec.micro_batch = 3;
  spec.seq_len = 600;
  auto first_ids = [](const TokenBatch& b) {
    std::vector<std::vector<int32_t>> v;
    for (int64_t r = 0; r < b.rows; ++r) v.emplace_back(b.inputs.begin() + r * b.seq, b.inputs.begin() + (r + 1) * b.seq);
    return v;
  };
  // One epoch (9 rows = 3 batches) covers every training row once; validation rows never appear.
  auto train = make_instruct_stream(cfg, spec, false);
  std::set<std::vector<int32_t>> epoch0, val;
  TokenBatch b;
  for (int i = 0; i < 3; ++i) {
    train->next(b);
    for (auto& r : first_ids(b)) epoch0.insert(r);
  }
  EXPECT_EQ(epoch0.size(), 9u);
  auto ev = make_instruct_stream(cfg, spec, true);
  while (ev->next(b))
    for (auto& r : first_ids(b)) val.insert(r);
  val.erase(std::vector<int32_t>(size_t(spec.seq_len), b.inputs.back()));  // padding rows of the last batch
  for (const auto& v : val) EXPECT_FALSE(epoch0.count(v));
  // Resume: restoring the state continues with the same batches.
  auto nj = train->state();
  TokenBatch want, got;
  train->next(want);
  auto again = make_instruct_stream(cfg, spec, false);
  again->restore(nj);
  again->next(got);
  EXPECT_EQ(want.inputs, got.inputs);
  // Two ranks read disjoint rows of each update.
  StreamSpec r0 = spec, r1 = spec;
  r0.world = r1.world = 2;
  r1.rank = 1;
  TokenBatch a0, a1;
  make_instruct_stream(cfg, r0, false)->next(a0);
  make_instruct_stream(cfg, r1, false)->next(a1);
  for (auto& x : first_ids(a0))
    for (auto& y : first_ids(a1)) EXPECT_NE(x, y);
  cfg.val_examples = 12;
  EXPECT_NE(error_of([&] { instruct_train_examples(cfg); }).find("data.val_examples: 12 leaves no training examples"),
            std::string::npos);
}

}  // namespace
}  // namespace gpas
