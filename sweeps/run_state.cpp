// Job states from run directories. A journal status line wins over the orchestrator's record
// unless the record is newer (a worker killed after writing `running` leaves only the record).
#include "sweeps/run_state.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/common/fs.h"
#include "core/common/journal.h"

namespace gpas::sweeps {

namespace fs = std::filesystem;

std::string to_string(State s) {
  switch (s) {
    case State::Pending: return "pending";
    case State::Running: return "running";
    case State::Completed: return "completed";
    case State::Diverged: return "diverged";
    case State::Failed: return "failed";
    case State::Cancelled: return "cancelled";
  }
  return "?";
}

double journal_mtime(const std::string& run_dir) {
  struct stat st {};
  if (::stat((run_dir + "/journal.jsonl").c_str(), &st) != 0) return 0;
  return static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec * 1e-9;
}

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == EPERM;
  // A zombie (exited, not yet reaped by its parent) is not alive.
  std::error_code ec;
  std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
  if (!fs::exists(stat_path, ec)) return true;
  std::string s = read_file(stat_path);
  auto rp = s.rfind(')');
  return !(rp != std::string::npos && rp + 2 < s.size() && s[rp + 2] == 'Z');
}

namespace {
// Guards against a recycled pid: the process must still be a training worker.
bool is_worker(int64_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
  if (!path_exists(path)) return true;  // no /proc: trust the pid
  std::string cmd = read_file(path);
  return cmd.find("train") != std::string::npos;
}

std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
}
}  // namespace

bool signal_worker(int64_t pid, const std::string& run_dir, int sig) {
  if (pid <= 0 || !process_alive(pid)) return false;
  std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
  if (!path_exists(path)) return false;
  std::string cmd;
  try {
    cmd = read_file(path);
  } catch (const std::exception&) {
    return false;  // it exited meanwhile
  }
  std::vector<std::string> args;
  for (size_t b = 0; b < cmd.size();) {
    size_t e = cmd.find('\0', b);
    if (e == std::string::npos) e = cmd.size();
    args.push_back(cmd.substr(b, e - b));
    b = e + 1;
  }
  bool train = std::find(args.begin(), args.end(), "train") != args.end();
  auto rd = std::find(args.begin(), args.end(), "--run-dir");
  bool ours = rd != args.end() && rd + 1 != args.end() && base_name(*(rd + 1)) == base_name(run_dir);
  return train && ours && ::kill(static_cast<pid_t>(pid), sig) == 0;
}

RunRecord read_record(const std::string& run_dir) {
  RunRecord r;
  std::string path = run_dir + "/sweep.json";
  if (!path_exists(path)) return r;
  try {
    auto j = nlohmann::json::parse(read_file(path));
    r.attempts = j.value("attempts", 0);
    r.state = j.value("state", "");
    r.error = j.value("error", "");
    r.time = j.value("time", 0.0);
    r.sweep = j.value("sweep", "");
    if (j.contains("sweeps") && j["sweeps"].is_array())
      for (const auto& m : j["sweeps"])
        if (m.is_string()) r.sweeps.push_back(m.get<std::string>());
  } catch (const std::exception&) {
    // A record we cannot read is no record: the journal still tells the state.
  }
  return r;
}

