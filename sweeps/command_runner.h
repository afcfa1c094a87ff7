// Running external commands (sbatch, squeue, scontrol, scancel) as argument vectors, never through
// a shell, behind an interface so the Slurm backend is tested with a fake as well as for real.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace gpas::sweeps {

struct CommandResult {
  int code = -1;     // exit code; 127 = could not execute; 128+N killed by signal N
  std::string out;   // stdout
  std::string err;   // stderr
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  virtual CommandResult run(const std::vector<std::string>& argv) = 0;
};

// fork + execvp, stdout/stderr captured. A command still running after timeout_s seconds (a hung
// squeue) is killed with its process group: code 124, and err says so; the orchestrator goes on.
std::unique_ptr<CommandRunner> make_process_runner(double timeout_s = 60);

}  // namespace gpas::sweeps
