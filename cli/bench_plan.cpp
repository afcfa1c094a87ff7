// `gpas bench plan`: how long `sweep plan` takes for a grid of N jobs (issue 10, case 13's goal:
// 10,000 jobs in under 1 s) and how much memory (issue 25's: a 10^6-cell grid in at most 1 GB),
// split into expanding the sweep file and pricing and rendering the plan, in this process: the
// front, which loads no LibTorch, the way `sweep plan` does it (each job priced as it is made; the
// table counted, not printed). Its start is not counted (bench/startup.py measures starts). The
// grid is synthetic, its run directories a fresh empty workdir.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <streambuf>

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/common/error.h"
#include "core/common/fs.h"
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

// Counts what `sweep plan` would print, so that rendering is timed without a terminal's cost.
struct CountingBuffer : std::streambuf {
  size_t bytes = 0;
  int_type overflow(int_type c) override {
    ++bytes;
    return c;
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += static_cast<size_t>(n);
    return n;
  }
};

double peak_rss_bytes() {
  struct rusage u {};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) * 1024;  // kilobytes on Linux
}

void run_bench_plan(const BenchPlanOptions& o) {
  if (o.jobs < 1 || o.repeat < 1) throw Error("--jobs and --repeat must be at least 1", kExitUsage);
  namespace fs = std::filesystem;
  const fs::path wd = fs::temp_directory_path() / ("gpas-bench-plan-" + std::to_string(::getpid()));
  fs::create_directories(wd);
  const std::string file = (wd / "bench-plan.yaml").string();
  write_file_atomic(file, grid_yaml(o.jobs));
  const auto cache = sweeps::read_bench_cache(sweeps::bench_cache_path());
  double best_expand = 1e30, best_plan = 1e30;
  size_t jobs = 0, printed = 0;
  for (int i = 0; i < o.repeat; ++i) {
    // As `sweep plan` does it: each job priced as it is made, then states read and the table
    // written. Expanding is the whole time less the pricing and the rendering.
    auto t0 = std::chrono::steady_clock::now();
    double plan = 0;
    sweeps::Plan p;
    sweeps::load_sweep_each(file, wd.string(), {}, [&](const sweeps::Sweep& s, sweeps::Job&& j) {
      auto t = std::chrono::steady_clock::now();
      if (p.rows.empty()) p = sweeps::start_plan(s, s.options.gpus_per_job);
      sweeps::add_job(p, j, s.options, cache);
      plan += seconds_since(t);
    });
    auto t1 = std::chrono::steady_clock::now();
    sweeps::read_states(p);
    CountingBuffer buffer;
    std::ostream out(&buffer);
    sweeps::write_plan(out, p);
    plan += seconds_since(t1);
    double expand = seconds_since(t0) - plan;
    jobs = p.rows.size();
    printed = buffer.bytes;
    if (expand + plan < best_expand + best_plan) best_expand = expand, best_plan = plan;
    if (printed == 0) throw Error("bench plan: an empty plan");
  }
  std::error_code ec;
  fs::remove_all(wd, ec);
  const double total = best_expand + best_plan;
  const double per_10k = total / double(jobs) * 1e4;
  const double peak = peak_rss_bytes();
  if (o.json) {
    std::cout << nlohmann::json{{"jobs", jobs}, {"repeat", o.repeat}, {"expand_seconds", best_expand},
                                {"plan_seconds", best_plan}, {"total_seconds", total},
                                {"seconds_per_10000_jobs", per_10k}, {"meets_target", per_10k < 1.0},
                                {"table_bytes", printed}, {"peak_memory_bytes", peak},
                                {"bytes_per_job", peak / double(jobs)}}
                     .dump()
              << "\n";
    return;
  }
  std::printf("bench plan %zu jobs (best of %d): expand %.3f s, price and render %.3f s, total %.3f s\n",
              jobs, o.repeat, best_expand, best_plan, total);
  std::printf("memory    peak %.0f MB (process max RSS), %.0f bytes a job; table %.1f MB\n", peak / 1e6,
              peak / double(jobs), double(printed) / 1e6);
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
