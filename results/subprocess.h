// Runs a program with an argument vector (no shell), feeds it stdin and collects stdout/stderr,
// with a time limit. Used for gnuplot and the optional Chromium render check. Leaves out
// environment changes and pseudo-terminals.
#pragma once
#include <string>
#include <vector>

namespace gpas::results {

struct ProcessResult {
  int exit_code = -1;     // -1: killed by a signal or by the time limit
  bool timed_out = false;
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "",
                          int timeout_s = 120);
// The first of names found on PATH (full path), or "".
std::string find_program(const std::vector<std::string>& names);

}  // namespace gpas::results
