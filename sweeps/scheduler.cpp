// The scheduler: one Track per job in one Status (scheduler.h's table), a function per transition,
// and a loop of phases -- poll the live ones, heartbeats and grace, stop requests, launch the ready
// ones onto free slots, report -- until nothing is left to run or to wait for.
#include "sweeps/scheduler.h"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/config_yaml.h"
#include "sweeps/plan.h"

namespace gpas::sweeps {

int SweepOutcome::exit_code() const {
  if (stopped) return kExitCancelled;
  return failed > 0 ? kExitError : kExitOk;
}

std::vector<std::string> worker_argv(const std::string& worker, const Sweep& s, const Job& j) {
  std::string dir = run_dir_of(s.workdir, j.id);
  // --no-index: the orchestrator ingests (run_index.cpp); a worker on a compute node must not open
  // <workdir>/gpas.db over a shared filesystem, where SQLite's locking is unsafe.
  return {worker, "train", "--config", dir + "/job.yaml", "--run-dir", dir,
          "--workdir", s.workdir.empty() ? "." : s.workdir, "--no-index"};
}

void write_job_config(const Sweep& s, const Job& j) {
  std::string dir = run_dir_of(s.workdir, j.id);
  make_dirs(dir);
  // Names are quoted and escaped (JSON string syntax): a newline in one cannot start a YAML key.
  auto quoted = [](const std::string& t) {
    return nlohmann::json(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  write_file_atomic(dir + "/job.yaml", "# written by gpas sweep " + quoted(s.name) + ": job " + quoted(j.name) +
                                           "\n" + to_yaml(j.cfg));
}

namespace {

int64_t journal_bytes(const std::string& dir) {
  std::error_code ec;
  auto n = std::filesystem::file_size(dir + "/journal.jsonl", ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

int64_t last_step(const std::string& dir) {
  // Only the tail: journals grow with every step.
  std::string path = dir + "/journal.jsonl";
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return -1;
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  long from = std::max(0L, size - 4096);
  std::fseek(f, from, SEEK_SET);
  std::string tail(static_cast<size_t>(size - from), '\0');
  size_t n = std::fread(tail.data(), 1, tail.size(), f);
  std::fclose(f);
  tail.resize(n);
  int64_t step = -1;
  size_t pos = 0;
  while ((pos = tail.find("\"step\":", pos)) != std::string::npos) {
    pos += 7;
    step = std::max<int64_t>(step, std::strtoll(tail.c_str() + pos, nullptr, 10));
  }
  return step;
}

// The worker's last words when its journal has none (e.g. a config it rejected before starting).
std::string last_log_line(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, std::max(0L, size - 1024), SEEK_SET);
  std::string tail(1024, '\0');
  tail.resize(std::fread(tail.data(), 1, tail.size(), f));
  std::fclose(f);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  std::string line = tail.substr(tail.rfind('\n') == std::string::npos ? 0 : tail.rfind('\n') + 1);
  return line.size() > 200 ? line.substr(0, 200) : line;
}

}  // namespace

namespace {

// Workers that an earlier orchestrator on this host started and that outlived it (their run lock is
// still held), watched through their run directory like any backend's task: the handle is the run
// dir; poll reads the run's state, cancel signals the pid the run's lock names, and only if that
// process is still this run's `train` worker (pids are recycled).
class Orphans : public JobBackend {
 public:
  explicit Orphans(double heartbeat_timeout) : heartbeat_timeout_(heartbeat_timeout) {}
  std::string name() const override { return "orphan"; }
  std::vector<std::string> submit(const std::vector<Launch>&) override {
    throw Error("internal: orphan workers are adopted, never submitted");
  }
  PollResult poll(const std::string& dir) override {
    RunInfo info = read_run(dir, heartbeat_timeout_);
    if (unreachable_.erase(dir))  // a kill that could not be sent: given up on, as if it had ended
      return {Phase::Exited, -1, "pid " + std::to_string(pids_[dir]) + " on " + info.host +
                                     " could not be signalled (not this run's worker here)"};
    if (info.state == State::Running) {
      pids_[dir] = info.pid;
      return {Phase::Running, 0, ""};
    }
    // A writer that is not a trainer (gpas eval): no heartbeat to watch, nothing to stop; queued.
    if (!info.writer.empty()) return {Phase::Queued, 0, "busy: " + info.writer};
    return {Phase::Exited, -1, "the worker of an earlier orchestrator ended"};
  }
  void cancel(const std::string& dir, bool force) override {
    // false: not this run's worker (gone, or on another host / in another pid namespace).
    if (!signal_worker(pids_[dir], dir, force ? SIGKILL : SIGTERM) && force) unreachable_.insert(dir);
  }

 private:
  double heartbeat_timeout_;
  std::map<std::string, int64_t> pids_;
  std::set<std::string> unreachable_;
};

// What this orchestrator is doing with a job. State (run_state.h) is what the run dir says; Status
// is the scheduler's side: each value below has the transitions of the table in scheduler.h.
enum class Status {
  Waiting,   // not launched: for free slots, or for its dependency
  Running,   // a worker on a handle: launched by us, a backend task adopted, or an orphan
  Stopping,  // asked to checkpoint and stop (a stop request); SIGKILL after kill_grace
  Killing,   // killed (no heartbeat, or a stop past its grace); waiting for the exit
  Done,      // result says how: completed, diverged, failed or cancelled
};

struct Track {
  const Job* job = nullptr;
  std::string dir;
  Status status = Status::Waiting;
  State result = State::Pending;  // Done: Completed | Diverged | Failed | Cancelled
  JobBackend* via = nullptr;      // Running, Stopping, Killing: who runs it, and its handle there
  std::string handle;
  bool ours = true;   // this orchestrator's attempt (counted against max_retries); false: an orphan
  bool hung = false;  // Killing because its heartbeat stopped (not because a stop ran out of grace)
  bool busy = false;  // an orphan handle on a writer (gpas eval) holding the run: waits, shown pending
  std::vector<int> slots;
  double launched = 0;
  double running_since = -1;  // first poll that said Running; -1 while queued (no heartbeat yet)
  double term_sent = 0;       // Stopping: when SIGTERM went
  int attempt = 0;            // launches by this orchestrator
  int failures = 0;           // crashes, hangs and failures counted against max_retries
  int64_t journal_before = -1;  // journal bytes at launch (-1: adopted, unknown)
  int64_t step = -1;
  std::string note;

  bool live() const { return status == Status::Running || status == Status::Stopping || status == Status::Killing; }
  State state() const {  // as Progress and SweepOutcome show it
    if (status == Status::Done) return result;
    if (busy) return State::Pending;
    return live() ? State::Running : State::Pending;
  }
};

class Scheduler {
 public:
  Scheduler(const Sweep& sweep, JobBackend& backend, const SchedulerOptions& o)
      : sweep_(sweep), backend_(backend), o_(o) {
    now_ = o.now ? o.now : [] { return now_seconds(); };
    sleep_ = o.sleep ? o.sleep : [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
    heartbeat_ = o.heartbeat ? o.heartbeat : [](const std::string& d) { return journal_mtime(d); };
    index_ = o.index ? o.index : &null_index_;
    k_ = o.gpus_per_job > 0 ? o.gpus_per_job : sweep.options.gpus_per_job;
    max_retries_ = o.max_retries >= 0 ? o.max_retries : sweep.options.max_retries;
    hb_timeout_ = o.heartbeat_timeout > 0 ? o.heartbeat_timeout : sweep.options.heartbeat_timeout;
    orphans_ = std::make_unique<Orphans>(hb_timeout_);
    cpu_ = o.gpus.empty();
    packs_ = !backend.schedules_itself();
    // Slots: GPUs, or (CPU) one per rank of max_parallel jobs.
    max_parallel_ = o.max_parallel > 0 ? o.max_parallel : (cpu_ ? 1 : static_cast<int>(o.gpus.size()) / k_);
    slots_ = o.gpus;
    if (cpu_)
      for (int i = 0; i < max_parallel_ * k_; ++i) slots_.push_back(i);
    busy_.assign(slots_.size(), false);
    if (packs_ && static_cast<int>(slots_.size()) < k_)
      throw Error("each job needs " + std::to_string(k_) + " GPUs but only " + std::to_string(slots_.size()) +
                      " were given (--gpus / --gpus-per-job)",
                  kExitUsage);
    if (max_parallel_ < 1) max_parallel_ = 1;
  }

  SweepOutcome run() {
    start();
    const double t0 = now_();
    for (;;) {
      poll_live();
      check_heartbeats_and_grace();
      if (!stopping_ && o_.stop_requested()) stop_all();
      if (stopping_ && !forced_ && o_.force_requested()) forced_ = true;
      if (!stopping_) launch_ready();
      report(t0);
      if (!any_live() && !any_launchable()) break;
      sleep_(o_.poll_interval);
    }
    SweepOutcome out;
    for (const auto& t : tracks_) {
      switch (t.state()) {
        case State::Completed: ++out.completed; break;
        case State::Diverged: ++out.diverged; break;
        case State::Failed: ++out.failed; break;
        case State::Cancelled: ++out.cancelled; break;
        default: ++out.pending;
      }
    }
    out.stopped = stopping_;
    return out;
  }

 private:
  // ---- Start-up: every job's status from its run dir, and the workers an earlier orchestrator left.
  void start() {
    index_->sweep(sweep_);
    tracks_.reserve(sweep_.jobs.size());
    for (const auto& j : sweep_.jobs) {
      Track t;
      t.job = &j;
      t.dir = run_dir_of(sweep_.workdir, j.id);
      tracks_.push_back(t);
      by_id_[j.id] = tracks_.size() - 1;
    }
    for (auto& t : tracks_) {
      RunInfo info = read_run(t.dir, hb_timeout_);
      t.step = info.step;
      if (info.state == State::Running) {
        adopt(t, *orphans_, t.dir, false,
              "a worker from an earlier orchestrator (pid " + std::to_string(info.pid) + ") is finishing");
      } else if (!info.writer.empty() && !is_final(info.state)) {
        // A trainer launched now would be refused the run lock: wait for the writer, as for an orphan.
        adopt(t, *orphans_, t.dir, false, "waits for " + info.writer + ", which is writing the run");
      } else if (is_final(info.state)) {
        finish(t, info.state);
        index_->ingest(sweep_, *t.job);  // finished, maybe by another sweep sharing the cell: now in this one too
      } else {
        if (info.started) t.note = "resumes from its checkpoint";
        index_->queued(sweep_, *t.job);
      }
    }
    // Tasks an earlier orchestrator left queued or running (Slurm): polled as ours rather than
    // submitted twice; one whose worker was seen as an orphan above is watched through its task
    // instead. Those of jobs finished, not in the sweep any more, or adopted already (a duplicate)
    // are cancelled.
    for (const auto& [id, handle] : backend_.adopt()) {
      Track* t = find(id);
      if (!t || t->status == Status::Done || (t->live() && t->via != orphans_.get())) {
        backend_.cancel(handle, false);
        continue;
      }
      adopt(*t, backend_, handle, true, "adopted " + backend_.name() + " task " + handle + " of an earlier orchestrator");
    }
  }

  // ---- The transitions (scheduler.h's table). Each moves one job from one status to the next.

  // (start) -> Running: a live worker we did not launch.
  void adopt(Track& t, JobBackend& via, const std::string& handle, bool ours, std::string note) {
    t.status = Status::Running;
    t.via = &via;
    t.handle = handle;
    t.ours = ours;
    t.launched = now_();
    t.running_since = ours ? -1 : 0;  // an orphan's heartbeat is its journal's, from before us
    t.note = std::move(note);
  }

  // Waiting -> Running: submitted (job.yaml written, one more attempt in its record).
  void launch(const std::vector<Track*>& batch, const std::vector<Launch>& launches) {
    for (Track* t : batch) t->journal_before = journal_bytes(t->dir);
    std::vector<std::string> handles = backend_.submit(launches);
    for (size_t i = 0; i < batch.size(); ++i) {
      Track& t = *batch[i];
      t.status = Status::Running;
      t.via = &backend_;
      t.handle = handles.at(i);
      t.ours = true;
      t.hung = false;
      t.launched = now_();
      t.running_since = -1;
      ++t.attempt;
      RunRecord rec = read_record(t.dir);
      rec.attempts += 1;
      rec.sweep = sweep_.name;
      rec.state.clear();
      rec.time = now_seconds();
      write_record(t.dir, rec);
    }
  }

  // Waiting -> Failed: its dependency failed or diverged; it never runs.
  void dependency_failed(Track& t, const Track& d) {
    finish(t, State::Failed);
    t.note = "needs " + d.job->id + ", which " + to_string(d.state());
  }

  // Running -> Killing: no heartbeat for heartbeat_timeout; killed, and retried when it has exited.
  void hung(Track& t) {
    t.status = Status::Killing;
    t.hung = true;
    t.note = "no heartbeat for " + std::to_string(static_cast<int>(hb_timeout_)) + " s, killing it";
    t.via->cancel(t.handle, true);
  }

  // Running -> Stopping: a stop request; the worker checkpoints and exits.
  void stop(Track& t) {
    t.status = Status::Stopping;
    t.term_sent = now_();
    t.note = "stopping: checkpointing";
    t.via->cancel(t.handle, false);
  }

  // Stopping -> Killing: kill_grace passed, or a second Ctrl-C.
  void kill(Track& t) {
    t.status = Status::Killing;
    t.note = "stopping: killed";
    t.via->cancel(t.handle, true);
  }

  // Running | Stopping | Killing -> Done or Waiting (a retry): the worker exited.
  void exited(Track& t, const PollResult& p) {
    for (size_t i = 0; i < slots_.size(); ++i)
      if (std::find(t.slots.begin(), t.slots.end(), slots_[i]) != t.slots.end()) busy_[i] = false;
    t.slots.clear();
    const Status was = t.status;
    t.via = nullptr;
    t.handle.clear();
    RunInfo info = read_run(t.dir, hb_timeout_);
    t.step = info.step;
    RunRecord rec = read_record(t.dir);
    rec.sweep = sweep_.name;
    rec.time = now_seconds();
    rec.state.clear();
    const std::string timeout = std::to_string(static_cast<int>(hb_timeout_));
    if (is_final(info.state)) {  // completed or diverged, whoever asked it to stop
      finish(t, info.state);
      t.note = info.state == State::Diverged ? "diverged at step " + std::to_string(info.step) : "";
      if (info.state == State::Completed && t.ours && info.step > 0)
        sec_per_flop_.push_back((now_() - t.launched) / train_flops(t.job->cfg));
    } else if (was == Status::Stopping || (was == Status::Killing && !t.hung)) {
      finish(t, State::Cancelled);
      t.note = "stopped" + (p.detail.empty() ? "" : " (" + p.detail + ")") + "; a rerun resumes it";
      rec.state = "cancelled";
      rec.error = "stopped by the user";
    } else if (t.hung) {
      t.hung = false;
      retry_or_fail(t, rec, "no heartbeat for " + timeout + " s" +
                                (t.ours ? "" : " from a worker of an earlier orchestrator") + ", killed");
    } else if (!t.ours) {
      // An orphan that ended unfinished: its attempt was the dead orchestrator's. Resumed, not counted.
      t.status = Status::Waiting;
      t.note = "resumes from its checkpoint";
    } else {
      // The journal's error is this attempt's only if this attempt wrote to it: one that failed
      // before its first line left the previous attempt's error there (adopted: cannot tell).
      bool wrote = t.journal_before < 0 || journal_bytes(t.dir) != t.journal_before;
      std::string said = wrote && !info.error.empty() ? info.error : last_log_line(t.dir + "/worker.log");
      std::string why = p.detail + (said.empty() ? "" : ": " + said);
      // An error exit before the attempt wrote one journal line (a config or data error, a run
      // locked by another trainer, no readable checkpoint) fails the same way again: no retry.
      if (p.exit_code == 1 && !wrote) {
        ++t.failures;
        finish(t, State::Failed);
        t.note = why + " (before training began: not retried)";
        rec.state = "failed";
        rec.error = why;
      } else {
        retry_or_fail(t, rec, why);
      }
    }
    write_record(t.dir, rec);
    index_->ingest(sweep_, *t.job);
    if (t.state() == State::Failed || t.state() == State::Cancelled) index_->state(*t.job, to_string(t.state()), rec.error);
  }

  // A crashed or hung attempt: Waiting again (a retry resumes) up to max_retries, then Failed.
  void retry_or_fail(Track& t, RunRecord& rec, const std::string& why) {
    ++t.failures;
    if (t.failures <= max_retries_) {
      t.status = Status::Waiting;
      t.note = "retry " + std::to_string(t.failures) + "/" + std::to_string(max_retries_) + " after " + why;
    } else {
      finish(t, State::Failed);
      t.note = why;
      rec.state = "failed";
      rec.error = why;
    }
  }

  void finish(Track& t, State result) {
    t.status = Status::Done;
    t.result = result;
  }

  // ---- The loop's phases: which transition each job takes now.

  void poll_live() {
    for (auto& t : tracks_) {
      if (!t.live()) continue;
      PollResult p = t.via->poll(t.handle);
      t.busy = p.phase == Phase::Queued && t.via == orphans_.get();
      if (p.phase == Phase::Exited) {
        exited(t, p);
      } else if (p.phase == Phase::Running) {
        if (t.running_since < 0) t.running_since = now_();
        t.step = std::max(t.step, last_step(t.dir));
      } else {
        t.running_since = -1;  // queued again (a requeue)
      }
    }
  }

  void check_heartbeats_and_grace() {
    const double tnow = now_();
    for (auto& t : tracks_) {
      if (t.status == Status::Stopping && (forced_ || tnow - t.term_sent > o_.kill_grace)) kill(t);
      else if (t.status == Status::Running && t.running_since >= 0 &&
               tnow - std::max(heartbeat_(t.dir), t.running_since) > hb_timeout_)
        hung(t);
    }
  }

  void stop_all() {
    stopping_ = true;
    for (auto& t : tracks_) {
      if (t.status != Status::Running) continue;
      if (!t.busy) {
        stop(t);
        continue;
      }
      // Waiting for a writer: nothing of ours to stop. Left pending; a rerun resumes it.
      t.status = Status::Waiting;
      t.busy = false;
      t.via = nullptr;
      t.handle.clear();
    }
  }

  // Waiting jobs in sweep order onto free slots; none overtakes one that does not fit.
  void launch_ready() {
    int running = 0;
    for (const auto& t : tracks_) running += t.live() && t.ours;  // orphans hold no slot, as before
    std::vector<Launch> launches;
    std::vector<Track*> batch;
    for (auto& t : tracks_) {
      if (t.status != Status::Waiting) continue;
      if (const Track* d = dependency(t)) {
        if (d->state() == State::Failed || d->state() == State::Diverged) {
          dependency_failed(t, *d);
          continue;
        }
        if (d->state() != State::Completed) {
          t.note = "waits for " + d->job->id;
          continue;
        }
      }
      if (packs_ && running >= max_parallel_) break;
      Launch l{t.job->id, t.job->name, worker_argv(o_.worker, sweep_, *t.job), t.dir, k_, {}};
      if (packs_) {
        std::vector<size_t> free;
        for (size_t i = 0; i < slots_.size() && static_cast<int>(free.size()) < k_; ++i)
          if (!busy_[i]) free.push_back(i);
        if (static_cast<int>(free.size()) < k_) break;
        for (size_t i : free) {
          busy_[i] = true;
          t.slots.push_back(slots_[i]);
        }
        if (!cpu_) l.gpus = t.slots;
      }
      write_job_config(sweep_, *t.job);
      launches.push_back(std::move(l));
      batch.push_back(&t);
      ++running;
    }
    if (!batch.empty()) launch(batch, launches);
  }

  void report(double t0) {
    Progress pr;
    pr.elapsed = now_() - t0;
    pr.stopping = stopping_;
    double flops_left = 0;
    for (const auto& t : tracks_) {
      JobProgress jp{t.job, t.state(), t.attempt, t.step, "", t.note};
      if (t.live() && t.ours) {
        jp.devices = "cpu";
        if (!cpu_) {
          jp.devices = "gpu ";
          for (size_t i = 0; i < t.slots.size(); ++i) jp.devices += (i ? "," : "") + std::to_string(t.slots[i]);
        }
      }
      pr.jobs.push_back(jp);
      State s = t.state();
      if (is_final(s)) ++pr.done;
      else if (s == State::Running) ++pr.running;
      else if (s == State::Failed) ++pr.failed;
      else ++pr.pending;
      if (!is_final(s) && s != State::Failed) {
        double frac = t.step > 0 ? std::min(1.0, double(t.step) / t.job->cfg.train.steps) : 0.0;
        flops_left += train_flops(t.job->cfg) * (1 - frac);
        if (t.live() && t.ours && t.step > 0 && now_() > t.launched)
          sec_per_flop_.push_back((now_() - t.launched) / (train_flops(t.job->cfg) * frac));
      }
    }
    const int lanes = std::max(1, std::min(max_parallel_, pr.running + pr.pending));
    if (!sec_per_flop_.empty()) {
      std::vector<double> v = sec_per_flop_;
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      pr.eta = flops_left * v[v.size() / 2] / lanes;
      if (sec_per_flop_.size() > 64) sec_per_flop_.erase(sec_per_flop_.begin(), sec_per_flop_.end() - 32);
    } else if (o_.planned_sec_per_flop > 0 && flops_left > 0) {
      pr.eta = flops_left * o_.planned_sec_per_flop / lanes;
      pr.eta_planned = true;
    }
    o_.on_progress(pr);
  }

  bool any_live() const {
    return std::any_of(tracks_.begin(), tracks_.end(), [](const Track& t) { return t.live(); });
  }
  // A waiting job that can still run: not stopping, and its dependency (if any) may yet complete.
  bool any_launchable() const {
    if (stopping_) return false;
    return std::any_of(tracks_.begin(), tracks_.end(), [&](const Track& t) {
      if (t.status != Status::Waiting) return false;
      const Track* d = dependency(t);
      return !d || d->status != Status::Done || d->result == State::Completed;
    });
  }

  Track* find(const std::string& id) {
    auto it = id.empty() ? by_id_.end() : by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tracks_[it->second];
  }
  const Track* dependency(const Track& t) const {
    auto it = t.job->depends_on.empty() ? by_id_.end() : by_id_.find(t.job->depends_on);
    return it == by_id_.end() ? nullptr : &tracks_[it->second];
  }

  const Sweep& sweep_;
  JobBackend& backend_;
  const SchedulerOptions& o_;
  std::function<double()> now_;
  std::function<void(double)> sleep_;
  std::function<double(const std::string&)> heartbeat_;
  NullIndex null_index_;
  RunIndex* index_ = nullptr;
  std::unique_ptr<Orphans> orphans_;
  int k_ = 1, max_retries_ = 0, max_parallel_ = 1;
  double hb_timeout_ = 600;
  bool cpu_ = true, packs_ = true;
  std::vector<int> slots_;
  std::vector<bool> busy_;
  std::vector<Track> tracks_;
  std::unordered_map<std::string, size_t> by_id_;
  bool stopping_ = false, forced_ = false;
  std::vector<double> sec_per_flop_;  // calibration for the ETA
};

}  // namespace

SweepOutcome run_sweep(const Sweep& sweep, JobBackend& backend, const SchedulerOptions& opts) {
  return Scheduler(sweep, backend, opts).run();
}

}  // namespace gpas::sweeps
