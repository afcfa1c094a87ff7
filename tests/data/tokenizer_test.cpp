// Tokenizer tests: round trip through a freshly trained model, T5-style EOS and ids, BPE
// training, LLaMA-style ids (pad falls back to EOS), and the errors for a missing or
// non-SentencePiece file.
#include "core/data/tokenizer.h"

#include <algorithm>

#include "core/data/loader.h"
#include "tests/data/data_fixture.h"

namespace gpas {
namespace {

using testing::error_of;

TEST(Tokenizer, RoundTripWithEos) {
  auto tok = Tokenizer::load(testing::small_tokenizer());
  EXPECT_EQ(tok.vocab_size(), 400);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  for (const auto& doc : testing::make_docs(20, 99)) {
    auto ids = tok.encode_doc(doc);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.back(), tok.eos_id());
    for (int32_t id : ids) EXPECT_LT(id, tok.vocab_size());
    EXPECT_EQ(tok.decode(ids), doc);
  }
  EXPECT_EQ(tok.sha256(), tokenizer_sha256(testing::small_tokenizer()));
  EXPECT_EQ(tok.sha256().size(), 64u);
}

TEST(Tokenizer, TrainsBpe) {
  auto docs = testing::make_docs(200, 3);
  std::string out = testing::temp_dir("bpe") + "/bpe.model";
  size_t i = 0;
  TokenizerTrainOptions o;
  o.vocab_size = 300;
  o.character_coverage = 1.0;
  o.model_type = "bpe";
  train_tokenizer([&](std::string& t) { return i < docs.size() ? (t = docs[i++], true) : false; },
                  out, o);
  auto tok = Tokenizer::load(out);
  EXPECT_EQ(tok.vocab_size(), 300);
  EXPECT_EQ(tok.decode(tok.encode_doc(docs[5])), docs[5]);
}

// A LLaMA-style model (unk 0, bos 1, eos 2, no pad): documents end in EOS 2, no BOS is added, and
// padding falls back to EOS, in the tokenizer and in a directory prepared with it.
TEST(Tokenizer, LlamaIdsPadWithEos) {
  auto docs = testing::make_docs(200, 4);
  std::string dir = testing::temp_dir("llama");
  size_t i = 0;
  TokenizerTrainOptions o;
  o.vocab_size = 300;
  o.character_coverage = 1.0;
  o.unk_id = 0;
  o.bos_id = 1;
  o.eos_id = 2;
  o.pad_id = -1;
  train_tokenizer([&](std::string& t) { return i < docs.size() ? (t = docs[i++], true) : false; },
                  dir + "/llama.model", o);
  auto tok = Tokenizer::load(dir + "/llama.model");
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), 2);
  auto ids = tok.encode_doc(docs[7]);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_NE(ids.front(), 1);  // no BOS: documents are encoded the T5 way
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 1);
  EXPECT_EQ(tok.decode(ids), docs[7]);

  testing::write_text(dir + "/in/a.jsonl", testing::jsonl(docs, 0, 50));
  PrepareOptions p;
  p.corpus = {dir + "/in"};
  p.tokenizer = dir + "/llama.model";
  p.out = dir + "/out";
  p.val_fraction = 0;
  prepare_corpus(p);
  auto d = PreparedData::open(p.out);
  EXPECT_EQ(d->eos_id(), 2);
  EXPECT_EQ(d->pad_id(), 2);
  StreamSpec s;
  s.micro_batch = 4;
  s.seq_len = 1024;  // longer than any document: every row ends in padding
  TokenBatch b;
  ASSERT_TRUE(make_prepared_stream(d, {}, s)->next(b));
  EXPECT_EQ(b.inputs[s.seq_len - 1], 2);
  EXPECT_EQ(b.targets[s.seq_len - 1], -1);

  o.eos_id = -1;
  auto msg = error_of([&] { train_tokenizer([](std::string&) { return false; }, dir + "/x.model", o); });
  EXPECT_NE(msg.find("eos_id and unk_id must be set"), std::string::npos) << msg;
}

TEST(Tokenizer, BadFilesNameThePath) {
  std::string dir = testing::temp_dir("badtok");
  EXPECT_NE(error_of([&] { Tokenizer::load(dir + "/none.model"); }).find(dir + "/none.model: tokenizer file not found"),
            std::string::npos);
  testing::write_text(dir + "/junk.model", "this is not a protobuf at all\n");
  auto msg = error_of([&] { Tokenizer::load(dir + "/junk.model"); });
  EXPECT_NE(msg.find(dir + "/junk.model: not a SentencePiece model"), std::string::npos) << msg;
  auto empty = error_of([&] {
    train_tokenizer([](std::string&) { return false; }, dir + "/x.model", {});
  });
  EXPECT_NE(empty.find("empty"), std::string::npos) << empty;
}

}  // namespace
}  // namespace gpas
