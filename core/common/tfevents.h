// TensorBoard event files, written without TensorFlow or protobuf: TensorBoard, W&B
// (sync_tensorboard) and Aim (aim convert tensorboard) read a directory of
// events.out.tfevents.<unix seconds>.<host> files as one run.
//
// A file is a sequence of records, little-endian:
//   uint64 length | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
// CRC-32C is Castagnoli's (reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF);
// masked(c) = ((c >> 15) | (c << 17)) + 0xA282EAD8. Each record's data is one serialized Event
// (tensorboard/compat/proto/event.proto, summary.proto; plugins/hparams/plugin_data.proto):
//   Event    1 wall_time double, 2 step int64, 3 file_version string, 5 summary Summary
//   Summary  1 repeated Value
//   Value    1 tag string, 2 simple_value float, 9 metadata SummaryMetadata
//   SummaryMetadata 1 plugin_data { 1 plugin_name string, 2 content bytes }
//   HParamsPluginData 1 version int32 (0), 3 session_start_info { 1 map<string, google.protobuf.Value> hparams }
//   google.protobuf.Value 2 number_value double, 3 string_value string, 4 bool_value bool
// The first record is Event{wall_time, step 0, file_version "brain.Event:2"}; a metric point is an
// Event with one simple_value; the run's config is a Value tagged "_hparams_/session_start_info"
// (what TensorBoard's HParams view and torch.utils.tensorboard write).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gpas {

uint32_t crc32c(std::string_view data, uint32_t crc = 0);  // crc: a previous call's result, to go on
uint32_t masked_crc32c(std::string_view data);
// One record around data: length, its masked CRC, data, the data's masked CRC.
std::string tf_record(std::string_view data);

// Serialized Events.
std::string event_file_version(double wall_time);
std::string event_scalar(double wall_time, int64_t step, std::string_view tag, float value);
// config flattened to dotted keys (model.size, train.lr, ...): numbers, strings and booleans as
// themselves, lists and nulls as their JSON text.
std::string event_hparams(double wall_time, const nlohmann::json& config);

// Appends records to a new event file in dir (made if missing). The name is
// events.out.tfevents.<unix seconds of wall_time>.<host>, with .1, .2, ... added when that file
// exists (two writers in one second): a file is never appended to by a second writer. Writes are
// buffered; flush() hands them to the OS. Throws gpas::Error when the file cannot be made.
class EventWriter {
 public:
  EventWriter(const std::string& dir, double wall_time, const std::string& host);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  const std::string& path() const { return path_; }
  void append(std::string_view event);  // one record
  void flush();
  // A journal line (journal.h): a metric line becomes a scalar, a start line's config hparams;
  // other lines are left out. Returns whether it wrote.
  bool journal_line(const nlohmann::json& line);

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
};

}  // namespace gpas
