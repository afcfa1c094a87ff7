// The bench cache (a JSON file of measurements) and the choice of the rate that prices a job.
#include "sweeps/throughput.h"

#include <sched.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/common/fs.h"
#include "core/config/flops.h"
#include "core/config/presets.h"
#include "sweeps/plan.h"

namespace gpas::sweeps {

std::string bench_cache_path() {
  auto env = [](const char* k) -> std::string {
    const char* v = std::getenv(k);
    return v && *v ? v : "";
  };
  std::string dir = env("GPAS_CACHE_DIR");
  if (dir.empty() && !env("XDG_CACHE_HOME").empty()) dir = env("XDG_CACHE_HOME") + "/gpas";
  if (dir.empty()) dir = (env("HOME").empty() ? std::string("/tmp") : env("HOME")) + "/.cache/gpas";
  return dir + "/bench.json";
}

namespace {

nlohmann::json to_json(const BenchEntry& e) {
  return {{"host", e.host}, {"device", e.device}, {"threads", e.threads}, {"size", e.size},
          {"norm", e.norm}, {"gpas", e.gpas}, {"precision", e.precision}, {"batch", e.batch},
          {"seq", e.seq}, {"vocab", e.vocab}, {"flops_per_token", e.flops_per_token},
          {"achieved_flops", e.flops}, {"time", e.time}};
}

BenchEntry from_json(const nlohmann::json& j) {
  BenchEntry e;
  e.host = j.at("host").get<std::string>();
  e.device = j.at("device").get<std::string>();
  e.threads = j.value("threads", 0);
  e.size = j.value("size", "");
  e.norm = j.value("norm", "");
  e.gpas = j.value("gpas", false);
  e.precision = j.value("precision", "fp32");
  e.batch = j.value("batch", int64_t{0});
  e.seq = j.value("seq", int64_t{0});
  e.vocab = j.value("vocab", int64_t{0});
  e.flops_per_token = j.at("flops_per_token").get<double>();
  e.flops = j.at("achieved_flops").get<double>();
  e.time = j.value("time", 0.0);
  return e;
}

auto key(const BenchEntry& e) {
  return std::tie(e.host, e.device, e.threads, e.size, e.norm, e.gpas, e.precision, e.batch, e.seq, e.vocab);
}

std::string day_of(double t) {
  std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char b[16];
  std::strftime(b, sizeof b, "%Y-%m-%d", &tm);
  return b;
}

std::string flops_text(double f) {
  char b[32];
  if (f >= 1e12) std::snprintf(b, sizeof b, "%.3g TFLOP/s", f / 1e12);
  else std::snprintf(b, sizeof b, "%.3g GFLOP/s", f / 1e9);
  return b;
}

int64_t tokens_per_micro(const RunConfig& cfg) {
  int64_t micro = cfg.train.micro_batch > 0 ? cfg.train.micro_batch : cfg.train.batch_size;
  return micro * cfg.train.seq_len;
}

}  // namespace

std::vector<BenchEntry> read_bench_cache(const std::string& path) {
  std::vector<BenchEntry> out;
  if (!path_exists(path)) return out;
  try {
    auto cache = nlohmann::json::parse(read_file(path));  // kept: a range-for over .at() of a temporary dangles
    for (const auto& j : cache.at("entries")) out.push_back(from_json(j));
  } catch (const std::exception& e) {
    std::cerr << "gpas: warning: ignoring the bench cache " << path << " (" << e.what()
              << "); `gpas bench train` writes a new one\n";
    out.clear();
  }
  return out;
}

void record_bench(const std::string& path, const BenchEntry& e) {
  std::vector<BenchEntry> all = read_bench_cache(path);  // an unreadable one is replaced
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& o : all)
    if (key(o) != key(e)) entries.push_back(to_json(o));
  entries.push_back(to_json(e));
  make_dirs(std::filesystem::path(path).parent_path().string());
  write_file_atomic(path, nlohmann::json{{"version", 1}, {"entries", entries}}.dump(1) + "\n");
}

int worker_threads() {
  if (const char* env = std::getenv("GPAS_THREADS"); env && std::atoi(env) > 0) return std::atoi(env);
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
}

