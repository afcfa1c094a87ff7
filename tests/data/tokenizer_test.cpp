// Tokenizer tests: round trip through a freshly trained model, T5-style EOS and ids, BPE
// training, and the errors for a missing or non-SentencePiece file.
#include "core/data/tokenizer.h"

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
