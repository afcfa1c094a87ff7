// gpas sweep plan | run | status | cancel: parse, load the sweep file, call gpas_sweeps. Also
// registers `gpas ablate` (ablate.cpp) so that main.cpp has one entry for both.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/sweep_checks.h"
#include "cli/sweep_common.h"
#include "cli/sweep_invocation.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "sweeps/lock.h"
#include "sweeps/plan.h"
#include "sweeps/slurm_backend.h"
#include "sweeps/sweep_file.h"

namespace gpas::cli {

void setup_ablate(CLI::App& app);  // ablate.cpp
void setup_sweep_list(CLI::App& sweep);  // sweep_list.cpp

namespace {

struct PlanArgs {
  std::string file;
  std::string workdir = ".";
  std::vector<std::string> sets;
  bool json = false;
  bool cpu = false;
  int gpus_per_job = 0;
};

// The --set overrides and device of the sweep's last `sweep run`, where none are given here.
PlanArgs with_invocation(PlanArgs a) {
  SweepRunArgs rec;
  rec.workdir = a.workdir;
  if (!apply_invocation(sweeps::sweep_name_of(a.file), rec, [](const char*) { return false; })) return a;
  if (a.sets.empty()) a.sets = rec.sets;
  if (!a.cpu && a.gpus_per_job == 0) a.cpu = rec.cpu, a.gpus_per_job = rec.gpus_per_job;
  return a;
}

// One look at the sweep: its plan (every job's state from its journal and lock now) and whether
// an orchestrator holds it. Returns whether anything is still moving (a job running, or an
// orchestrator that will start the pending ones).
bool print_plan(const PlanArgs& a, sweeps::Plan& p, bool status, bool& failed) {
  sweeps::read_states(p);
  long holder = sweeps::lock_holder(sweeps::lock_path(a.workdir, p.sweep));
  if (a.json) {
    sweeps::write_plan_json(std::cout, p, {{"orchestrator_pid", holder > 0 ? holder : 0}});
  } else {
    sweeps::write_plan(std::cout, p);
    if (status)
      std::cout << (holder > 0 ? "orchestrator running (pid " + std::to_string(holder) + ")\n"
                               : "no orchestrator running; `" + rerun_hint(a.file, a.workdir) + "` continues it\n");
  }
  std::cout.flush();
  failed = p.count(sweeps::State::Failed) > 0;
  return holder > 0 || p.count(sweeps::State::Running) > 0;
}

int run_plan(const PlanArgs& given, bool status, double watch = 0) {
  PlanArgs a = with_invocation(given);
  // Each job kept as its plan row only, as it is made: a 10^6-cell grid in bounded memory.
  const auto bench = sweeps::read_bench_cache(sweeps::bench_cache_path());
  DataChecks data;
  sweeps::Plan p;
  sweeps::load_sweep_each(a.file, a.workdir, a.sets, [&](const sweeps::Sweep& s, sweeps::Job&& j) {
    if (p.rows.empty())  // the first job: the sweep's options are known
      p = sweeps::start_plan(s, a.cpu ? 0 : (a.gpus_per_job > 0 ? a.gpus_per_job : s.options.gpus_per_job));
    if (!status) data.add(j);
    sweeps::add_job(p, j, s.options, bench);
  });
  if (!status) {  // what `sweep run` would refuse, as warnings
    SweepRunArgs ra;
    ra.cpu = a.cpu;
    auto problems = option_problems(ra), more = data.problems();
    problems.insert(problems.end(), more.begin(), more.end());
    for (const auto& w : problems) std::cerr << "gpas: warning: " << w << "\n";
  }
  bool failed = false;
  // --watch: redraw until nothing moves (the orchestrator gone and no job running).
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  while (true) {
    if (watch > 0 && tty) std::cout << "\033[H\033[2J" << now_iso8601() << "  (every " << watch << " s; Ctrl-C stops watching)\n";
    bool moving = print_plan(a, p, status, failed);
    if (watch <= 0 || !moving) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(watch * 1000)));
    if (!tty) std::cout << "\n";
  }
  if (!status) return 0;
  return failed ? kExitError : kExitOk;
}

