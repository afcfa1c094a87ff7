// Small file helpers: whole-file reads and atomic writes (temp file, fsync, rename, fsync dir).
// Nothing here knows about runs or configs.
#pragma once
#include <cstdint>
#include <string>

namespace gpas {

std::string read_file(const std::string& path);  // throws gpas::Error naming the path
// Writes data to path so that a reader sees either the old file or the whole new one.
void write_file_atomic(const std::string& path, const std::string& data);
void make_dirs(const std::string& path);
bool path_exists(const std::string& path);
std::string hostname();
std::string now_iso8601();  // UTC, seconds
double now_seconds();       // wall clock, for durations and heartbeats

}  // namespace gpas

namespace gpas {
// fsyncs `tmp`, renames it to `path` and fsyncs the directory: for files written by other
// libraries (LibTorch archives) that must appear atomically.
void commit_file(const std::string& tmp, const std::string& path);
}  // namespace gpas
