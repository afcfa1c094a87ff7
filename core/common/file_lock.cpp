// flock()-based exclusive locks with the holder's pid and host written inside.
#include "core/common/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/common/error.h"
#include "core/common/fs.h"

namespace gpas {

std::unique_ptr<FileLock> FileLock::try_take(const std::string& path, const std::string& role) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) make_dirs(p.parent_path().string());
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot open the lock file (" + std::strerror(errno) + ")");
  // lock_holder_of() probes with a shared lock for microseconds; only a lock held across these
  // tries (about half a second) belongs to a real holder.
  bool got = false;
  for (int i = 0; i < 25 && !got; ++i) {
    got = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!got) {
    ::close(fd);
    return nullptr;
  }
  std::string who = std::to_string(::getpid()) + " " + hostname() + (role.empty() ? "" : " " + role) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, who.data(), who.size(), 0) < 0) {
    int e = errno;
    ::close(fd);
    throw Error(path + ": cannot write the lock file (" + std::strerror(e) + ")");
  }
  return std::unique_ptr<FileLock>(new FileLock(fd, path));
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the pid inside is stale but not held
}

LockHolder lock_holder_of(const std::string& path) {
  LockHolder h;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return h;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);  // we could take it: nobody holds it
  } else {
    h.held = true;
    char buf[300] = {0};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      std::istringstream in(std::string(buf, static_cast<size_t>(n)));
      in >> h.pid >> h.host;
      std::getline(in >> std::ws, h.role);
    }
  }
  ::close(fd);
  return h;
}

std::string describe(const LockHolder& h) {
  if (!h.held) return "nobody";
  return "pid " + (h.pid > 0 ? std::to_string(h.pid) : std::string("?")) + " on host " +
         (h.host.empty() ? std::string("?") : h.host);
}

std::string holder_action(const LockHolder& h) {
  return h.role.empty() ? "trained by " + describe(h) : "written by " + h.role + ", " + describe(h);
}

std::string run_busy_message(const std::string& run_dir, const LockHolder& h, const std::string& what) {
  std::string pid = h.pid > 0 ? std::to_string(h.pid) : std::string("<pid>");
  return run_dir + ": the run is being " + holder_action(h) + "; " + what +
         " when it has ended, or stop it (kill -TERM " + pid + ")";
}

std::unique_ptr<FileLock> take_run_lock(const std::string& run_dir, const std::string& role,
                                        const std::string& what) {
  auto lock = FileLock::try_take(run_lock_path(run_dir), role);
  if (!lock) throw Error(run_busy_message(run_dir, lock_holder_of(run_lock_path(run_dir)), what));
  return lock;
}

}  // namespace gpas
