// One orchestrator per sweep and workdir: an flock()ed file <workdir>/sweeps/<name>.lock that holds
// the orchestrator's pid, so `gpas sweep status/cancel` in another terminal can find it. The lock
// goes away with the process however it dies; nothing here signals workers.
#pragma once
#include <memory>
#include <string>

#include "core/common/file_lock.h"

namespace gpas::sweeps {

std::string lock_path(const std::string& workdir, const std::string& sweep);

class SweepLock {
 public:
  // Takes the lock or throws gpas::Error naming the pid that holds it; status_cmd/cancel_cmd:
  // the pasteable commands the error suggests (default: bare `gpas sweep status/cancel`).
  explicit SweepLock(const std::string& path, const std::string& status_cmd = "gpas sweep status",
                     const std::string& cancel_cmd = "gpas sweep cancel");

 private:
  std::unique_ptr<FileLock> lock_;
};

// The pid of the live orchestrator holding the lock; 0 if none holds it.
long lock_holder(const std::string& path);

}  // namespace gpas::sweeps
