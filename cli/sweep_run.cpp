// Running a sweep from the command line: picks the backend (local GPUs / CPU / Slurm), turns
// Ctrl-C and SIGTERM into a graceful stop (a second one kills), holds the sweep lock, indexes into
// <workdir>/gpas.db and draws the progress. The scheduling itself is sweeps::run_sweep.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/handover.h"
#include "cli/sweep_common.h"
#include "cli/sweep_invocation.h"
#include "core/common/cpus.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "sweeps/local_backend.h"
#include "sweeps/lock.h"
#include "sweeps/plan.h"
#include "sweeps/progress.h"
#include "sweeps/run_index.h"
#include "sweeps/scheduler.h"
#include "sweeps/slurm_backend.h"

namespace gpas::cli {

namespace {

std::atomic<int> g_signals{0};
void on_signal(int) { g_signals.fetch_add(1); }

std::string self_exe() {  // the front: a worker's `gpas train` hands over to gpas-torch
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("gpas") : p.string();
}

std::vector<int> parse_gpus(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ','))
    try {
      out.push_back(std::stoi(part));
    } catch (const std::exception&) {
      throw Error("--gpus " + s + ": expected device numbers like 0,1,2", kExitUsage);
    }
  return out;
}

}  // namespace

void add_run_options(CLI::App& c, SweepRunArgs& a) {
  c.add_option("-w,--workdir", a.workdir, "where runs/ and gpas.db live")->capture_default_str();
  c.add_option("-s,--set", a.sets, "override a key in every job: --set train.steps=20");
  c.add_option("--gpus", a.gpus, "devices to pack jobs onto, e.g. 0,1,2,3 (default: all visible)");
  c.add_flag("--cpu", a.cpu, "run on the CPU (no GPUs)");
  c.add_option("--gpus-per-job", a.gpus_per_job, "ranks (GPUs) per job: data-parallel workers");
  c.add_option("--max-parallel", a.max_parallel, "jobs at once (CPU default: one per core, one thread each; Slurm: the array throttle)");
  c.add_option("--max-retries", a.max_retries, "retries after a crash or hang (default: the sweep's options)");
  c.add_option("--heartbeat-timeout", a.heartbeat_timeout, "seconds without a journal write before a worker is killed");
  c.add_option("--backend", a.backend, "local | slurm")->check(CLI::IsMember({"local", "slurm"}))->capture_default_str();
  c.add_option("--partition", a.partition, "slurm: partition");
  c.add_option("--time", a.time, "slurm: time limit per job, e.g. 24:00:00");
  c.add_option("--account", a.account, "slurm: account");
  c.add_option("--signal-lead", a.signal_lead, "slurm: seconds before the time limit to checkpoint and requeue")
      ->capture_default_str();
  c.add_option("--cpus-per-task", a.cpus_per_task, "slurm: CPU cores per rank (default: Slurm's)")
      ->check(CLI::PositiveNumber);
  c.add_option("--gpus-per-node", a.gpus_per_node,
               "slurm: GPUs of one node (with --cpu: ranks per node); a job with more (--gpus-per-job) "
               "spans several full nodes")
      ->check(CLI::PositiveNumber);
  c.add_flag("-q,--quiet", a.quiet, "no progress display");
  c.add_option("--progress-every", a.progress_every,
               "outside a terminal: a progress line every this many seconds (and at every job change)")
      ->check(CLI::PositiveNumber)->capture_default_str();
}

