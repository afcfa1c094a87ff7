// MODEL / RUN arguments (run_arg.h).
#include "cli/run_arg.h"

#include <filesystem>

#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "results/store.h"
#include "sweeps/run_state.h"

namespace gpas::cli {

std::string resolve_run_arg(const std::string& arg, const std::string& workdir) {
  if (arg.rfind("run:", 0) == 0 || std::filesystem::exists(arg)) return arg;
  auto store = open_store(workdir, false);
  store->sync_workdir(workdir);
  auto r = store->find_run(arg);
  if (!r)
    throw Error(arg + ": neither a path (run directory, checkpoint, export) nor a run in " +
                store->path() + " (see `gpas runs list`)");
  return r->run_dir;
}

void refuse_live_run(const std::string& run_dir, const std::string& what) {
  if (LockHolder h = lock_holder_of(run_lock_path(run_dir)); h.held) throw Error(run_busy_message(run_dir, h, what));
  // A trainer on another host may sit on a filesystem whose locks do not reach here: a journal
  // fresher than 10 minutes counts as a live trainer (the sweeps' rule, run_state.h).
  if (auto info = sweeps::read_run(run_dir, 600); info.state == sweeps::State::Running) {
    LockHolder h{true, static_cast<long>(info.pid), info.host, ""};
    throw Error(run_busy_message(run_dir, h, what));
  }
}

}  // namespace gpas::cli