int run_cancel(const PlanArgs& given, double wait) {
  PlanArgs a = with_invocation(given);
  sweeps::Sweep s = sweeps::load_sweep(a.file, a.workdir, a.sets);
  std::string lock = sweeps::lock_path(a.workdir, s.name);
  long pid = sweeps::lock_holder(lock);
  if (pid <= 0) {
    int n = sweeps::cancel_recorded_slurm_jobs(a.workdir, s.name);
    std::cout << (n > 0 ? "no orchestrator running; asked " + std::to_string(n) + " Slurm job arrays to stop\n"
                        : "sweep " + s.name + " is not running\n");
    return 0;
  }
  if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0) throw Error("cannot signal the orchestrator (pid " + std::to_string(pid) + ")");
  std::cout << "asked the orchestrator (pid " << pid << ") to stop; workers checkpoint first" << std::endl;
  for (double t = 0; t < wait; t += 0.5) {
    if (sweeps::lock_holder(lock) <= 0) {
      std::cout << "stopped; `" << rerun_hint(a.file, a.workdir) << "` resumes it\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::cout << "still stopping after " << wait << " s (checkpoints can take a while)\n";
  return 0;
}

void add_plan_options(CLI::App* c, PlanArgs& a) {
  c->add_option("file", a.file, "sweep file (YAML)")->required()->check(CLI::ExistingFile);
  c->add_option("-w,--workdir", a.workdir, "where runs/ and gpas.db live")->capture_default_str();
  c->add_option("-s,--set", a.sets, "override a key in every job: --set train.steps=20");
}

}  // namespace

void setup_sweep(CLI::App& app) {
  auto* sweep = app.add_subcommand("sweep", "Plan, run, watch and stop a grid of runs from a sweep file");
  sweep->require_subcommand(1);
  sweep->footer("Sweep files: experiments/README.md. Example:\n"
                "  gpas sweep run experiments/quickstart.yaml --cpu --workdir work");

  auto pa = std::make_shared<PlanArgs>();
  auto* plan = sweep->add_subcommand("plan", "List every job, its state and estimated device-hours; runs nothing");
  add_plan_options(plan, *pa);
  plan->add_flag("--json", pa->json, "one JSON object for scripts");
  plan->add_flag("--cpu", pa->cpu, "estimate CPU hours instead of GPU-hours");
  plan->add_option("--gpus-per-job", pa->gpus_per_job, "GPUs per job for the estimate");
  plan->callback([pa] { run_plan(*pa, false); });

  auto sa = std::make_shared<PlanArgs>();
  auto* status = sweep->add_subcommand("status", "States of a sweep's jobs (from another terminal too)");
  add_plan_options(status, *sa);
  status->add_flag("--json", sa->json, "one JSON object for scripts");
  auto watch = std::make_shared<bool>(false);
  auto interval = std::make_shared<double>(2);
  status->add_flag("--watch", *watch, "redraw until no job runs and no orchestrator is left");
  status->add_option("--interval", *interval, "seconds between redraws of --watch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  status->callback([sa, watch, interval] {
    int code = run_plan(*sa, true, *watch ? *interval : 0);
    if (code != 0) throw CLI::RuntimeError(code);
  });

  auto ca = std::make_shared<PlanArgs>();
  auto wait = std::make_shared<double>(600);
  auto* cancel = sweep->add_subcommand("cancel", "Stop a running sweep: workers checkpoint, jobs are recorded cancelled");
  add_plan_options(cancel, *ca);
  cancel->add_option("--wait", *wait, "seconds to wait for it to stop")->capture_default_str();
  cancel->callback([ca, wait] { run_cancel(*ca, *wait); });

  auto ra = std::make_shared<SweepRunArgs>();
  auto file = std::make_shared<std::string>();
  auto* run = sweep->add_subcommand("run", "Run every job that is not completed or diverged");
  run->add_option("file", *file, "sweep file (YAML)")->required()->check(CLI::ExistingFile);
  add_run_options(*run, *ra);
  run->footer("Exit codes: 0 every job completed or diverged, 1 some failed, 130 stopped (rerun resumes).");
  run->callback([ra, file, run] {
    // A plain rerun takes the sets, device and backend of the last run of this sweep.
    std::string name = sweeps::sweep_name_of(*file);
    apply_invocation(name, *ra, [run](const char* opt) { return run->count(opt) > 0; });
    sweeps::Sweep s = sweeps::load_sweep(*file, ra->workdir, ra->sets);
    if (auto problems = prelaunch_problems(s, *ra); !problems.empty()) {
      std::string all;
      for (const auto& p : problems) all += "\n  " + p;
      throw Error("sweep " + name + " was not started:" + all + "\nfix these, then run `" +
                  rerun_hint(*file, ra->workdir) + "` again");
    }
    save_invocation(name, *ra);
    int code = run_sweep_cli(s, *ra);
    if (code != 0) throw CLI::RuntimeError(code);
  });

  setup_sweep_list(*sweep);
  setup_ablate(app);
}

}  // namespace gpas::cli
