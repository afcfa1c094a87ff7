// flock()-based sweep lock with the holder's pid inside.
#include "sweeps/lock.h"

#include <filesystem>

#include "core/common/error.h"

namespace gpas::sweeps {

std::string lock_path(const std::string& workdir, const std::string& sweep) {
  return (std::filesystem::path(workdir.empty() ? "." : workdir) / "sweeps" / (sweep + ".lock")).string();
}

SweepLock::SweepLock(const std::string& path, const std::string& status_cmd, const std::string& cancel_cmd)
    : lock_(FileLock::try_take(path)) {
  if (!lock_)
    throw Error("this sweep is already running (orchestrator " + describe(lock_holder_of(path)) + ", lock " +
                path + "); watch it with `" + status_cmd + "`, stop it with `" + cancel_cmd + "`");
}

long lock_holder(const std::string& path) {
  LockHolder h = lock_holder_of(path);
  return !h.held ? 0 : h.pid > 0 ? h.pid : -1;
}

}  // namespace gpas::sweeps
