// Data benchmark tests: the 71m trainer bound in closed form, and the verdict judging the slower
// loader mode against the target and the trainer. No speed is asserted (benchmarks, not tests).
#include "core/data/bench.h"

#include "core/data/prepared.h"
#include "tests/data/data_fixture.h"

namespace gpas {
namespace {

TEST(BenchData, Trainer71mBoundIsPeakOverFlopsPerToken) {
  // 71m: d 512, ffn 1368, 12 layers, T5's 32000 pieces: 12 (4 d^2 + 3 d ffn) + 32000 d matmul
  // parameters = 54,181,888; 6 x that + 12 L d T attention FLOPs per token.
  for (int64_t seq : {256, 1024})
    EXPECT_NEAR(trainer_71m_peak_tokens_per_second(seq),
                989e12 / (6.0 * 54181888 + 12.0 * 12 * 512 * double(seq)), 1e-3);
}

TEST(BenchData, VerdictJudgesTheSlowerMode) {
  auto docs = testing::make_docs(100, 31);
  std::string dir = testing::temp_dir("bench");
  testing::write_text(dir + "/in/a.jsonl", testing::jsonl(docs, 0, 100));
  PrepareOptions p;
  p.corpus = {dir + "/in"};
  p.tokenizer = testing::small_tokenizer();
  p.out = dir + "/out";
  prepare_corpus(p);
  BenchDataOptions o;
  o.corpus = dir + "/in";
  o.tokenizer = p.tokenizer;
  o.prepared = p.out;
  o.batch = 4;
  o.seq = 32;
  o.seconds = 0.05;
  o.threads = 1;
  o.trainer_tps = 1000;
  auto r = bench_data(o);
  const auto& v = r["verdict"];
  double pad = r["loader"]["pad"]["tokens_per_second"];
  double pack = r["loader"]["pack"]["tokens_per_second"];
  double tps = v["loader_tokens_per_second"];
  EXPECT_EQ(tps, std::min(pad, pack));
  EXPECT_EQ(v["slower_mode"], pad < pack ? "pad" : "pack");
  EXPECT_EQ(v["meets_target"], tps >= 2e6);
  EXPECT_DOUBLE_EQ(v["ratio_to_target"].get<double>(), tps / 2e6);
  EXPECT_DOUBLE_EQ(v["ratio_to_trainer"].get<double>(), tps / 1000);
  EXPECT_EQ(v["trainer"]["tokens_per_second"], 1000.0);
  o.trainer_tps = 0;  // the 71m bound at the benchmark's sequence length
  EXPECT_EQ(bench_data(o)["verdict"]["trainer"]["tokens_per_second"],
            trainer_71m_peak_tokens_per_second(32));
}

}  // namespace
}  // namespace gpas
