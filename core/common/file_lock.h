// One holder per file: an exclusive flock() on a lock file that records "<pid> <host>" of its
// holder. The kernel drops the lock when the holder dies however it dies (SIGKILL included), so a
// lock is never stale; the file itself stays and is reused. Used for run dirs and sweeps.
#pragma once
#include <memory>
#include <string>

namespace gpas {

struct LockHolder {
  bool held = false;  // some process holds the lock now
  long pid = 0;       // as the holder wrote it (0: not written yet)
  std::string host;
};

class FileLock {
 public:
  // Takes the lock, or returns nullptr if another open file holds it (a checker's brief shared
  // probe is waited out). Throws gpas::Error if the file cannot be created.
  static std::unique_ptr<FileLock> try_take(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  FileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Who holds the lock at path; held=false if nobody does or the file does not exist.
LockHolder lock_holder_of(const std::string& path);
// <run_dir>/run.lock: held by the one process that trains (writes) the run.
inline std::string run_lock_path(const std::string& run_dir) { return run_dir + "/run.lock"; }
// "pid 123 on host h" for messages.
std::string describe(const LockHolder& h);

}  // namespace gpas
