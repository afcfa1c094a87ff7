// TensorBoard event files (core/common/tfevents.h): CRC-32C on published vectors, the record
// framing, the Events byte for byte, and the journal's tee into <run_dir>/tb/.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "core/common/journal.h"
#include "core/common/tfevents.h"

namespace fs = std::filesystem;
using namespace gpas;

namespace {
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(char(x));
  return s;
}
uint32_t le32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | uint8_t(s[at + i]);
  return v;
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("gpas_tfevents_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(TfEvents, Crc32cKnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);           // the check value of CRC-32C
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);  // 32 bytes of ones
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(char(i));
  EXPECT_EQ(crc32c(inc), 0x46DD794Eu);  // 0, 1, ..., 31
  EXPECT_EQ(crc32c("6789", crc32c("12345")), 0xE3069283u);  // goes on from a previous result
  // ((c >> 15) | (c << 17)) + 0xA282EAD8 of 0xE3069283
  EXPECT_EQ(masked_crc32c("123456789"), 0xC78AB0E5u);
}

TEST(TfEvents, RecordFraming) {
  const std::string data = "hello, tensorboard";
  const std::string rec = tf_record(data);
  ASSERT_EQ(rec.size(), 8 + 4 + data.size() + 4);
  EXPECT_EQ(rec.substr(0, 8), bytes({18, 0, 0, 0, 0, 0, 0, 0}));  // uint64 length, little-endian
  EXPECT_EQ(le32(rec, 8), masked_crc32c(rec.substr(0, 8)));
  EXPECT_EQ(rec.substr(12, data.size()), data);
  EXPECT_EQ(le32(rec, 12 + data.size()), masked_crc32c(data));
  EXPECT_EQ(tf_record("").size(), 16u);
}

TEST(TfEvents, EventsByteForByte) {
  // Event{1 wall_time 1.5 (fixed64), 2 step 0 (varint), 3 file_version (length-delimited)}
  EXPECT_EQ(event_file_version(1.5), bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0x00, 0x1A, 13}) +
                                         "brain.Event:2");
  // Event{wall_time 1.5, step 300, 5 summary{1 value{1 tag "a", 2 simple_value 1.0f (fixed32)}}}
  EXPECT_EQ(event_scalar(1.5, 300, "a", 1.0f),
            bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0xAC, 0x02, 0x2A, 10, 0x0A, 8, 0x0A, 1}) + "a" +
                bytes({0x15, 0, 0, 0x80, 0x3F}));
  // hparams: summary.value{tag, 9 metadata{1 plugin_data{1 "hparams", 2 content{1 version 0,
  // 3 session_start_info{1 {1 key, 2 Value}}}}}}: the dotted key and each kind of Value.
  std::string h = event_hparams(0, {{"model", {{"size", "tiny"}, {"d", 64}}}, {"flag", true}});
  EXPECT_NE(h.find("_hparams_/session_start_info"), std::string::npos);
  EXPECT_NE(h.find(bytes({0x0A, 7}) + "hparams"), std::string::npos);
  EXPECT_NE(h.find(bytes({0x0A, 10}) + "model.size" + bytes({0x12, 6, 0x1A, 4}) + "tiny"), std::string::npos);
  EXPECT_NE(h.find(bytes({0x0A, 7}) + "model.d" + bytes({0x12, 9, 0x11, 0, 0, 0, 0, 0, 0, 0x50, 0x40})),
            std::string::npos);  // number_value 64.0
  EXPECT_NE(h.find(bytes({0x0A, 4}) + "flag" + bytes({0x12, 2, 0x20, 1})), std::string::npos);
}

TEST(TfEvents, WriterNamesFilesAndNeverShares) {
  fs::path d = temp_dir("writer");
  std::string p1, p2;
  {
    EventWriter a((d / "tb").string(), 1700000000.25, "hostx");
    EventWriter b((d / "tb").string(), 1700000000.75, "hostx");  // the same second
    p1 = a.path();
    p2 = b.path();
    a.append(event_scalar(1700000001, 1, "k", 2.0f));
  }
  EXPECT_EQ(fs::path(p1).filename(), "events.out.tfevents.1700000000.hostx");
  EXPECT_EQ(fs::path(p2).filename(), "events.out.tfevents.1700000000.hostx.1");
  EXPECT_EQ(slurp(p1), tf_record(event_file_version(1700000000.25)) +
                           tf_record(event_scalar(1700000001, 1, "k", 2.0f)));
  EXPECT_EQ(slurp(p2), tf_record(event_file_version(1700000000.75)));
  fs::remove_all(d);
}

TEST(TfEvents, JournalTeesMetricsAndConfig) {
  fs::path d = temp_dir("journal");
  {
    Journal j((d / "journal.jsonl").string());
    j.heartbeat(0);  // no event file for lines that are not metrics
    EXPECT_FALSE(fs::exists(d / "tb"));
    j.write({{"type", "start"}, {"run_id", "r"}, {"config", {{"train", {{"lr", 0.001}}}}}});
    j.metric(5, "train/loss", 3.25);
    j.metric(5, "train/lr", NAN);  // the journal says null, the event file NaN
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(d / "tb")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("events.out.tfevents.", 0), 0u);
  auto lines = read_journal((d / "journal.jsonl").string());
  ASSERT_EQ(lines.size(), 4u);
  std::string want = tf_record(event_file_version(lines[1]["time"].get<double>())) +
                     tf_record(event_hparams(lines[1]["time"].get<double>(), lines[1]["config"])) +
                     tf_record(event_scalar(lines[2]["time"].get<double>(), 5, "train/loss", 3.25f)) +
                     tf_record(event_scalar(lines[3]["time"].get<double>(), 5, "train/lr", NAN));
  EXPECT_EQ(slurp(files[0]), want);
  {
    Journal again((d / "journal.jsonl").string());  // a resumed run: a second file beside the first
    again.metric(6, "train/loss", 3.0);
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(d / "tb"), fs::directory_iterator()), 2);
  Journal disabled("");
  disabled.metric(1, "train/loss", 1.0);  // ranks other than 0: nothing at all
  fs::remove_all(d);
}
