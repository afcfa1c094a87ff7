// Loader tests: pad-mode rows and loss mask, pack-mode windows, shuffle determinism, exact resume,
// rank sharding without overlap (pad and pack), eval budgets, and (when fetched) the Brown corpus
// end to end.
#include "core/data/loader.h"

#include "core/common/fs.h"
#include "core/data/brown.h"
#include "tests/data/data_fixture.h"

namespace gpas {
namespace {

// One prepared directory shared by the loader tests (docs of 5..120 words, 10% validation).
std::shared_ptr<PreparedData> prepared() {
  static std::shared_ptr<PreparedData> d = [] {
    std::string dir = testing::temp_dir("loader");
    auto docs = testing::make_docs(400, 21, 1, 120);
    testing::write_text(dir + "/in/a.jsonl", testing::jsonl(docs, 0, 400));
    PrepareOptions o;
    o.corpus = {dir + "/in"};
    o.tokenizer = testing::small_tokenizer();
    o.out = dir + "/out";
    o.val_fraction = 0.1;
    prepare_corpus(o);
    return PreparedData::open(o.out);
  }();
  return d;
}

StreamSpec spec(int64_t b, int64_t t, int rank = 0, int world = 1) {
  StreamSpec s;
  s.micro_batch = b;
  s.seq_len = t;
  s.rank = rank;
  s.world = world;
  return s;
}

// seed 0: the paper's (32 train, 42 validation).
std::unique_ptr<BatchSource> stream(const std::string& mode, const StreamSpec& s, bool eval = false,
                                    int prefetch = 4, uint64_t seed = 0) {
  LoaderOptions o;
  o.mode = mode;
  o.eval = eval;
  o.split = eval ? Split::kValidation : Split::kTrain;
  o.seed = seed ? seed : eval ? 42 : 32;
  o.prefetch = prefetch;
  return make_prepared_stream(prepared(), o, s);
}

TEST(Permutation, IsABijection) {
  for (uint64_t n : {1ull, 2ull, 7ull, 1000ull, 4097ull}) {
    Permutation p(n, 5);
    std::vector<bool> seen(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t j = p(i);
      ASSERT_LT(j, n);
      EXPECT_FALSE(seen[j]);
      seen[j] = true;
    }
  }
}

TEST(Loader, PadRowsAreDocumentsWithLossMask) {
  auto d = prepared();
  const int64_t T = 32;
  auto s = stream("pad", spec(4, T), false, 0);
  std::multiset<std::vector<int32_t>> rows_seen;
  const int64_t n = d->docs(Split::kTrain);
  TokenBatch b;
  for (int64_t k = 0; k < (n + 3) / 4; ++k) {
    ASSERT_TRUE(s->next(b));
    ASSERT_EQ(b.rows, 4);
    for (int64_t r = 0; r < 4; ++r) {
      const int32_t* in = &b.inputs[r * T];
      const int32_t* tg = &b.targets[r * T];
      int64_t len = 0;
      while (len < T && tg[len] >= 0) ++len;
      ++len;  // the row holds len tokens, len - 1 of them predicted
      for (int64_t t = 0; t + 1 < len; ++t) EXPECT_EQ(tg[t], in[t + 1]);
      for (int64_t t = len - 1; t < T; ++t) EXPECT_EQ(tg[t], -1);
      for (int64_t t = len; t < T; ++t) EXPECT_EQ(in[t], d->pad_id());
      EXPECT_EQ(in[len - 1], d->eos_id());  // truncated documents keep EOS last
      if (k * 4 + r < n) rows_seen.insert(std::vector<int32_t>(in, in + len));
    }
  }
  // The first epoch is every document once (truncated to T tokens).
  std::multiset<std::vector<int32_t>> want;
  for (int64_t i = 0; i < n; ++i) {
    auto doc = d->doc(Split::kTrain, i);
    if (int64_t(doc.size()) > T) {
      doc.resize(T);
      doc.back() = d->eos_id();
    }
    want.insert(doc);
  }
  EXPECT_EQ(rows_seen, want);
}

TEST(Loader, PackWindowsAreTheConcatenatedStream) {
  const int64_t T = 16;
  auto s = stream("pack", spec(2, T));
  TokenBatch b;
  std::vector<int32_t> stream_tokens;
  for (int k = 0; k < 20; ++k) {
    ASSERT_TRUE(s->next(b));
    EXPECT_EQ(b.loss_tokens(), 2 * T);
    for (int64_t r = 0; r < 2; ++r) {
      for (int64_t t = 0; t + 1 < T; ++t) EXPECT_EQ(b.targets[r * T + t], b.inputs[r * T + t + 1]);
      if (stream_tokens.empty()) stream_tokens.push_back(b.inputs[0]);
      EXPECT_EQ(stream_tokens.back(), b.inputs[r * T]);
      stream_tokens.insert(stream_tokens.end(), b.inputs.begin() + r * T + 1,
                           b.inputs.begin() + (r + 1) * T);
      stream_tokens.push_back(b.targets[r * T + T - 1]);
    }
  }
  // The stream is whole documents back to back: it splits at EOS into documents of the split.
  auto d = prepared();
  std::set<std::vector<int32_t>> docs;
  for (int64_t i = 0; i < d->docs(Split::kTrain); ++i) docs.insert(d->doc(Split::kTrain, i));
  std::vector<int32_t> cur;
  int whole = 0;
  for (int32_t t : stream_tokens) {
    cur.push_back(t);
    if (t == d->eos_id()) {
      EXPECT_TRUE(docs.count(cur)) << "window text is not a document";
      whole += int(docs.count(cur));
      cur.clear();
    }
  }
  EXPECT_GE(whole, 2);
}

void expect_same(const TokenBatch& a, const TokenBatch& b) {
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.targets, b.targets);
}

TEST(Loader, ResumeGivesTheUninterruptedBatches) {
  for (std::string mode : {"pad", "pack"}) {
    auto full = stream(mode, spec(8, 24));
    std::vector<TokenBatch> want(80);  // several epochs in pad mode (360 docs / 8 rows)
    for (auto& b : want) ASSERT_TRUE(full->next(b));
    for (int cut : {1, 17, 45, 63}) {
      auto a = stream(mode, spec(8, 24));
      TokenBatch b;
      for (int k = 0; k < cut; ++k) a->next(b);
      nlohmann::json st = nlohmann::json::parse(a->state().dump());  // as a checkpoint stores it
      a.reset();
      auto c = stream(mode, spec(8, 24), false, cut % 2 ? 0 : 3);
      c->restore(st);
      for (int k = cut; k < cut + 10; ++k) {
        ASSERT_TRUE(c->next(b));
        expect_same(b, want[k]);
      }
    }
    // The same seed gives the same order; another seed another one.
    auto again = stream(mode, spec(8, 24));
    TokenBatch b;
    again->next(b);
    expect_same(b, want[0]);
    auto other = stream(mode, spec(8, 24), false, 4, 33);
    other->next(b);
    EXPECT_NE(b.inputs, want[0].inputs) << mode;
  }
}

TEST(Loader, RanksReadDisjointSharesThatCoverTheData) {
  auto d = prepared();
  const int64_t n = d->docs(Split::kTrain), T = 512;  // long rows: no document is truncated
  const int world = 3;
  std::multiset<std::vector<int32_t>> seen;
  auto one = stream("pad", spec(6, T));  // one rank with world * micro rows sees the same rows
  std::vector<TokenBatch> single(size_t((n + 5) / 6));
  for (auto& b : single) one->next(b);
  for (int r = 0; r < world; ++r) {
    auto s = stream("pad", spec(2, T, r, world));
    TokenBatch b;
    for (size_t k = 0; k < single.size(); ++k) {
      ASSERT_TRUE(s->next(b));
      for (int64_t i = 0; i < 2; ++i) {
        int64_t row = int64_t(k) * 6 + r * 2 + i;
        std::vector<int32_t> in(b.inputs.begin() + i * T, b.inputs.begin() + (i + 1) * T);
        EXPECT_EQ(in, std::vector<int32_t>(single[k].inputs.begin() + (r * 2 + i) * T,
                                           single[k].inputs.begin() + (r * 2 + i + 1) * T));
        if (row < n) seen.insert(in);
      }
    }
  }
  std::multiset<std::vector<int32_t>> want;
  for (int64_t i = 0; i < n; ++i) {
    auto doc = d->doc(Split::kTrain, i);
    ASSERT_LE(int64_t(doc.size()), T);
    doc.resize(T, d->pad_id());
    want.insert(doc);
  }
  EXPECT_EQ(seen.size(), want.size());
  EXPECT_EQ(seen, want);  // every document exactly once across the ranks
}

std::vector<int32_t> row_of(const std::vector<int32_t>& v, int64_t row, int64_t T) {
  return std::vector<int32_t>(v.begin() + row * T, v.begin() + (row + 1) * T);
}

TEST(Loader, PackRanksTileTheStreamOfOneRank) {
  auto d = prepared();
  const int64_t T = 64, B = 2, world = 3;
  // Enough batches to pass the end of the first epoch.
  const int64_t K = d->tokens(Split::kTrain) / (world * B * T) + 4, rows = K * world * B;
  auto one = stream("pack", spec(world * B, T));  // one rank with world * micro rows
  std::vector<TokenBatch> single(static_cast<size_t>(K));
  for (auto& b : single) ASSERT_TRUE(one->next(b));
  std::vector<std::vector<int32_t>> in(static_cast<size_t>(rows)), tg(in.size());  // by global row
  for (int r = 0; r < world; ++r) {
    auto s = stream("pack", spec(B, T, r, int(world)));
    TokenBatch b;
    for (int64_t k = 0; k < K; ++k) {
      ASSERT_TRUE(s->next(b));
      for (int64_t i = 0; i < B; ++i) {
        size_t g = size_t((k * world + r) * B + i);
        in[g] = row_of(b.inputs, i, T);
        tg[g] = row_of(b.targets, i, T);
        EXPECT_EQ(in[g], row_of(single[size_t(k)].inputs, r * B + i, T)) << "rank " << r;
        EXPECT_EQ(tg[g], row_of(single[size_t(k)].targets, r * B + i, T)) << "rank " << r;
      }
    }
  }
  // Global row g is the window at token g * T of one stream: ranks neither overlap nor skip.
  std::vector<int32_t> tokens = {in[0][0]};
  for (size_t g = 0; g < in.size(); ++g) {
    ASSERT_EQ(tokens.back(), in[g][0]) << "row " << g << " does not continue row " << g - 1;
    tokens.insert(tokens.end(), tg[g].begin(), tg[g].end());
  }
  // The first epoch of that stream is every training document once.
  std::multiset<std::vector<int32_t>> got, want;
  std::vector<int32_t> cur;
  for (int64_t t = 0; t < d->tokens(Split::kTrain); ++t) {
    cur.push_back(tokens[size_t(t)]);
    if (cur.back() == d->eos_id()) got.insert(cur), cur.clear();
  }
  EXPECT_TRUE(cur.empty());
  for (int64_t i = 0; i < d->docs(Split::kTrain); ++i) want.insert(d->doc(Split::kTrain, i));
  EXPECT_EQ(got, want);
}

TEST(Loader, EvalStopsAtTheSplitOrTheBudget) {
  auto d = prepared();
  for (std::string mode : {"pad", "pack"}) {
    auto s = stream(mode, spec(4, 32), true);
    TokenBatch b;
    int64_t loss = 0, batches = 0;
    while (s->next(b)) loss += b.loss_tokens(), ++batches;
    EXPECT_FALSE(s->next(b));
    if (mode == "pack") {
      EXPECT_EQ(loss, d->tokens(Split::kValidation) - 1);
    }
    EXPECT_GT(batches, 1);
    StreamSpec sp = spec(4, 32);
    sp.token_budget = 100;
    auto capped = stream(mode, sp, true);
    int64_t capped_loss = 0;
    while (capped->next(b)) capped_loss += b.loss_tokens();
    EXPECT_GE(capped_loss, 100);
    EXPECT_LT(capped_loss, 100 + 4 * 32);
  }
  // With two ranks, both stop at the same batch.
  auto r0 = stream("pad", spec(2, 32, 0, 2), true), r1 = stream("pad", spec(2, 32, 1, 2), true);
  TokenBatch b;
  int n0 = 0, n1 = 0;
  while (r0->next(b)) ++n0;
  while (r1->next(b)) ++n1;
  EXPECT_EQ(n0, n1);
  EXPECT_EQ(n0, (d->docs(Split::kValidation) + 3) / 4);
}

TEST(Loader, BrownCorpusWhenFetched) {
  DataConfig cfg;
  cfg.source = "brown";
  std::string home;
  try {
    home = brown_home(cfg);
  } catch (const std::exception&) {
    GTEST_SKIP() << "no Brown cache location";
  }
  // Fetched by scripts/install-deps.sh (npm); the first stream prepares it (tokenizer + shards).
  if (!path_exists(home + "/text")) GTEST_SKIP() << "Brown not fetched into " << home << " (scripts/fetch-brown.sh)";
  auto s = open_train_stream(cfg, spec(8, 256));
  EXPECT_EQ(s->vocab_size(), kBrownVocab);
  TokenBatch b;
  ASSERT_TRUE(s->next(b));
  EXPECT_GT(b.loss_tokens(), 8 * 10);
  auto e = open_eval_stream(cfg, spec(8, 256));
  ASSERT_TRUE(e->next(b));
  auto d = open_prepared_data(cfg);
  EXPECT_EQ(d->manifest()["corpus"]["files"].size(), 500u);
}

}  // namespace
}  // namespace gpas