int run_sweep_cli(const sweeps::Sweep& sweep, const SweepRunArgs& a) {
  if (a.cpu && !a.gpus.empty()) throw Error("--cpu and --gpus exclude each other", kExitUsage);
  if (a.cpus_per_task > 0 && a.backend != "slurm") throw Error("--cpus-per-task needs --backend slurm", kExitUsage);
  if (a.gpus_per_node > 0 && a.backend != "slurm") throw Error("--gpus-per-node needs --backend slurm", kExitUsage);
  sweeps::SweepLock lock(sweeps::lock_path(a.workdir, sweep.name), sweep_command("status", sweep.file, a.workdir),
                         sweep_command("cancel", sweep.file, a.workdir));
  sweeps::SchedulerOptions o;
  o.worker = self_exe();
  o.gpus_per_job = a.gpus_per_job;
  o.max_parallel = a.max_parallel;
  o.max_retries = a.max_retries;
  o.heartbeat_timeout = a.heartbeat_timeout;
  bool cpu = a.cpu;
  if (a.backend == "local" && !cpu) {
    o.gpus = a.gpus.empty() ? std::vector<int>{} : parse_gpus(a.gpus);
    if (o.gpus.empty())
      for (int i = 0, n = torch_cuda_devices(); i < n; ++i) o.gpus.push_back(i);
    cpu = o.gpus.empty();
  }
  std::unique_ptr<sweeps::JobBackend> backend;
  std::unique_ptr<sweeps::CommandRunner> runner;
  if (a.backend == "slurm") {
    runner = sweeps::make_process_runner();
    sweeps::SlurmOptions so;
    so.partition = a.partition;
    so.time = a.time;
    so.account = a.account;
    so.throttle = a.max_parallel;
    so.signal_lead = a.signal_lead;
    so.cpu = a.cpu;
    so.cpus_per_task = a.cpus_per_task;
    so.gpus_per_node = a.gpus_per_node;
    so.state_dir = (std::filesystem::path(a.workdir) / "sweeps" / sweep.name).string();
    so.record = sweeps::slurm_record_path(a.workdir, sweep.name);
    backend = std::make_unique<sweeps::SlurmBackend>(*runner, so);
    o.poll_interval = 5;
  } else {
    // CPU jobs side by side share the cores: each gets its share (at least one thread). Unless told,
    // one job per core, one thread each: on 2 cores two one-thread jobs finished a sweep in 20 s
    // where one two-thread job at a time (two shards of rows) took 24 (README, Speed).
    // A job of k ranks (options.gpus_per_job, as the scheduler counts them) takes k cores.
    const int ranks = std::max(1, o.gpus_per_job > 0 ? o.gpus_per_job : sweep.options.gpus_per_job);
    if (cpu && o.max_parallel <= 0) o.max_parallel = std::max(1, available_cpus() / ranks);
    int share = cpu && o.max_parallel > 1 ? std::max(1, available_cpus() / (o.max_parallel * ranks)) : 0;
    backend = std::make_unique<sweeps::LocalBackend>(cpu, share);
  }
  auto index = sweeps::open_store_index(a.workdir);
  o.index = index.get();
  // The ETA until this run measures its own: the plan's rate (finished jobs, `gpas bench train`).
  bool cpu_jobs = a.backend == "slurm" ? a.cpu : cpu;
  int k = cpu_jobs ? 0 : (a.gpus_per_job > 0 ? a.gpus_per_job : sweep.options.gpus_per_job);
  sweeps::Plan plan = sweeps::make_plan(sweep, k, sweeps::read_bench_cache(sweeps::bench_cache_path()));
  o.planned_sec_per_flop = sweeps::planned_seconds_per_flop(plan);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  o.stop_requested = [] { return g_signals.load() > 0; };
  o.force_requested = [] { return g_signals.load() > 1; };

  const bool tty = ::isatty(1) && !a.quiet;
  int drawn = 0;
  double last_print = 0;
  std::string last_summary;
  o.on_progress = [&](const sweeps::Progress& p) {
    if (a.quiet) return;
    if (tty) {
      std::string text = sweeps::render_progress(p, false);
      if (drawn > 0) std::printf("\033[%dF\033[J", drawn);
      std::fputs(text.c_str(), stdout);
      drawn = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    } else {
      std::string s = sweeps::summary_line(p);
      std::string key = s.substr(0, s.find(" | elapsed"));
      for (const auto& j : p.jobs)  // where the running jobs are, so a log shows steady progress
        if (j.state == sweeps::State::Running && j.step >= 0)
          s += " | " + j.job->name + " " + std::to_string(j.step) + "/" + std::to_string(j.job->cfg.train.steps);
      if (key != last_summary || now_seconds() - last_print >= a.progress_every) {
        std::printf("%s\n", s.c_str());
        last_summary = key;
        last_print = now_seconds();
      }
    }
    std::fflush(stdout);
  };
  std::printf("sweep %s: %zu jobs on %s%s, runs in %s/runs\n", sweep.name.c_str(), sweep.jobs.size(),
              a.backend == "slurm" ? "slurm" : cpu ? "the CPU" : ("GPUs " + a.gpus).c_str(),
              a.gpus.empty() && !cpu && a.backend == "local" ? std::to_string(o.gpus.size()).c_str() : "",
              a.workdir.c_str());
  if (!a.quiet) std::fputs(sweeps::render_rates(plan).c_str(), stdout);
  sweeps::SweepOutcome out = sweeps::run_sweep(sweep, *backend, o);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  std::printf("sweep %s: %d completed, %d diverged, %d failed, %d cancelled, %d pending%s\n", sweep.name.c_str(),
              out.completed, out.diverged, out.failed, out.cancelled, out.pending,
              out.stopped ? " (stopped; run the same command to resume)" : "");
  if (out.failed > 0)
    std::printf("see `%s` and <run_dir>/worker.log of the failed jobs\n",
                sweep_command("status", sweep.file, a.workdir).c_str());
  return out.exit_code();
}

}  // namespace gpas::cli
