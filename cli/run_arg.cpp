// MODEL / RUN arguments (run_arg.h).
#include "cli/run_arg.h"

#include <filesystem>

#include "cli/results_commands.h"
#include "core/common/error.h"
#include "results/store.h"
#include "sweeps/run_state.h"

namespace gpas::cli {

std::string resolve_run_arg(const std::string& arg, const std::string& workdir) {
  if (arg.rfind("run:", 0) == 0 || std::filesystem::exists(arg)) return arg;
  auto store = open_store(workdir, false);
  store->ingest_workdir(workdir);
  auto r = store->find_run(arg);
  if (!r)
    throw Error(arg + ": neither a path (run directory, checkpoint, export) nor a run in " +
                store->path() + " (see `gpas runs list`)");
  return r->run_dir;
}

void refuse_live_run(const std::string& run_dir, const std::string& what) {
  if (auto info = sweeps::read_run(run_dir, 600); info.state == sweeps::State::Running)
    throw Error(run_dir + ": the run is still training (" + info.host + ", pid " +
                std::to_string(info.pid) + "); " + what + " when it has finished");
}

}  // namespace gpas::cli
