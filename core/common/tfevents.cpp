// TensorBoard event files (tfevents.h): a protobuf encoder for exactly the messages written, the
// record framing and its CRC-32C.
#include "core/common/tfevents.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/common/error.h"

namespace gpas {

namespace {

// CRC-32C lookup table, reflected polynomial 0x82F63B78.
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}

// The protobuf wire format, as far as these messages need it.
struct Proto {
  std::string buf;
  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf.push_back(char((v & 0x7F) | 0x80));
      v >>= 7;
    }
    buf.push_back(char(v));
  }
  void key(int field, int wire_type) { varint(uint64_t(field) << 3 | uint64_t(wire_type)); }
  void int64(int field, int64_t v) {  // int64 / int32 / bool / enum: a varint (negatives as 10 bytes)
    key(field, 0);
    varint(uint64_t(v));
  }
  void f64(int field, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    key(field, 1);
    put_le(buf, bits, 8);
  }
  void f32(int field, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    key(field, 5);
    put_le(buf, bits, 4);
  }
  void bytes(int field, std::string_view v) {  // string, bytes, an embedded message
    key(field, 2);
    varint(v.size());
    buf.append(v.data(), v.size());
  }
};

// google.protobuf.Value for one config entry.
std::string proto_value(const nlohmann::json& v) {
  Proto p;
  if (v.is_boolean()) p.int64(4, v.get<bool>() ? 1 : 0);
  else if (v.is_number()) p.f64(2, v.get<double>());
  else if (v.is_string()) p.bytes(3, v.get<std::string>());
  else p.bytes(3, v.dump());  // null, a list
  return p.buf;
}

void flatten(const nlohmann::json& j, const std::string& prefix, Proto& session_start_info) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string k = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      flatten(*it, k, session_start_info);
      continue;
    }
    Proto entry;  // map<string, Value> entry: 1 key, 2 value
    entry.bytes(1, k);
    entry.bytes(2, proto_value(*it));
    session_start_info.bytes(1, entry.buf);
  }
}

std::string event_with_summary(double wall_time, int64_t step, const std::string& value) {
  Proto summary;
  summary.bytes(1, value);
  Proto ev;
  ev.f64(1, wall_time);
  ev.int64(2, step);
  ev.bytes(5, summary.buf);
  return ev.buf;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (unsigned char b : data) crc = kCrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(std::string_view data) {
  uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

std::string tf_record(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_le(out, data.size(), 8);
  put_le(out, masked_crc32c(out), 4);
  out.append(data.data(), data.size());
  put_le(out, masked_crc32c(data), 4);
  return out;
}

std::string event_file_version(double wall_time) {
  Proto ev;
  ev.f64(1, wall_time);
  ev.int64(2, 0);
  ev.bytes(3, "brain.Event:2");
  return ev.buf;
}

std::string event_scalar(double wall_time, int64_t step, std::string_view tag, float value) {
  Proto v;
  v.bytes(1, tag);
  v.f32(2, value);
  return event_with_summary(wall_time, step, v.buf);
}

std::string event_hparams(double wall_time, const nlohmann::json& config) {
  Proto ssi;  // SessionStartInfo
  if (config.is_object()) flatten(config, "", ssi);
  Proto plugin;  // HParamsPluginData: version 0 (proto3's default, written anyway), session_start_info
  plugin.int64(1, 0);
  plugin.bytes(3, ssi.buf);
  Proto pd;  // SummaryMetadata.PluginData
  pd.bytes(1, "hparams");
  pd.bytes(2, plugin.buf);
  Proto md;  // SummaryMetadata
  md.bytes(1, pd.buf);
  Proto v;  // Summary.Value
  v.bytes(1, "_hparams_/session_start_info");
  v.bytes(9, md.buf);
  return event_with_summary(wall_time, 0, v.buf);
}

EventWriter::EventWriter(const std::string& dir, double wall_time, const std::string& host) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string base = (fs::path(dir) / ("events.out.tfevents." +
                            std::to_string(int64_t(std::floor(wall_time))) + "." + host)).string();
  int fd = -1;
  for (int n = 0; fd < 0 && n < 1000; ++n) {
    path_ = n == 0 ? base : base + "." + std::to_string(n);
    fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0 || !(f_ = ::fdopen(fd, "wb"))) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    throw Error(path_ + ": cannot make the TensorBoard event file (" + std::strerror(err) + ")");
  }
  std::setvbuf(f_, nullptr, _IOFBF, 1 << 16);
  append(event_file_version(wall_time));
}

EventWriter::~EventWriter() {
  if (f_) std::fclose(f_);
}

void EventWriter::append(std::string_view event) {
  std::string rec = tf_record(event);
  std::fwrite(rec.data(), 1, rec.size(), f_);
}

void EventWriter::flush() { std::fflush(f_); }

bool EventWriter::journal_line(const nlohmann::json& line) {
  if (!line.is_object()) return false;
  const std::string type = line.value("type", "");
  const double time = line.contains("time") && line["time"].is_number() ? line["time"].get<double>() : 0.0;
  if (type == "metric") {
    if (!line.contains("key") || !line["key"].is_string() || !line.contains("step") ||
        !line["step"].is_number_integer())
      return false;
    // A NaN or infinite value is written to the journal as null (JSON has neither).
    const auto& v = line.contains("value") ? line["value"] : nlohmann::json();
    float value = v.is_number() ? float(v.get<double>()) : NAN;
    append(event_scalar(time, line["step"].get<int64_t>(), line["key"].get<std::string>(), value));
    return true;
  }
  if (type == "start" && line.contains("config") && line["config"].is_object()) {
    append(event_hparams(time, line["config"]));
    return true;
  }
  return false;
}

}  // namespace gpas
