// flock()-based sweep lock with the holder's pid inside.
#include "sweeps/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/fs.h"

namespace gpas::sweeps {

std::string lock_path(const std::string& workdir, const std::string& sweep) {
  return (std::filesystem::path(workdir.empty() ? "." : workdir) / "sweeps" / (sweep + ".lock")).string();
}

SweepLock::SweepLock(const std::string& path) : path_(path) {
  make_dirs(std::filesystem::path(path).parent_path().string());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path + ": cannot open the sweep lock");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    long pid = lock_holder(path);
    throw Error("this sweep is already running (orchestrator pid " + std::to_string(pid) + ", lock " + path +
                "); watch it with `gpas sweep status`, stop it with `gpas sweep cancel`");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0)
    throw Error(path + ": cannot write the sweep lock");
}

SweepLock::~SweepLock() {
  if (fd_ >= 0) {
    if (::ftruncate(fd_, 0) != 0) {
      // Nothing to do: the lock itself is released by close() below.
    }
    ::close(fd_);
  }
}

long lock_holder(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  long pid = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);  // we could take it: nobody holds it
  } else {
    char buf[32] = {0};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    if (n > 0) pid = std::strtol(buf, nullptr, 10);
    if (pid == 0) pid = -1;  // held, pid not written yet
  }
  ::close(fd);
  return pid;
}

}  // namespace gpas::sweeps
