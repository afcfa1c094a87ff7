// `gpas bench plan`: how long `sweep plan` takes for a grid of N jobs (issue 10, case 13's goal:
// 10,000 jobs in under 1 s), split into expanding the sweep file and pricing and rendering the
// plan, in this process: the front, which loads no LibTorch, as `sweep plan` does (its start is
// not counted; bench/startup.py measures starts). The grid is synthetic, its run directories a fresh
// empty workdir.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/common/error.h"
#include "sweeps/plan.h"
#include "sweeps/sweep_file.h"

namespace gpas::cli {

namespace {

struct BenchPlanOptions {
  int64_t jobs = 10000;
  int repeat = 3;
  bool json = false;
};

// lr x seed, as square as N allows: N = rows x cols cells exactly.
std::string grid_yaml(int64_t n) {
  int64_t rows = 1;
  for (int64_t r = 1; r * r <= n; ++r)
    if (n % r == 0) rows = r;
  std::string lr, seed;
  for (int64_t i = 0; i < rows; ++i) lr += (i ? ", " : "") + std::to_string(1e-4 * (1 + double(i) / 100));
  for (int64_t i = 0; i < n / rows; ++i) seed += (i ? ", " : "") + std::to_string(i);
  return "sweep: bench-plan\nbase:\n  model: {size: tiny}\n  data: {source: synthetic}\n"
         "  train: {steps: 6, warmup_steps: 1, batch_size: 4, micro_batch: 4, seq_len: 16}\n"
         "grid:\n  train.lr: [" + lr + "]\n  train.seed: [" + seed + "]\noptions: {max_jobs: " +
         std::to_string(n) + "}\n";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_bench_plan(const BenchPlanOptions& o) {
  if (o.jobs < 1 || o.repeat < 1) throw Error("--jobs and --repeat must be at least 1", kExitUsage);
  namespace fs = std::filesystem;
  const std::string yaml = grid_yaml(o.jobs);
  const fs::path wd = fs::temp_directory_path() / ("gpas-bench-plan-" + std::to_string(::getpid()));
  const auto cache = sweeps::read_bench_cache(sweeps::bench_cache_path());
  double best_expand = 1e30, best_plan = 1e30;
  size_t jobs = 0;
  for (int i = 0; i < o.repeat; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    sweeps::Sweep s = sweeps::load_sweep_text(yaml, "bench plan", ".", wd.string());
    double expand = seconds_since(t0);
    auto t1 = std::chrono::steady_clock::now();
    std::string table = sweeps::render_plan(sweeps::make_plan(s, s.options.gpus_per_job, cache));
    double plan = seconds_since(t1);
    jobs = s.jobs.size();
    if (expand + plan < best_expand + best_plan) best_expand = expand, best_plan = plan;
    if (table.empty()) throw Error("bench plan: an empty plan");
  }
  const double total = best_expand + best_plan;
  const double per_10k = total / double(jobs) * 1e4;
  if (o.json) {
    std::cout << nlohmann::json{{"jobs", jobs}, {"repeat", o.repeat}, {"expand_seconds", best_expand},
                                {"plan_seconds", best_plan}, {"total_seconds", total},
                                {"seconds_per_10000_jobs", per_10k}, {"meets_target", per_10k < 1.0}}
                     .dump()
              << "\n";
    return;
  }
  std::printf("bench plan %zu jobs (best of %d): expand %.3f s, plan and render %.3f s, total %.3f s\n",
              jobs, o.repeat, best_expand, best_plan, total);
  std::printf("verdict   %.3f s per 10,000 jobs: %s the 1 s target (process start not counted)\n", per_10k,
              per_10k < 1.0 ? "meets" : "MISSES");
}

}  // namespace

void setup_bench_plan(CLI::App& bench) {
  auto o = std::make_shared<BenchPlanOptions>();
  auto* p = bench.add_subcommand("plan", "Sweep planning speed: expand and price a grid of N jobs (`sweep plan`)");
  p->add_option("--jobs", o->jobs, "cells of the synthetic grid (lr x seed)")->capture_default_str();
  p->add_option("--repeat", o->repeat, "measurements; the best is reported")->capture_default_str();
  p->add_flag("--json", o->json, "one JSON object");
  p->callback([o] { run_bench_plan(*o); });
}

}  // namespace gpas::cli
