// gpas's one error type: a message a user can act on (what, where, what to do) and an exit code.
// Library code throws it; the CLI catches it once, prints it and exits with the code.
#pragma once
#include <stdexcept>
#include <string>

namespace gpas {

// Exit codes that mean something to scripts and schedulers.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // bad input or a failed operation
  kExitUsage = 2,        // bad command line (CLI11 uses 2 too)
  kExitDiverged = 3,     // the run ended with status diverged
  kExitCancelled = 130,  // stopped by SIGINT/SIGTERM after a checkpoint
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, int exit_code = kExitError)
      : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// "file:line: message" when the line is known (line is 1-based, 0 = unknown).
std::string at(const std::string& file, int line, const std::string& msg);

}  // namespace gpas
