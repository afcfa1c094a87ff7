// Zero-shot multiple-choice formatting and scoring (core/data/mc_tasks.h): each task's prompt
// as the LM Evaluation Harness writes it, acc / acc_norm / stderr, errors naming file:line.
#include <gtest/gtest.h>

#include <cmath>

#include "core/data/mc_tasks.h"
#include "data_fixture.h"

namespace gpas {
namespace {

using nlohmann::json;
using testing::error_of;

TEST(McTasks, PromptsFollowTheHarness) {
  McDoc arc = format_mc_doc("arc_easy", json::parse(R"({"id":"x","question":"Which is a gas?",
      "choices":{"text":["rock","steam"],"label":["A","B"]},"answerKey":"B"})"), "t:1");
  EXPECT_EQ(arc.requests[1].context, "Question: Which is a gas?\nAnswer:");
  EXPECT_EQ(arc.requests[1].continuation, " steam");
  EXPECT_EQ(arc.gold, 1);

  McDoc obqa = format_mc_doc("openbookqa", json::parse(R"({"question_stem":"The sun is","choices":
      {"text":["cold","hot","wet","blue"],"label":["A","B","C","D"]},"answerKey":"B"})"), "t:1");
  EXPECT_EQ(obqa.requests[0].context, "The sun is");
  EXPECT_EQ(obqa.gold, 1);

  McDoc piqa = format_mc_doc("piqa", json::parse(R"({"goal":"Open a jar","sol1":"twist","sol2":"push","label":0})"), "t:1");
  EXPECT_EQ(piqa.requests[0].context, "Question: Open a jar\nAnswer:");
  EXPECT_EQ(piqa.requests[1].continuation, " push");

  McDoc boolq = format_mc_doc("boolq", json::parse(R"({"question":"is it wet","passage":"Rain is water.","label":1})"), "t:1");
  EXPECT_EQ(boolq.requests[0].context, "Rain is water.\nQuestion: is it wet?\nAnswer:");
  EXPECT_EQ(boolq.requests[0].continuation, " no");
  EXPECT_EQ(boolq.requests[1].continuation, " yes");
  EXPECT_EQ(boolq.gold, 1);
  EXPECT_EQ(format_mc_doc("boolq", json::parse(R"({"question":"q","passage":"p","answer":false})"), "t:1").gold, 0);

  McDoc hs = format_mc_doc("hellaswag", json::parse(R"({"activity_label":"Baking cookies",
      "ctx_a":"A woman mixes flour.","ctx_b":"she THEN","endings":["bakes [title] them.","eats  it."],"label":"1"})"), "t:1");
  EXPECT_EQ(hs.requests[0].context, "Baking cookies: A woman mixes flour. She then");
  EXPECT_EQ(hs.requests[0].continuation, " bakes. them.");
  EXPECT_EQ(hs.requests[1].continuation, " eats it.");
  EXPECT_EQ(hs.gold, 1);

  McDoc mmlu = format_mc_doc("mmlu", json::parse(R"({"question":" What is 2+2? ","subject":"elementary_mathematics",
      "choices":["3","4","5","6"],"answer":1})"), "t:1");
  EXPECT_EQ(mmlu.requests[0].context,
            "The following are multiple choice questions (with answers) about elementary mathematics.\n\n"
            "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:");
  EXPECT_EQ(mmlu.requests[3].continuation, " D");
  EXPECT_EQ(mmlu.group, "elementary_mathematics");
  EXPECT_EQ(format_mc_doc("mmlu", json::parse(R"({"question":"q","subject":"s","choices":["a","b","c","d"],"answer":"C"})"), "t").gold, 2);

  // WinoGrande: the option completes the context; both choices score the same rest of the sentence.
  McDoc wg = format_mc_doc("winogrande", json::parse(R"({"sentence":"The cup fell off the table because _ was tilted.",
      "option1":"the cup","option2":"the table","answer":"2"})"), "t:1");
  EXPECT_EQ(wg.requests[0].context, "The cup fell off the table because the cup");
  EXPECT_EQ(wg.requests[1].context, "The cup fell off the table because the table");
  EXPECT_EQ(wg.requests[0].continuation, " was tilted.");
  EXPECT_EQ(wg.requests[1].continuation, " was tilted.");
  EXPECT_EQ(wg.gold, 1);
}

TEST(McTasks, BadRowsNameTheLineAndKey) {
  std::string dir = testing::temp_dir("mc");
  testing::write_text(dir + "/piqa.jsonl", R"({"goal":"g","sol1":"a","sol2":"b","label":0})" "\n"
                                           R"({"goal":"g","sol1":"a","label":1})" "\n");
  EXPECT_NE(error_of([&] { load_mc_task("piqa", dir + "/piqa.jsonl"); }).find("piqa.jsonl:2: missing key \"sol2\""),
            std::string::npos);
  EXPECT_EQ(load_mc_task("piqa", dir + "/piqa.jsonl", 1).docs.size(), 1u);  // --limit stops before
  testing::write_text(dir + "/arc.jsonl", R"({"question":"q","choices":{"text":["a"],"label":["A"]},"answerKey":"E"})" "\n");
  EXPECT_NE(error_of([&] { load_mc_task("arc_easy", dir + "/arc.jsonl"); }).find("arc.jsonl:1: answerKey \"E\""),
            std::string::npos);
  testing::write_text(dir + "/bad.jsonl", "{not json\n");
  EXPECT_NE(error_of([&] { load_mc_task("boolq", dir + "/bad.jsonl"); }).find("bad.jsonl:1: not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_mc_task("squad", dir + "/bad.jsonl"); }).find("unknown task 'squad'"),
            std::string::npos);
}

TEST(McTasks, AccAccNormAndStderr) {
  McTask t;
  t.name = "piqa";
  t.has_acc_norm = true;
  // Doc 0: choice 1 wins on the sum, choice 0 per character. Doc 1: a tie goes to the first.
  McDoc d0;
  d0.choices = {"aaaaaaaaaa", "b"};
  d0.requests.resize(2);
  d0.gold = 0;
  McDoc d1 = d0;
  d1.gold = 1;
  t.docs = {d0, d1, d0};
  McScore s = score_mc_task(t, {{-5.0, -4.0}, {-3.0, -3.0}, {-1.0, -9.0}});
  EXPECT_EQ(s.n, 3);
  EXPECT_NEAR(s.acc.value, 1.0 / 3, 1e-12);        // doc 2 only
  EXPECT_NEAR(s.acc_norm.value, 2.0 / 3, 1e-12);   // docs 0 and 2
  // Harness stderr: sample std (n - 1) / sqrt(n).
  double m = 1.0 / 3, sd = std::sqrt(((1 - m) * (1 - m) + 2 * m * m) / 2);
  EXPECT_NEAR(s.acc.stderr_, sd / std::sqrt(3.0), 1e-12);
  EXPECT_TRUE(std::isnan(mean_stderr({1.0}).stderr_));
  EXPECT_EQ(utf8_length("héllo"), 5u);
}

TEST(McTasks, RequestTokensSplitLikeTheHarness) {
  Tokenizer tok = Tokenizer::load(testing::small_tokenizer());
  McTokens t = encode_mc_request(tok, {"Tamo lis ", "karen."});  // trailing space moves over
  auto whole = tok.encode("Tamo lis karen.");
  EXPECT_EQ(t.context, tok.encode("Tamo lis"));
  std::vector<int32_t> joined = t.context;
  joined.insert(joined.end(), t.continuation.begin(), t.continuation.end());
  EXPECT_EQ(joined, whole);
  EXPECT_FALSE(t.continuation.empty());
  McTokens e = encode_mc_request(tok, {"", "Tamo"});
  EXPECT_EQ(e.context, std::vector<int32_t>{tok.eos_id()});
}

}  // namespace
}  // namespace gpas
