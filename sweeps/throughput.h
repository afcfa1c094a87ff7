// Measured training throughput for estimates: `gpas bench train` caches what it measured on this
// machine (<cache dir>/bench.json), and sweep plans and the live ETA price a job that no finished
// job has measured at the nearest cached measurement, else at the sweep's nominal rate. The
// benchmark itself is core/train/bench; nothing here runs one or needs LibTorch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sweeps/job.h"

namespace gpas::sweeps {

struct BenchEntry {
  std::string host;
  std::string device;  // "cpu" or the GPU's name
  int threads = 0;     // LibTorch threads of the run
  std::string size, norm, precision;
  bool gpas = false;
  int64_t batch = 0, seq = 0, vocab = 0;
  double flops_per_token = 0;  // core/config/flops.h, of the benchmarked model
  double flops = 0;            // achieved training FLOP/s (one device)
  double time = 0;             // when it was measured, seconds since the epoch
  bool cpu() const { return device == "cpu"; }
};

// $GPAS_CACHE_DIR, else $XDG_CACHE_HOME/gpas, else $HOME/.cache/gpas; then "/bench.json".
std::string bench_cache_path();
// Entries of the cache; none if it is missing, and none (with a warning on stderr) if unreadable.
std::vector<BenchEntry> read_bench_cache(const std::string& path);
// Adds e, replacing the entry with the same host, device, threads, size, norm, gpas, precision,
// batch, seq and vocab. Written atomically (two benches finishing at once may keep only one).
void record_bench(const std::string& path, const BenchEntry& e);
// Threads a worker on this host trains with: $GPAS_THREADS, else the CPUs it may run on.
int worker_threads();

// What prices a job: FLOP/s of one device (a GPU, or one CPU job) and where that number came from.
struct Rate {
  enum class From { Nominal, Bench, Sweep } from = From::Nominal;  // Sweep: its finished jobs (plan.cpp)
  double flops = 0;
  bool exact = false;  // Bench measured this very size, precision and shape
  std::string source;  // "2.1 GFLOP/s measured by `gpas bench train` on 2026-12-02 (...)"
};

// The measurement nearest to a job: of its device kind (CPU or GPU) only; then this host before
// others, the job's precision before others, on a CPU the worker's thread count before others;
// then the nearest FLOPs per token and tokens per micro-batch (log ratio); then the newest.
const BenchEntry* nearest_bench(const std::vector<BenchEntry>& cache, const RunConfig& cfg, bool cpu,
                                const std::string& host, int threads);
Rate job_rate(const std::vector<BenchEntry>& cache, const RunConfig& cfg, const SweepOptions& o, bool cpu);
// The `gpas bench train ...` that measures this job's model, precision and shape on its device.
std::string calibrate_command(const RunConfig& cfg, bool cpu);

}  // namespace gpas::sweeps
