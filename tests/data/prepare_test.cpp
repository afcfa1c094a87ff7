// Prepare tests: shards decode back to the corpus, the split is deterministic (independent of the
// thread count, changed by the split seed), C4's own validation files are used, an interrupted
// prepare is finished by a rerun, and bad inputs (empty corpus, other tokenizer, skipped lines)
// are reported.
#include "core/data/prepared.h"

#include "core/common/fs.h"
#include "core/data/batch.h"
#include "tests/data/data_fixture.h"

namespace gpas {
namespace {

using testing::error_of;
namespace fs = std::filesystem;

PrepareOptions options(const std::string& corpus, const std::string& out) {
  PrepareOptions o;
  o.corpus = {corpus};
  o.tokenizer = testing::small_tokenizer();
  o.out = out;
  o.val_fraction = 0.1;
  return o;
}

std::vector<std::vector<int32_t>> all_docs(const PreparedData& d, Split s) {
  std::vector<std::vector<int32_t>> out;
  for (int64_t i = 0; i < d.docs(s); ++i) out.push_back(d.doc(s, i));
  return out;
}

TEST(Prepare, ShardsHoldEveryDocumentOnce) {
  auto docs = testing::make_docs(300, 11);
  std::string dir = testing::temp_dir("prep");
  testing::write_gz(dir + "/in/a.jsonl.gz", {testing::jsonl(docs, 0, 150)});
  testing::write_gz(dir + "/in/b.jsonl.gz", {testing::jsonl(docs, 150, 300)});
  auto r = prepare_corpus(options(dir + "/in", dir + "/out"));
  auto d = PreparedData::open(dir + "/out");
  EXPECT_EQ(d->docs(Split::kTrain) + d->docs(Split::kValidation), 300);
  EXPECT_GT(d->docs(Split::kValidation), 10);
  EXPECT_LT(d->docs(Split::kValidation), 60);
  EXPECT_EQ(d->manifest()["dtype"], "uint16");
  EXPECT_EQ(d->vocab_size(), 400);
  EXPECT_EQ(r.manifest["corpus"]["files"].size(), 2u);
  EXPECT_EQ(r.manifest["corpus"]["files"][0]["size"], fs::file_size(dir + "/in/a.jsonl.gz"));
  auto tok = Tokenizer::load(d->tokenizer_path());
  std::multiset<std::string> want(docs.begin(), docs.end()), got;
  for (Split s : {Split::kTrain, Split::kValidation})
    for (const auto& ids : all_docs(*d, s)) {
      EXPECT_EQ(ids.back(), tok.eos_id());
      got.insert(tok.decode(ids));
    }
  EXPECT_EQ(got, want);
  // Same inputs again: nothing to do.
  EXPECT_TRUE(prepare_corpus(options(dir + "/in", dir + "/out")).already_complete);
}

TEST(Prepare, SplitIsDeterministicAndThreadIndependent) {
  auto docs = testing::make_docs(200, 12);
  std::string dir = testing::temp_dir("det");
  testing::write_text(dir + "/in/a.jsonl", testing::jsonl(docs, 0, 200));
  auto o1 = options(dir + "/in", dir + "/one");
  o1.threads = 1;
  auto o2 = options(dir + "/in", dir + "/two");
  o2.threads = 3;
  prepare_corpus(o1);
  prepare_corpus(o2);
  auto a = PreparedData::open(dir + "/one"), b = PreparedData::open(dir + "/two");
  for (Split s : {Split::kTrain, Split::kValidation}) EXPECT_EQ(all_docs(*a, s), all_docs(*b, s));
  EXPECT_EQ(read_file(dir + "/one/parts/part-00000.train.bin"),
            read_file(dir + "/two/parts/part-00000.train.bin"));
}

TEST(Prepare, SplitSeedChangesTheHashSplit) {
  auto docs = testing::make_docs(200, 15);
  std::string dir = testing::temp_dir("seed");
  testing::write_text(dir + "/in/a.jsonl", testing::jsonl(docs, 0, 200));
  auto o0 = options(dir + "/in", dir + "/s0");
  auto o1 = options(dir + "/in", dir + "/s1");
  o1.split_seed = 1;
  auto o1b = options(dir + "/in", dir + "/s1b");
  o1b.split_seed = 1;
  prepare_corpus(o0);
  EXPECT_EQ(prepare_corpus(o1).manifest["split"]["seed"], 1);
  prepare_corpus(o1b);
  auto a = PreparedData::open(dir + "/s0"), b = PreparedData::open(dir + "/s1"),
       c = PreparedData::open(dir + "/s1b");
  EXPECT_NE(all_docs(*a, Split::kValidation), all_docs(*b, Split::kValidation));
  EXPECT_EQ(all_docs(*b, Split::kValidation), all_docs(*c, Split::kValidation));
  EXPECT_EQ(b->docs(Split::kTrain) + b->docs(Split::kValidation), 200);
}

TEST(Prepare, UsesC4ValidationFiles) {
  auto docs = testing::make_docs(60, 13);
  std::string dir = testing::temp_dir("c4");
  testing::write_gz(dir + "/c4/c4-train.00000-of-00002.json.gz", {testing::jsonl(docs, 0, 25)});
  testing::write_gz(dir + "/c4/c4-train.00001-of-00002.json.gz", {testing::jsonl(docs, 25, 50)});
  testing::write_gz(dir + "/c4/c4-validation.00000-of-00001.json.gz", {testing::jsonl(docs, 50, 60)});
  auto o = options(dir + "/c4", dir + "/out");
  o.part_bytes = 1;  // one part per file
  auto r = prepare_corpus(o);
  EXPECT_EQ(r.manifest["split"]["method"], "files");
  EXPECT_EQ(r.manifest["parts"].size(), 3u);
  auto d = PreparedData::open(dir + "/out");
  EXPECT_EQ(d->docs(Split::kTrain), 50);
  EXPECT_EQ(d->docs(Split::kValidation), 10);
  auto tok = Tokenizer::load(d->tokenizer_path());
  EXPECT_EQ(tok.decode(d->doc(Split::kValidation, 0)), docs[50]);
  EXPECT_EQ(tok.decode(d->doc(Split::kTrain, 30)), docs[30]);
}

TEST(Prepare, InterruptedPrepareIsFinishedByARerun) {
  auto docs = testing::make_docs(90, 14);
  std::string dir = testing::temp_dir("resume");
  for (int f = 0; f < 3; ++f)
    testing::write_text(dir + "/in/f" + std::to_string(f) + ".jsonl", testing::jsonl(docs, f * 30, f * 30 + 30));
  auto o = options(dir + "/in", dir + "/out");
  o.part_bytes = 1;
  prepare_corpus(o);
  std::string full = read_file(dir + "/out/parts/part-00002.train.bin");
  // Simulate a crash while part 2 was written: no manifest, no marker, a short shard.
  fs::remove(dir + "/out/manifest.json");
  fs::remove(dir + "/out/parts/part-00002.json");
  testing::write_text(dir + "/out/parts/part-00002.train.bin", full.substr(0, 10));
  auto msg = error_of([&] { PreparedData::open(dir + "/out"); });
  EXPECT_NE(msg.find("not a complete prepared directory"), std::string::npos) << msg;
  auto r = prepare_corpus(o);
  EXPECT_EQ(r.parts_reused, 2);
  EXPECT_EQ(read_file(dir + "/out/parts/part-00002.train.bin"), full);
  EXPECT_EQ(PreparedData::open(dir + "/out")->docs(Split::kTrain) +
                PreparedData::open(dir + "/out")->docs(Split::kValidation), 90);
}

TEST(PrepareErrors, EmptyCorpusAndOtherInputs) {
  std::string dir = testing::temp_dir("perr");
  testing::write_text(dir + "/blank/a.txt", "\n\n  \n");
  auto msg = error_of([&] { prepare_corpus(options(dir + "/blank", dir + "/o1")); });
  EXPECT_NE(msg.find(dir + "/blank: empty corpus"), std::string::npos) << msg;
  testing::write_text(dir + "/in/a.txt", "some text here");
  prepare_corpus(options(dir + "/in", dir + "/o2"));
  testing::write_text(dir + "/in/b.txt", "more text");
  msg = error_of([&] { prepare_corpus(options(dir + "/in", dir + "/o2")); });
  EXPECT_NE(msg.find("other inputs"), std::string::npos) << msg;
  auto o = options(dir + "/in", dir + "/o2");
  o.force = true;
  EXPECT_EQ(prepare_corpus(o).manifest["counts"]["train"]["docs"].get<int64_t>() +
                prepare_corpus(o).manifest["counts"]["validation"]["docs"].get<int64_t>(), 2);
}

TEST(PrepareErrors, BadLinesFailOrAreCounted) {
  std::string dir = testing::temp_dir("pbad");
  testing::write_text(dir + "/in/a.jsonl", "{\"text\":\"good one\"}\n{\"title\":\"x\"}\n{\"text\":\"good two\"}\n");
  auto msg = error_of([&] { prepare_corpus(options(dir + "/in", dir + "/o")); });
  EXPECT_NE(msg.find(dir + "/in/a.jsonl:2: JSON line has no 'text' field"), std::string::npos) << msg;
  EXPECT_FALSE(path_exists(dir + "/o/manifest.json"));
  auto o = options(dir + "/in", dir + "/o");
  o.corpus_opts.skip_bad_lines = true;
  o.val_fraction = 0;
  auto r = prepare_corpus(o);
  EXPECT_EQ(r.manifest["skipped_lines"], 1);
  EXPECT_EQ(r.manifest["counts"]["train"]["docs"], 2);
}

TEST(PrepareErrors, RunAsksForAnotherTokenizer) {
  std::string dir = testing::temp_dir("tokmis");
  testing::write_text(dir + "/in/a.txt", "some text for the data");
  auto o = options(dir + "/in", dir + "/out");
  o.val_fraction = 0;
  prepare_corpus(o);
  DataConfig cfg;
  cfg.source = "prepared";
  cfg.path = dir + "/out";
  cfg.tokenizer = testing::small_tokenizer();
  EXPECT_EQ(open_prepared_data(cfg)->docs(Split::kTrain), 1);
  testing::write_text(dir + "/other.model", read_file(testing::small_tokenizer()) + "x");
  cfg.tokenizer = dir + "/other.model";
  auto msg = error_of([&] { open_prepared_data(cfg); });
  EXPECT_NE(msg.find(dir + "/out: prepared with another tokenizer"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir + "/other.model"), std::string::npos) << msg;
  cfg.path = dir + "/missing";
  cfg.tokenizer.clear();
  EXPECT_NE(error_of([&] { open_prepared_data(cfg); }).find(dir + "/missing: prepared data directory not found"),
            std::string::npos);
}

}  // namespace
}  // namespace gpas
