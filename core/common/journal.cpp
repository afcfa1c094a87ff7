#include "core/common/journal.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/tfevents.h"

namespace gpas {

Journal::Journal() = default;

Journal::Journal(const std::string& path) : path_(path) {
  if (path.empty()) return;  // disabled (ranks other than 0)
  // Continue the sequence of an existing journal (a resumed run appends to it).
  for (const auto& j : read_journal(path))
    if (j.contains("seq")) seq_ = std::max<int64_t>(seq_, j["seq"].get<int64_t>() + 1);
  f_ = std::fopen(path.c_str(), "a+");
  if (!f_) throw Error(path + ": cannot open the run journal for appending");
  // A writer killed mid-line leaves a torn last line: end it so the next line stands alone.
  if (std::fseek(f_, -1, SEEK_END) == 0 && std::fgetc(f_) != '\n') std::fputc('\n', f_);
  std::fseek(f_, 0, SEEK_END);
}

Journal::~Journal() {
  if (f_) std::fclose(f_);
}

void Journal::write(nlohmann::json obj) {
  if (!f_) return;
  std::lock_guard<std::mutex> lock(mu_);
  obj["seq"] = seq_++;
  obj["time"] = now_seconds();
  std::string line = obj.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fflush(f_);
  const std::string type = obj.value("type", "");
  if (type == "status") ::fsync(fileno(f_));
  tee_to_tensorboard(obj, type);
}

void Journal::tee_to_tensorboard(const nlohmann::json& line, const std::string& type) {
  if (tb_failed_) return;
  if (!tb_ && (type == "metric" || type == "start")) {
    const auto dir = std::filesystem::path(path_).parent_path() / "tb";
    try {
      tb_ = std::make_unique<EventWriter>(dir.string(), line["time"].get<double>(), hostname());
    } catch (const std::exception& e) {  // the run goes on: the journal is what counts
      tb_failed_ = true;
      spdlog::warn("no TensorBoard event file for this run: {}", e.what());
      return;
    }
  }
  if (!tb_) return;
  tb_->journal_line(line);
  tb_->flush();  // where the journal line was flushed
}

void Journal::metric(int64_t step, const std::string& key, double value) {
  write({{"type", "metric"}, {"step", step}, {"key", key}, {"value", value}});
}

void Journal::layer(int64_t step, int layer, const std::string& kind, double value) {
  write({{"type", "layer"}, {"step", step}, {"layer", layer}, {"kind", kind}, {"value", value}});
}

void Journal::artifact(int64_t step, const std::string& kind, const std::string& path,
                       int64_t bytes) {
  write({{"type", "artifact"}, {"step", step}, {"kind", kind}, {"path", path}, {"bytes", bytes}});
}

void Journal::heartbeat(int64_t step) { write({{"type", "heartbeat"}, {"step", step}}); }

void Journal::status(const std::string& status, int64_t step, const std::string& error) {
  nlohmann::json j = {{"type", "status"}, {"status", status}, {"step", step}};
  if (!error.empty()) j["error"] = error;
  write(j);
}

namespace {
// The keys every reader relies on, with the type they must have.
void check_types(const nlohmann::json& j, const std::string& path, int64_t lineno) {
  auto bad = [&](const char* key, const char* want) {
    throw Error(path + ":" + std::to_string(lineno) + ": key \"" + key + "\" should be " + want +
                ", is " + j[key].dump() + "; the journal is damaged: fix or delete that line (the "
                "run's checkpoints are not affected), then run again");
  };
  for (const char* k : {"seq", "step", "attempt", "pid", "layer", "bytes"})
    if (j.contains(k) && !j[k].is_number_integer()) bad(k, "an integer");
  for (const char* k : {"type", "status", "run_id", "host", "key", "kind", "path", "error", "name"})
    if (j.contains(k) && !j[k].is_string()) bad(k, "a string");
  if (j.contains("time") && !j["time"].is_number()) bad("time", "a number");
}
}  // namespace

std::vector<nlohmann::json> read_journal(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  if (!in) return out;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) continue;  // torn line from a killed writer
    check_types(j, path, lineno);
    out.push_back(std::move(j));
  }
  return out;
}

bool JournalTail::finished() const {
  std::string s = status.is_object() ? status.value("status", "") : "";
  return s == "completed" || s == "diverged";
}

double JournalTail::num_of(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

int64_t JournalTail::int_of(const nlohmann::json& j, const char* key, int64_t dflt) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : dflt;
}

JournalTail journal_tail(const std::string& path) {
  JournalTail t;
  for (auto& j : read_journal(path)) {
    std::string type = j.value("type", "");
    if (type == "status") t.status = std::move(j);
    else if (type == "summary") t.summary = std::move(j);
  }
  return t;
}

}  // namespace gpas
