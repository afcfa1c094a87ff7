// gpas bench: speed goals live here, not in timed tests. `bench train` measures training steps and
// caches the rate for sweep estimates (sweeps/throughput.h).
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/common/fs.h"
#include "core/train/bench.h"
#include "sweeps/throughput.h"

namespace gpas::cli {

namespace {
// The measurement as `sweep plan` and `sweep run` price jobs with it.
void record(const nlohmann::json& r, const BenchTrainOptions& o) {
  sweeps::BenchEntry e;
  e.host = hostname();
  e.device = r["device"].get<std::string>();
  e.threads = r["threads"].get<int>();
  // A shape other than the preset's is its own entry, named as reports name it (L16-h64).
  e.size = o.model_sets.empty() ? o.size
                                : "L" + std::to_string(r["layers"].get<int64_t>()) + "-h" +
                                      std::to_string(r["hidden"].get<int64_t>());
  e.norm = o.norm;
  e.gpas = o.gpas;
  e.precision = o.precision;
  e.batch = o.batch;
  e.seq = o.seq;
  e.vocab = o.vocab;
  e.flops_per_token = r["flops_per_token"].get<double>();
  e.flops = r["achieved_flops"].get<double>();
  e.time = now_seconds();
  std::string path = sweeps::bench_cache_path();
  sweeps::record_bench(path, e);
  std::fprintf(stderr, "recorded in %s for sweep estimates (`gpas sweep plan`)\n", path.c_str());
}
}  // namespace

void setup_bench(CLI::App& app) {
  auto* bench = app.add_subcommand(
      "bench", "Benchmarks: training step speed, the LM head's GEMMs, data pipeline speed, sweep planning speed");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchTrainOptions>();
  auto json = std::make_shared<bool>(false);
  auto no_cache = std::make_shared<bool>(false);
  auto* t = bench->add_subcommand("train", "Training-step speed on random tokens (tokens/s, FLOPs/token, MFU)");
  t->add_option("--size", o->size, "size preset")->capture_default_str();
  t->add_option("--norm", o->norm, "normalisation scheme")->capture_default_str();
  auto layers = std::make_shared<int64_t>(0), hidden = std::make_shared<int64_t>(0);
  t->add_option("--layers", *layers, "model.layers (default: the preset's)");
  t->add_option("--hidden", *hidden, "model.hidden (default: the preset's; heads and intermediate stay unless set)");
  t->add_option("-s,--set", o->model_sets, "any model.* key, e.g. --set model.intermediate=176 --set model.qk_norm=head");
  t->add_flag("--gpas", o->gpas, "with GPAS");
  t->add_option("--batch", o->batch, "sequences per step")->capture_default_str();
  t->add_option("--seq", o->seq, "sequence length")->capture_default_str();
  t->add_option("--steps", o->steps, "timed steps (after --warmup)")->capture_default_str();
  t->add_option("--warmup", o->warmup, "untimed steps first")->capture_default_str();
  t->add_option("--vocab", o->vocab, "vocabulary size")->capture_default_str();
  t->add_option("--precision", o->precision, "fp32 | bf16 | bf16-mixed")->capture_default_str();
  t->add_option("--device", o->device, "auto | cpu | cuda")->capture_default_str();
  auto unfused = std::make_shared<bool>(false);
  t->add_flag("--no-fused-adam", *unfused, "torch's per-parameter Adam step, not the fused kernel");
  t->add_flag("--fused-norm", o->fused_norm,
              "residual add + GPAS + RMSNorm as one op (train.fused_norm; Pre-LN-family layers)");
  t->add_flag("--breakdown", o->breakdown,
              "then time each part of the step alone: attention, MLP, norms + residual + GPAS, "
              "embedding, head + loss, optimizer");
  t->add_flag("--json", *json, "one JSON object");
  t->add_flag("--no-cache", *no_cache, "do not record the rate for sweep estimates");
  t->footer("The rate is recorded in $XDG_CACHE_HOME/gpas/bench.json (default ~/.cache/gpas; $GPAS_CACHE_DIR\n"
            "overrides), where `gpas sweep plan` and `sweep run` take it for the nearest job shape.");
  t->callback([o, json, no_cache, unfused, layers, hidden] {
    o->fused_adam = !*unfused;
    if (*layers > 0) o->model_sets.insert(o->model_sets.begin(), "model.layers=" + std::to_string(*layers));
    if (*hidden > 0) o->model_sets.insert(o->model_sets.begin(), "model.hidden=" + std::to_string(*hidden));
    auto r = bench_train(*o);
    if (!*no_cache) record(r, *o);
    if (*json) {
      std::cout << r.dump() << "\n";
      return;
    }
    std::printf("bench train %s (%lld layers x %lld) %s%s %s on %s (%d threads), batch %lldx%lld\n",
                o->size.c_str(), (long long)r["layers"].get<int64_t>(), (long long)r["hidden"].get<int64_t>(),
                o->norm.c_str(), o->gpas ? "+gpas" : "", o->precision.c_str(),
                r["device"].get<std::string>().c_str(), r["threads"].get<int>(),
                (long long)o->batch, (long long)o->seq);
    std::printf("  median step %.3f s   %.0f tokens/s   %.3g FLOPs/token   %.3g FLOP/s\n",
                r["median_step_s"].get<double>(), r["tokens_per_second"].get<double>(),
                r["flops_per_token"].get<double>(), r["achieved_flops"].get<double>());
    std::printf("  MFU %.1f%% of %.3g FLOP/s (%s)\n", 100 * r["mfu"].get<double>(),
                r["peak_flops"].get<double>(), r["peak_kind"].get<std::string>().c_str());
    std::printf("  Adam step: %s\n", r["fused_adam"].get<bool>() ? "fused kernel" : "per-parameter");
    if (r.value("row_shards", 1) > 1)
      std::printf("  rows: %d shards side by side, one thread each\n", r["row_shards"].get<int>());
    std::printf("  residual + GPAS + norm: %s\n",
                r["fused_norm"] == "off"    ? "separate ops"
                : r["fused_norm"] == "kernel" ? "fused, CUDA kernel"
                                              : "fused, ATen ops");
    if (r.contains("breakdown")) {
      const auto& b = r["breakdown"];
      std::printf("  breakdown (each part alone, forward + backward%s):\n",
                  b.value("shards", 1) > 1 ? ", on one shard's rows on one thread" : "");
      for (const auto& p : b["parts"])
        std::printf("    %-20s %3lld x %9.3f ms = %9.3f ms  %5.1f%% of the step\n",
                    p["part"].get<std::string>().c_str(), (long long)p["count"].get<int64_t>(),
                    p["ms_each"].get<double>(), p["ms_per_step"].get<double>(),
                    100 * p["share_of_step"].get<double>());
      std::printf("    the parts sum to %.0f%% of the step; one whole layer %.3f ms, its parts %.3f ms\n",
                  100 * b["sum_of_parts_share"].get<double>(), b["layer_ms"].get<double>(),
                  b["layer_parts_ms"].get<double>());
    }
  });
  setup_bench_head(*bench);
  setup_bench_data(*bench);
  setup_bench_plan(*bench);
}

}  // namespace gpas::cli
