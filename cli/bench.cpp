// gpas bench: speed goals live here, not in timed tests. `bench train` measures training steps.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/train/bench.h"

namespace gpas::cli {

void setup_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks: training step speed, data pipeline speed");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchTrainOptions>();
  auto json = std::make_shared<bool>(false);
  auto* t = bench->add_subcommand("train", "Training-step speed on random tokens (tokens/s, FLOPs/token, MFU)");
  t->add_option("--size", o->size, "size preset")->capture_default_str();
  t->add_option("--norm", o->norm, "normalisation scheme")->capture_default_str();
  t->add_flag("--gpas", o->gpas, "with GPAS");
  t->add_option("--batch", o->batch, "sequences per step")->capture_default_str();
  t->add_option("--seq", o->seq, "sequence length")->capture_default_str();
  t->add_option("--steps", o->steps, "timed steps (after --warmup)")->capture_default_str();
  t->add_option("--warmup", o->warmup, "untimed steps first")->capture_default_str();
  t->add_option("--vocab", o->vocab, "vocabulary size")->capture_default_str();
  t->add_option("--precision", o->precision, "fp32 | bf16 | bf16-mixed")->capture_default_str();
  t->add_option("--device", o->device, "auto | cpu | cuda")->capture_default_str();
  t->add_flag("--json", *json, "one JSON object");
  t->callback([o, json] {
    auto r = bench_train(*o);
    if (*json) {
      std::cout << r.dump() << "\n";
      return;
    }
    std::printf("bench train %s %s%s %s on %s (%d threads), batch %lldx%lld\n",
                o->size.c_str(), o->norm.c_str(), o->gpas ? "+gpas" : "", o->precision.c_str(),
                r["device"].get<std::string>().c_str(), r["threads"].get<int>(),
                (long long)o->batch, (long long)o->seq);
    std::printf("  median step %.3f s   %.0f tokens/s   %.3g FLOPs/token   %.3g FLOP/s\n",
                r["median_step_s"].get<double>(), r["tokens_per_second"].get<double>(),
                r["flops_per_token"].get<double>(), r["achieved_flops"].get<double>());
    std::printf("  MFU %.1f%% of %.3g FLOP/s (%s)\n", 100 * r["mfu"].get<double>(),
                r["peak_flops"].get<double>(), r["peak_kind"].get<std::string>().c_str());
  });
  setup_bench_data(*bench);
}

}  // namespace gpas::cli