namespace {
// <run_dir>/sweep.json.lock, held (blocking) across a record's read-modify-write: orchestrators of
// two sweeps that share a cell both write the record, and neither may lose the other's update.
class RecordLock {
 public:
  explicit RecordLock(const std::string& run_dir) {
    // Read-only is enough for flock, and lets every user who may write the record take it.
    fd_ = ::open((run_dir + "/sweep.json.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0) throw Error(run_dir + "/sweep.json.lock: cannot open: " + std::strerror(errno));
    // A filesystem without flock (ENOLCK, EOPNOTSUPP) gets the unlocked write of old.
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~RecordLock() { ::close(fd_); }
  RecordLock(const RecordLock&) = delete;
  RecordLock& operator=(const RecordLock&) = delete;

 private:
  int fd_ = -1;
};

// Writes r, its memberships merged with those on disk; the caller holds the RecordLock.
void write_record_locked(const std::string& run_dir, const RunRecord& r) {
  std::vector<std::string> sweeps = r.sweeps;
  for (const auto& s : read_record(run_dir).sweeps) sweeps.push_back(s);
  if (!r.sweep.empty()) sweeps.push_back(r.sweep);
  std::sort(sweeps.begin(), sweeps.end());
  sweeps.erase(std::unique(sweeps.begin(), sweeps.end()), sweeps.end());
  nlohmann::json j = {{"attempts", r.attempts}, {"state", r.state}, {"error", r.error},
                      {"time", r.time}, {"sweep", r.sweep}, {"sweeps", sweeps}};
  write_file_atomic(run_dir + "/sweep.json", j.dump(2) + "\n");
}
}  // namespace

void write_record(const std::string& run_dir, const RunRecord& r) {
  make_dirs(run_dir);
  RecordLock lock(run_dir);
  // A caller's record may be older than another sweep's membership: keep what is on disk too.
  write_record_locked(run_dir, r);
}

void record_membership(const std::string& run_dir, const std::string& sweep) {
  if (sweep.empty() || !std::filesystem::is_directory(run_dir)) return;
  auto member = [&](const RunRecord& r) {
    return r.sweep == sweep || std::find(r.sweeps.begin(), r.sweeps.end(), sweep) != r.sweeps.end();
  };
  if (member(read_record(run_dir))) return;  // nothing to write (a read-only run dir stays untouched)
  RecordLock lock(run_dir);
  RunRecord r = read_record(run_dir);
  if (member(r)) return;
  r.sweeps.push_back(sweep);
  if (r.sweep.empty()) r.sweep = sweep;
  write_record_locked(run_dir, r);
}

RunInfo read_run(const std::string& run_dir, double heartbeat_timeout) {
  RunInfo info;
  RunRecord rec = read_record(run_dir);
  info.attempts = rec.attempts;
  std::string journal = run_dir + "/journal.jsonl";
  std::string status;
  double last_time = 0;
  if (path_exists(journal)) {
    info.started = true;
    info.heartbeat = journal_mtime(run_dir);
    for (const auto& l : read_journal(journal)) {
      std::string type = l.value("type", "");
      last_time = l.value("time", last_time);
      if (l.contains("step") && l["step"].is_number_integer() && l["step"].get<int64_t>() >= info.step) {
        info.step = l["step"].get<int64_t>();
        info.step_time = l.value("time", 0.0);
      }
      if (type == "start") {
        if (info.first_start == 0) info.first_start = l.value("time", 0.0);
        info.attempt_start = l.value("time", 0.0);
        info.attempt_start_step = l.value("resumed_from_step", int64_t{0});
        info.host = l.value("host", "");
        info.pid = l.value("pid", int64_t{0});
        info.error = "";  // an attempt's error is that attempt's: a new start clears it
        status = "running";
      } else if (type == "status") {
        status = l.value("status", "");
        info.error = l.value("error", "");
        info.end_time = l.value("time", 0.0);
      }
    }
  }
  if (status == "completed") info.state = State::Completed;
  else if (status == "diverged") info.state = State::Diverged;
  else if (!rec.state.empty() && rec.time >= last_time) {
    info.state = rec.state == "failed" ? State::Failed : State::Cancelled;
    info.error = rec.error;
  } else if (status == "failed") info.state = State::Failed;
  else if (status == "cancelled") info.state = State::Cancelled;
  else if (info.started) {
    // The run lock tells whether its trainer lives (any host, on a filesystem with flock). Not
    // held: on this host that is the answer; a trainer elsewhere may sit on a filesystem whose
    // locks do not reach here, so its fresh heartbeat still counts. Run dirs older than the lock
    // fall back to the pid of the start line.
    bool here = info.host == hostname();
    LockHolder h = lock_holder_of(run_lock_path(run_dir));
    bool live = false;
    if (h.held) {
      live = h.role.empty();  // a writer that is not a trainer (gpas eval) holds it: none trains
      if (!live) info.writer = h.role;
      else if (h.pid > 0) info.pid = h.pid, info.host = h.host;
    } else if (!here) {
      live = now_seconds() - info.heartbeat < heartbeat_timeout;
    } else if (!path_exists(run_lock_path(run_dir))) {
      live = process_alive(info.pid) && is_worker(info.pid);
    }
    info.state = live ? State::Running : State::Pending;
    info.interrupted = !live;  // resumes from its newest checkpoint
  }
  if (info.state == State::Failed || info.state == State::Cancelled) {
    // A writer (gpas eval of a stopped run) may hold a failed or cancelled run all the same.
    LockHolder h = lock_holder_of(run_lock_path(run_dir));
    if (h.held && !h.role.empty()) info.writer = h.role;
  }
  return info;
}

}  // namespace gpas::sweeps
