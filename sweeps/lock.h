// One orchestrator per sweep and workdir: an flock()ed file <workdir>/sweeps/<name>.lock that holds
// the orchestrator's pid, so `gpas sweep status/cancel` in another terminal can find it. The lock
// goes away with the process however it dies; nothing here signals workers.
#pragma once
#include <string>

namespace gpas::sweeps {

std::string lock_path(const std::string& workdir, const std::string& sweep);

class SweepLock {
 public:
  // Takes the lock or throws gpas::Error naming the pid that holds it.
  explicit SweepLock(const std::string& path);
  ~SweepLock();
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  int fd_ = -1;
  std::string path_;
};

// The pid of the live orchestrator holding the lock; 0 if none holds it.
long lock_holder(const std::string& path);

}  // namespace gpas::sweeps
