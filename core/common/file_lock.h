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
  std::string role;   // what it does, as try_take was told ("": a run's trainer)
};

class FileLock {
 public:
  // Takes the lock, or returns nullptr if another open file holds it (a checker's brief shared
  // probe is waited out). Writes "<pid> <host> <role>" into it. Throws gpas::Error if the file
  // cannot be created.
  static std::unique_ptr<FileLock> try_take(const std::string& path, const std::string& role = "");
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
// "trained by pid 123 on host h", or for a writer that is not a trainer
// "written by gpas eval, pid 123 on host h".
std::string holder_action(const LockHolder& h);

// The run lock for a writer of a run that is not its trainer (role: "gpas eval", ...), held while
// it appends to the journal. Throws gpas::Error (exit 1) when another process holds it:
// "<run_dir>: the run is being trained by pid 123 on host h; <what> when it has ended, or stop it
// (kill -TERM 123)".
std::unique_ptr<FileLock> take_run_lock(const std::string& run_dir, const std::string& role,
                                        const std::string& what);
// That refusal, for a holder found otherwise (lock_holder_of, an early check).
std::string run_busy_message(const std::string& run_dir, const LockHolder& h, const std::string& what);

}  // namespace gpas
