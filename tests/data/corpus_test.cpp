// Corpus reader tests: plain and gzip (multi-member) input, JSONL text fields, paragraph mode,
// C4 file names, and each bad input's error naming the file and line.
#include "core/data/corpus.h"

#include "tests/data/data_fixture.h"

namespace gpas {
namespace {

using testing::error_of;

std::vector<std::string> read_all(const std::vector<std::string>& paths, CorpusOptions o = {},
                                  int64_t* skipped = nullptr) {
  std::vector<std::string> out;
  for_each_doc(list_corpus(paths), o, [&](const std::string& t) {
    out.push_back(t);
    return true;
  }, skipped);
  return out;
}

TEST(Corpus, GzipAndPlainJsonlGiveTheSameDocuments) {
  auto docs = testing::make_docs(50, 7);
  std::string dir = testing::temp_dir("gz");
  testing::write_text(dir + "/plain/a.jsonl", testing::jsonl(docs, 0, 50));
  testing::write_gz(dir + "/gz/a.jsonl.gz", {testing::jsonl(docs, 0, 20), testing::jsonl(docs, 20, 50)});
  EXPECT_EQ(read_all({dir + "/plain"}), docs);
  EXPECT_EQ(read_all({dir + "/gz"}), docs);  // two gzip members, read one after the other
}

// Larger than the reader's input (256 KiB) and output (1 MiB) buffers, so members and lines
// straddle their edges.
TEST(Corpus, GzipLargerThanTheBuffersGivesEveryDocument) {
  auto docs = testing::make_docs(12000, 11, 40, 60);
  std::string dir = testing::temp_dir("gzbig");
  testing::write_gz(dir + "/a.jsonl.gz", {testing::jsonl(docs, 0, 5000), testing::jsonl(docs, 5000, 5001),
                                          testing::jsonl(docs, 5001, 12000)});
  EXPECT_EQ(read_all({dir}), docs);
}

TEST(Corpus, PlainTextFileAndParagraphModes) {
  std::string dir = testing::temp_dir("text");
  testing::write_text(dir + "/b.txt", "first para\nline two\n\n\n  \nsecond para\r\n\nthird\n");
  testing::write_text(dir + "/a.txt", "only doc");
  testing::write_text(dir + "/.hidden", "skipped");
  CorpusOptions file_mode;
  EXPECT_EQ(read_all({dir}, file_mode),
            (std::vector<std::string>{"only doc", "first para\nline two\n\n\n  \nsecond para\n\nthird"}));
  CorpusOptions para;
  para.doc_mode = DocMode::kParagraph;
  EXPECT_EQ(read_all({dir}, para),
            (std::vector<std::string>{"only doc", "first para\nline two", "second para", "third"}));
}

TEST(Corpus, C4FileNamesCarryTheSplit) {
  std::string dir = testing::temp_dir("c4names");
  testing::write_gz(dir + "/c4-train.00000-of-01024.json.gz", {"{\"text\":\"a\"}\n"});
  testing::write_gz(dir + "/c4-validation.00000-of-00008.json.gz", {"{\"text\":\"b\"}\n"});
  auto files = list_corpus({dir});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].split, SplitHint::kTrain);
  EXPECT_EQ(files[0].format, CorpusFormat::kJsonl);
  EXPECT_EQ(files[1].split, SplitHint::kValidation);
}

TEST(Corpus, NamedTextField) {
  std::string dir = testing::temp_dir("field");
  testing::write_text(dir + "/x.jsonl", "{\"body\":\"hello\"}\n\n{\"body\":\"world\"}\n");
  CorpusOptions o;
  o.text_field = "body";
  EXPECT_EQ(read_all({dir}, o), (std::vector<std::string>{"hello", "world"}));
}

TEST(CorpusErrors, MissingPath) {
  auto msg = error_of([] { list_corpus({"/nonexistent/gpas/corpus"}); });
  EXPECT_EQ(msg, "/nonexistent/gpas/corpus: corpus path not found");
}

TEST(CorpusErrors, EmptyDirectory) {
  std::string dir = testing::temp_dir("empty");
  EXPECT_NE(error_of([&] { list_corpus({dir}); }).find(dir + ": empty corpus"), std::string::npos);
}

TEST(CorpusErrors, CorruptGzipMemberNamesFileAndLine) {
  auto docs = testing::make_docs(400, 8, 50, 60);
  std::string dir = testing::temp_dir("corrupt");
  std::string path = dir + "/c4-train.00000-of-00001.json.gz";
  testing::write_gz(path, {testing::jsonl(docs, 0, 200), testing::jsonl(docs, 200, 400)});
  std::string bytes = testing::read_bytes(path);
  // Damage the second member (the first stays readable): its first deflate block gets the
  // reserved block type 11.
  size_t second = bytes.find("\x1f\x8b\x08", 10);
  ASSERT_NE(second, std::string::npos);
  bytes[second + 10] = char(0x07);
  testing::write_text(path, bytes);
  auto msg = error_of([&] { read_all({dir}); });
  EXPECT_NE(msg.find(path + ":201: corrupt gzip data"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(path, path.size()), std::string::npos) << "path named twice: " << msg;
  // Truncated file: the end of the last member is missing.
  testing::write_text(path, bytes.substr(0, second - 100));
  msg = error_of([&] { read_all({dir}); });
  EXPECT_EQ(msg.rfind(path + ":", 0), 0u) << msg;
  EXPECT_NE(msg.find("corrupt gzip data"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(path, path.size()), std::string::npos) << "path named twice: " << msg;
}

// gzip itself skips zero bytes after the last member; anything else there is damage (zlib's
// gzread ignores it, and gpas read such files without a word before).
TEST(CorpusErrors, BytesAfterTheLastGzipMemberAreDamageUnlessZeros) {
  auto docs = testing::make_docs(300, 9, 50, 60);
  std::string dir = testing::temp_dir("trailing");
  std::string path = dir + "/a.jsonl.gz";
  testing::write_gz(path, {testing::jsonl(docs, 0, 300)});
  std::string bytes = testing::read_bytes(path);
  testing::write_text(path, bytes + std::string(70000, '\0'));
  EXPECT_EQ(read_all({dir}), docs);
  testing::write_text(path, bytes + std::string(10, '\0') + "PK\x03\x04 not gzip");
  auto msg = error_of([&] { read_all({dir}); });
  EXPECT_NE(msg.find(path + ":301: corrupt gzip data (bytes after a gzip member at byte " +
                     std::to_string(bytes.size() + 10) + " are not another member)"),
            std::string::npos) << msg;
  testing::write_text(path, bytes + "\x1f");  // half a header
  EXPECT_NE(error_of([&] { read_all({dir}); }).find(":301: corrupt gzip data"), std::string::npos);
}

TEST(CorpusErrors, LineWithoutTextFieldAndSkipping) {
  std::string dir = testing::temp_dir("badline");
  testing::write_text(dir + "/d.jsonl",
                      "{\"text\":\"a\"}\n{\"txt\":\"b\"}\nnot json\n{\"text\":5}\n{\"text\":\"c\"}\n");
  auto msg = error_of([&] { read_all({dir}); });
  EXPECT_NE(msg.find(dir + "/d.jsonl:2: JSON line has no 'text' field"), std::string::npos) << msg;
  CorpusOptions o;
  o.skip_bad_lines = true;
  int64_t skipped = 0;
  EXPECT_EQ(read_all({dir}, o, &skipped), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(skipped, 3);
}

}  // namespace
}  // namespace gpas