const BenchEntry* nearest_bench(const std::vector<BenchEntry>& cache, const RunConfig& cfg, bool cpu,
                                const std::string& host, int threads) {
  const double fpt = flops_per_token(priced_model(cfg), cfg.train.seq_len);
  const double tokens = static_cast<double>(tokens_per_micro(cfg));
  const BenchEntry* best = nullptr;
  std::tuple<bool, bool, bool, double, double> best_score;
  for (const auto& e : cache) {
    if (e.cpu() != cpu || e.flops <= 0 || e.flops_per_token <= 0) continue;
    double shape = std::fabs(std::log(e.flops_per_token / fpt)) +
                   (e.batch > 0 && e.seq > 0 ? std::fabs(std::log(double(e.batch * e.seq) / tokens)) : 1.0);
    auto score = std::make_tuple(e.host != host, e.precision != cfg.train.precision,
                                 cpu && e.threads != threads, shape, -e.time);
    if (!best || score < best_score) best = &e, best_score = score;
  }
  return best;
}

Rate job_rate(const std::vector<BenchEntry>& cache, const RunConfig& cfg, const SweepOptions& o, bool cpu) {
  Rate r;
  std::string host = cache.empty() ? "" : hostname();  // (a plan of 10,000 jobs asks 10,000 times)
  const BenchEntry* near = cache.empty() ? nullptr : nearest_bench(cache, cfg, cpu, host, worker_threads());
  if (!near) {
    r.flops = cpu ? o.cpu_gflops * 1e9 : o.gpu_tflops * 1e12;
    r.source = "nominal " + flops_text(r.flops) + (cpu ? " per CPU job (options.cpu_gflops)" : " per GPU (options.gpu_tflops)");
    return r;
  }
  const BenchEntry& b = *near;
  r.from = Rate::From::Bench;
  r.flops = b.flops;
  int64_t micro = cfg.train.micro_batch > 0 ? cfg.train.micro_batch : cfg.train.batch_size;
  r.exact = b.size == cfg.model.size && b.precision == cfg.train.precision && b.batch == micro &&
            b.seq == cfg.train.seq_len;
  r.source = flops_text(b.flops) + " measured by `gpas bench train` on " + day_of(b.time) + " (" + b.size + " " +
             b.precision + ", batch " + std::to_string(b.batch) + "x" + std::to_string(b.seq) +
             (b.cpu() ? ", " + std::to_string(b.threads) + (b.threads == 1 ? " thread" : " threads") : ", " + b.device) +
             (b.host == host ? "" : ", on host " + b.host) + ")";
  return r;
}

std::string calibrate_command(const RunConfig& cfg, bool cpu) {
  ModelConfig m = priced_model(cfg);
  int64_t micro = cfg.train.micro_batch > 0 ? cfg.train.micro_batch : cfg.train.batch_size;
  std::string c = "gpas bench train --device " + std::string(cpu ? "cpu" : "cuda") + " --size " + m.size;
  // The shape where it differs from the preset's (the CPU tables' 16 x 64 is tiny's with 16 layers).
  if (const SizePreset* p = find_size_preset(m.size)) {
    if (m.layers != p->layers) c += " --layers " + std::to_string(m.layers);
    if (m.hidden != p->hidden) c += " --hidden " + std::to_string(m.hidden);
    if (m.heads != p->heads) c += " --set model.heads=" + std::to_string(m.heads);
    if (m.intermediate != p->intermediate) c += " --set model.intermediate=" + std::to_string(m.intermediate);
  }
  if (m.norm != "pre") c += " --norm " + m.norm;
  if (m.qk_norm != "auto") c += " --set model.qk_norm=" + m.qk_norm;
  if (m.gpas.enabled) c += " --gpas";
  c += " --batch " + std::to_string(micro) + " --seq " + std::to_string(cfg.train.seq_len) + " --vocab " +
       std::to_string(m.vocab_size) + " --precision " + cfg.train.precision + " --steps 10 --warmup 2";
  return c;
}

}  // namespace gpas::sweeps
