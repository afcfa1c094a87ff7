// A one-line progress bar on stderr for long data jobs, drawn only when stderr is a terminal
// (logs and pipes get nothing). Leaves out ETA smoothing and multi-line layouts.
#pragma once
#include <cstdint>
#include <string>

namespace gpas {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total, bool enabled);
  ~ProgressBar();
  // done: units out of total; note: a short text after the bar (documents, tokens, speed).
  void update(uint64_t done, const std::string& note);
  void finish();

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  double start_, last_ = 0;
  bool finished_ = false;
};

}  // namespace gpas
