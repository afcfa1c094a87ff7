// `gpas bench data`: tokenisation MB/s (one core, all cores) and loader tokens/s (pad, pack),
// with the verdict against the 2M tokens/s target and the 71m trainer's consumption.
// Registered on the `bench` subcommand by setup_bench (bench.cpp) through setup_bench_data.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/data/bench.h"

namespace gpas::cli {

void setup_bench_data(CLI::App& bench) {
  auto o = std::make_shared<BenchDataOptions>();
  auto json = std::make_shared<bool>(false);
  auto* d = bench.add_subcommand(
      "data", "Data pipeline speed: SentencePiece tokenisation MB/s per core and loader tokens/s "
              "(defaults to the Brown corpus, built when missing)");
  d->add_option("--corpus", o->corpus, "text to tokenise (default: Brown)");
  d->add_option("--tokenizer", o->tokenizer, "SentencePiece .model (default: Brown's)");
  d->add_option("--prepared", o->prepared, "prepared directory for the loader (default: Brown's)");
  d->add_option("--batch", o->batch, "loader rows per batch")->capture_default_str();
  d->add_option("--seq", o->seq, "loader sequence length")->capture_default_str();
  d->add_option("--seconds", o->seconds, "seconds per measurement")->capture_default_str();
  d->add_option("--threads", o->threads, "tokenising threads; 0 = all cores")->capture_default_str();
  d->add_option("--trainer-tokens-per-second", o->trainer_tps,
                 "judge the loader against this measured trainer speed (e.g. `gpas bench train "
                 "--size 71m` on the GPU) instead of the 71m preset's bound at 100% of an H100's peak");
  d->add_flag("--json", *json, "one JSON object");
  d->callback([o, json] {
    auto r = bench_data(*o);
    if (*json) {
      std::cout << r.dump() << "\n";
      return;
    }
    const auto& t = r["tokenize"];
    std::printf("tokenise  %.2f MB/s on one core, %.2f MB/s on %d threads (%.2f MB/s per core), "
                "%.0f tokens/s\n",
                t["mb_per_second_one_core"].get<double>(), t["mb_per_second_all"].get<double>(),
                t["threads"].get<int>(), t["mb_per_second_per_core"].get<double>(),
                t["tokens_per_second_all"].get<double>());
    for (const char* m : {"pad", "pack"}) {
      const auto& l = r["loader"][m];
      std::printf("loader %-4s %.3g tokens/s (%.3g loss tokens/s), batch %lldx%lld\n", m,
                  l["tokens_per_second"].get<double>(), l["loss_tokens_per_second"].get<double>(),
                  (long long)o->batch, (long long)o->seq);
    }
    const auto& v = r["verdict"];
    std::printf("verdict   %s: %s mode (the slower) %.3g tokens/s = %.2fx the %.3g tokens/s target; "
                "%.2fx the %.3g tokens/s the trainer consumes (%s)\n",
                v["meets_target"].get<bool>() ? "meets the target" : "BELOW the target",
                v["slower_mode"].get<std::string>().c_str(),
                v["loader_tokens_per_second"].get<double>(), v["ratio_to_target"].get<double>(),
                v["target_tokens_per_second"].get<double>(), v["ratio_to_trainer"].get<double>(),
                v["trainer"]["tokens_per_second"].get<double>(),
                v["trainer"]["what"].get<std::string>().c_str());
  });
}

}  // namespace gpas::cli
