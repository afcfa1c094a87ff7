// gpas bench head: the LM head's three fp32 GEMMs alone, gpas's kernels against ATen's
// (core/train/bench.h's bench_head).
#include <cstdio>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/train/bench.h"

namespace gpas::cli {

void setup_bench_head(CLI::App& bench) {
  auto o = std::make_shared<BenchHeadOptions>();
  auto json = std::make_shared<bool>(false);
  auto* h = bench.add_subcommand(
      "head", "The LM head's three fp32 GEMMs alone on the CPU: gpas's kernels against ATen's torch::mm");
  h->add_option("--rows", o->rows, "rows of a chunk (tokens)")->capture_default_str();
  h->add_option("--hidden", o->hidden, "hidden size")->capture_default_str();
  h->add_option("--vocab", o->vocab, "vocabulary size")->capture_default_str();
  h->add_option("--reps", o->reps, "timed calls of each product; the best counts")->capture_default_str();
  h->add_flag("--json", *json, "one JSON object");
  h->footer("Threads: GPAS_THREADS, else the cores available, as for training. gpas's kernels run where the\n"
            "CPU has AVX-512F and the hidden size is 64 or 128; elsewhere only ATen's side is timed.");
  h->callback([o, json] {
    auto r = bench_head(*o);
    if (*json) {
      std::cout << r.dump() << "\n";
      return;
    }
    std::printf("bench head: %lld rows x hidden %lld x vocabulary %lld, %d thread(s), best of %lld, LibTorch %s\n",
                (long long)o->rows, (long long)o->hidden, (long long)o->vocab, r["threads"].get<int>(),
                (long long)o->reps, r["torch_version"].get<std::string>().c_str());
    if (!r["gpas_kernels"].get<bool>())
      std::printf("  gpas's kernels do not run here (no AVX-512F, or hidden not 64 or 128): ATen's only\n");
    for (const auto& side : r["sides"]) {
      std::printf("  %-5s", side["side"].get<std::string>().c_str());
      for (const auto& p : side["products"])
        std::printf("  %s %7.2f ms %5.1f GFLOP/s;", p["product"].get<std::string>().c_str(), p["ms"].get<double>(),
                    p["gflops"].get<double>());
      std::printf("  all three %.2f ms", side["total_ms"].get<double>());
      if (side["side"] == "gpas") std::printf(" (logits with the packing of W^T, %.2f ms of it)", side["pack_ms"].get<double>());
      std::printf("\n");
    }
    if (r.contains("max_relative_difference"))
      std::printf("  results apart by at most %.1e of their largest value\n", r["max_relative_difference"].get<double>());
  });
}

}  // namespace gpas::cli
