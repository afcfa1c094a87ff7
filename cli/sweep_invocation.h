// The invocation of a sweep's last `gpas sweep run` (<workdir>/sweeps/<name>.run.json): its --set
// overrides, device and backend options, so that `sweep status`, `sweep cancel` and a plain
// `sweep run FILE --workdir W` see the same jobs. Options given on the command line win, by group
// (sets; device: --cpu --gpus --gpus-per-job; backend: --backend and the Slurm options).
#pragma once
#include <functional>
#include <string>

#include "cli/sweep_common.h"

namespace gpas::cli {

std::string invocation_path(const std::string& workdir, const std::string& sweep);
void save_invocation(const std::string& sweep, const SweepRunArgs& a);
// Fills the groups of `a` with no option on the command line (given("--cpu") false) from the
// record; returns false if there is none.
bool apply_invocation(const std::string& sweep, SweepRunArgs& a,
                      const std::function<bool(const char*)>& given);
// "gpas sweep VERB FILE --workdir W", quoted for a POSIX shell; rerun_hint: VERB run, the
// command that continues a sweep.
std::string sweep_command(const std::string& verb, const std::string& file, const std::string& workdir);
inline std::string rerun_hint(const std::string& file, const std::string& workdir) {
  return sweep_command("run", file, workdir);
}

}  // namespace gpas::cli
