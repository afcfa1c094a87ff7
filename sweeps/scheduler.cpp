// The scheduling loop: poll -> classify exits -> detect hangs -> stop on request -> launch ready
// jobs onto free slots -> report progress, until nothing is left to run or wait for.
#include "sweeps/scheduler.h"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

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

struct Track {
  const Job* job = nullptr;
  std::string dir;
  State state = State::Pending;
  bool active = false;    // launched by us, not exited yet
  bool foreign = false;   // a worker we did not start is on it (waiting for it to end)
  std::string handle;
  std::vector<int> slots;
  double launched = 0;
  double running_since = 0;  // first poll that said Running (a queued Slurm task has no heartbeat)
  double term_sent = 0;   // SIGTERM time while stopping
  bool hung = false;
  int attempt = 0;        // launches by this orchestrator
  int failures = 0;       // crashes, hangs and failures counted against max_retries
  int64_t journal_before = -1;  // journal bytes when launched (-1: adopted, unknown)
  int64_t step = -1;
  std::string note;
};

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

SweepOutcome run_sweep(const Sweep& sweep, JobBackend& backend, const SchedulerOptions& o) {
  auto now = o.now ? o.now : [] { return now_seconds(); };
  auto sleep = o.sleep ? o.sleep : [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  auto heartbeat = o.heartbeat ? o.heartbeat : [](const std::string& d) { return journal_mtime(d); };
  NullIndex null_index;
  RunIndex& index = o.index ? *o.index : null_index;
  const int k = o.gpus_per_job > 0 ? o.gpus_per_job : sweep.options.gpus_per_job;
  const int max_retries = o.max_retries >= 0 ? o.max_retries : sweep.options.max_retries;
  const double hb_timeout = o.heartbeat_timeout > 0 ? o.heartbeat_timeout : sweep.options.heartbeat_timeout;
  const bool cpu = o.gpus.empty();
  const bool packs = !backend.schedules_itself();
  // Slots: GPUs, or (CPU) one per rank of max_parallel jobs.
  int max_parallel = o.max_parallel > 0 ? o.max_parallel : (cpu ? 1 : static_cast<int>(o.gpus.size()) / k);
  std::vector<int> slots = o.gpus;
  if (cpu) for (int i = 0; i < max_parallel * k; ++i) slots.push_back(i);
  std::vector<bool> busy(slots.size(), false);
  if (packs && static_cast<int>(slots.size()) < k)
    throw Error("each job needs " + std::to_string(k) + " GPUs but only " + std::to_string(slots.size()) +
                " were given (--gpus / --gpus-per-job)", kExitUsage);
  if (max_parallel < 1) max_parallel = 1;

  index.sweep(sweep);
  std::vector<Track> tracks;
  for (const auto& j : sweep.jobs) {
    Track t;
    t.job = &j;
    t.dir = run_dir_of(sweep.workdir, j.id);
    RunInfo info = read_run(t.dir, hb_timeout);
    t.state = info.state;
    t.step = info.step;
    if (info.state == State::Running) {
      t.foreign = true;
      t.note = "a worker from an earlier orchestrator (pid " + std::to_string(info.pid) + ") is finishing";
    } else if (!is_final(info.state)) {
      t.state = State::Pending;
      if (info.started) t.note = "resumes from its checkpoint";
      index.queued(sweep, j);
    } else {
      index.ingest(sweep, j);  // finished, maybe by another sweep sharing the cell: now in this one too
    }
    tracks.push_back(t);
  }
  auto find = [&](const std::string& id) -> Track* {
    for (auto& t : tracks)
      if (t.job->id == id) return &t;
    return nullptr;
  };

  // Tasks an earlier orchestrator left queued or running (Slurm): poll them as ours rather than
  // submit their jobs twice. Tasks of jobs that are finished, not in the sweep any more, or
  // adopted already (a duplicate) are cancelled.
  for (const auto& [id, handle] : backend.adopt()) {
    Track* t = id.empty() ? nullptr : find(id);
    if (!t || is_final(t->state) || t->active) {
      backend.cancel(handle, false);
      continue;
    }
    t->active = true;
    t->foreign = false;
    t->handle = handle;
    t->state = State::Running;
    t->launched = now();
    t->note = "adopted " + backend.name() + " task " + handle + " of an earlier orchestrator";
  }

  // A crashed or hung attempt: retried (pending) up to max_retries, then failed.
  auto count_failure = [&](Track& t, RunRecord& rec, const std::string& why) {
    ++t.failures;
    if (t.failures <= max_retries) {
      t.state = State::Pending;
      t.note = "retry " + std::to_string(t.failures) + "/" + std::to_string(max_retries) + " after " + why;
      rec.state.clear();
    } else {
      t.state = State::Failed;
      t.note = why;
      rec.state = "failed";
      rec.error = why;
    }
  };

  const double t0 = now();
  bool stopping = false;
  bool forced = false;
  std::vector<double> sec_per_flop;  // calibration for the ETA
  SweepOutcome out;
  for (;;) {
    // 1. Exits.
    for (auto& t : tracks) {
      if (t.foreign) {
        // A worker of an earlier orchestrator: wait for it to end, unless its heartbeat stops.
        // Then SIGTERM it, SIGKILL after kill_grace, and count a crash (a retry resumes).
        RunInfo info = read_run(t.dir, hb_timeout);
        double tnow = now();
        if (info.state == State::Running && t.term_sent == 0 && tnow - heartbeat(t.dir) > hb_timeout) {
          t.hung = true;
          t.term_sent = tnow;
          t.note = "no heartbeat from pid " + std::to_string(info.pid) + ", stopping it";
          // Only a process that is this run's worker is signalled (pids are recycled); any other
          // process on that pid means the worker is gone.
          if (!signal_worker(info.pid, t.dir, SIGTERM)) info.state = State::Pending;
        } else if (info.state == State::Running && t.term_sent > 0 && tnow - t.term_sent > o.kill_grace) {
          signal_worker(info.pid, t.dir, SIGKILL);
          t.term_sent = tnow + 1e9;  // once
        }
        if (info.state == State::Running) continue;
        t.foreign = false;
        t.term_sent = 0;
        t.note.clear();
        t.step = info.step;
        t.state = is_final(info.state) ? info.state : State::Pending;
        if (t.hung && !is_final(info.state)) {
          t.hung = false;
          RunRecord rec = read_record(t.dir);
          count_failure(t, rec, "no heartbeat for " + std::to_string(static_cast<int>(hb_timeout)) +
                                    " s from a worker of an earlier orchestrator, killed");
          if (t.state == State::Failed) {
            rec.sweep = sweep.name;
            rec.time = now_seconds();
            write_record(t.dir, rec);
            index.state(*t.job, "failed", rec.error);
          }
        }
        index.ingest(sweep, *t.job);
        continue;
      }
      if (!t.active) continue;
      PollResult p = backend.poll(t.handle);
      if (p.phase != Phase::Exited) {
        if (p.phase == Phase::Running) {
          if (t.running_since == 0) t.running_since = now();
          t.step = std::max(t.step, last_step(t.dir));
        } else {
          t.running_since = 0;  // queued again (a requeue)
        }
        continue;
      }
      t.active = false;
      for (size_t i = 0; i < slots.size(); ++i)
        if (std::find(t.slots.begin(), t.slots.end(), slots[i]) != t.slots.end()) busy[i] = false;
      t.slots.clear();
      RunInfo info = read_run(t.dir, hb_timeout);
      t.step = info.step;
      RunRecord rec = read_record(t.dir);
      rec.sweep = sweep.name;
      rec.time = now_seconds();
      if (info.state == State::Completed || info.state == State::Diverged) {
        t.state = info.state;
        t.note = info.state == State::Diverged ? "diverged at step " + std::to_string(info.step) : "";
        if (info.state == State::Completed && t.launched > 0 && info.step > 0)
          sec_per_flop.push_back((now() - t.launched) / train_flops(t.job->cfg));
        rec.state.clear();
      } else if (stopping && !t.hung) {
        t.state = State::Cancelled;
        t.note = "stopped (" + p.detail + "); a rerun resumes it";
        rec.state = "cancelled";
        rec.error = "stopped by the user";
      } else {
        // The journal's error is this attempt's only if this attempt wrote to it: one that failed
        // before its first line left the previous attempt's error there (adopted: cannot tell).
        bool wrote = t.journal_before < 0 || journal_bytes(t.dir) != t.journal_before;
        std::string said = wrote && !info.error.empty() ? info.error : last_log_line(t.dir + "/worker.log");
        std::string why = t.hung ? "no heartbeat for " + std::to_string(static_cast<int>(hb_timeout)) + " s, killed"
                                 : p.detail + (said.empty() ? "" : ": " + said);
        // An error exit before the attempt wrote one journal line (a config or data error, a run
        // locked by another trainer, no readable checkpoint) fails the same way again: no retry.
        bool before_training = !t.hung && p.exit_code == 1 && !wrote;
        t.hung = false;
        if (before_training) {
          ++t.failures;
          t.state = State::Failed;
          t.note = why + " (before training began: not retried)";
          rec.state = "failed";
          rec.error = why;
        } else {
          count_failure(t, rec, why);
        }
      }
      write_record(t.dir, rec);
      index.ingest(sweep, *t.job);
      if (t.state == State::Failed || t.state == State::Cancelled)
        index.state(*t.job, to_string(t.state), rec.error);
    }

    // 2. Hangs, and SIGKILL for workers that ignored SIGTERM.
    double tnow = now();
    for (auto& t : tracks) {
      if (!t.active) continue;
      if (t.term_sent > 0 && (tnow - t.term_sent > o.kill_grace || forced)) {
        backend.cancel(t.handle, true);
        t.term_sent = tnow + 1e9;  // once
        continue;
      }
      if (t.running_since == 0) continue;
      double hb = std::max(heartbeat(t.dir), t.running_since);
      if (!t.hung && t.term_sent == 0 && tnow - hb > hb_timeout) {
        t.hung = true;
        backend.cancel(t.handle, true);
      }
    }

    // 3. Stop requests.
    if (!stopping && o.stop_requested()) {
      stopping = true;
      for (auto& t : tracks)
        if (t.active) {
          backend.cancel(t.handle, false);
          t.term_sent = tnow;
          t.note = "stopping: checkpointing";
        }
    }
    if (stopping && !forced && o.force_requested()) forced = true;

    // 4. Launches.
    if (!stopping) {
      int running = 0;
      for (const auto& t : tracks) running += t.active;
      std::vector<Launch> batch;
      std::vector<Track*> batch_tracks;
      for (auto& t : tracks) {
        if (t.state != State::Pending || t.active || t.foreign) continue;
        if (!t.job->depends_on.empty()) {
          Track* d = find(t.job->depends_on);
          if (d && (d->state == State::Failed || d->state == State::Diverged)) {
            t.state = State::Failed;
            t.note = "needs " + d->job->id + ", which " + to_string(d->state);
            continue;
          }
          if (d && d->state != State::Completed) {
            t.note = "waits for " + d->job->id;
            continue;
          }
        }
        if (packs && running >= max_parallel) break;
        Launch l{t.job->id, t.job->name, worker_argv(o.worker, sweep, *t.job), t.dir, k, {}};
        if (packs) {
          std::vector<size_t> free;
          for (size_t i = 0; i < slots.size() && static_cast<int>(free.size()) < k; ++i)
            if (!busy[i]) free.push_back(i);
          if (static_cast<int>(free.size()) < k) break;  // in order: no job overtakes
          for (size_t i : free) {
            busy[i] = true;
            t.slots.push_back(slots[i]);
          }
          if (!cpu) l.gpus = t.slots;
        }
        write_job_config(sweep, *t.job);
        batch.push_back(l);
        batch_tracks.push_back(&t);
        ++running;
      }
      if (!batch.empty()) {
        for (Track* t : batch_tracks) t->journal_before = journal_bytes(t->dir);
        std::vector<std::string> handles = backend.submit(batch);
        for (size_t i = 0; i < batch_tracks.size(); ++i) {
          Track& t = *batch_tracks[i];
          t.handle = handles.at(i);
          t.active = true;
          t.state = State::Running;
          t.launched = now();
          t.running_since = 0;
          ++t.attempt;
          RunRecord rec = read_record(t.dir);
          rec.attempts += 1;
          rec.sweep = sweep.name;
          rec.state.clear();
          rec.time = now_seconds();
          write_record(t.dir, rec);
        }
      }
    }

    // 5. Progress.
    Progress pr;
    pr.elapsed = now() - t0;
    pr.stopping = stopping;
    double flops_left = 0;
    for (const auto& t : tracks) {
      JobProgress jp{t.job, t.state, t.attempt, t.step, "", t.note};
      if (t.active) jp.devices = cpu ? "cpu" : "gpu " + [&] {
        std::string s;
        for (int g : t.slots) s += (s.empty() ? "" : ",") + std::to_string(g);
        return s;
      }();
      pr.jobs.push_back(jp);
      if (is_final(t.state)) ++pr.done;
      else if (t.state == State::Running) ++pr.running;
      else if (t.state == State::Failed) ++pr.failed;
      else ++pr.pending;
      if (!is_final(t.state) && t.state != State::Failed) {
        double frac = t.step > 0 ? std::min(1.0, double(t.step) / t.job->cfg.train.steps) : 0.0;
        flops_left += train_flops(t.job->cfg) * (1 - frac);
        if (t.active && t.step > 0 && now() > t.launched)
          sec_per_flop.push_back((now() - t.launched) / (train_flops(t.job->cfg) * frac));
      }
    }
    if (!sec_per_flop.empty()) {
      std::vector<double> v = sec_per_flop;
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      pr.eta = flops_left * v[v.size() / 2] / std::max(1, std::min(max_parallel, pr.running + pr.pending));
      if (sec_per_flop.size() > 64) sec_per_flop.erase(sec_per_flop.begin(), sec_per_flop.end() - 32);
    } else if (o.planned_sec_per_flop > 0 && flops_left > 0) {
      pr.eta = flops_left * o.planned_sec_per_flop / std::max(1, std::min(max_parallel, pr.running + pr.pending));
      pr.eta_planned = true;
    }
    o.on_progress(pr);

    bool busy_now = std::any_of(tracks.begin(), tracks.end(), [](const Track& t) { return t.active || t.foreign; });
    bool launchable = !stopping && std::any_of(tracks.begin(), tracks.end(), [&](const Track& t) {
      if (t.state != State::Pending) return false;
      Track* d = t.job->depends_on.empty() ? nullptr : find(t.job->depends_on);
      return !d || d->state == State::Completed || d->state == State::Pending || d->state == State::Running;
    });
    if (!busy_now && !launchable) break;
    sleep(o.poll_interval);
  }
  for (const auto& t : tracks) {
    if (t.state == State::Completed) ++out.completed;
    else if (t.state == State::Diverged) ++out.diverged;
    else if (t.state == State::Failed) ++out.failed;
    else if (t.state == State::Cancelled) ++out.cancelled;
    else ++out.pending;
  }
  out.stopped = stopping;
  return out;
}

}  // namespace gpas::sweeps
