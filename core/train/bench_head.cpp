// `gpas bench head` (bench.h): the head's GEMMs alone, gpas's kernels against ATen's.
#include <algorithm>
#include <chrono>
#include <memory>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/model/head_ops.h"
#include "core/train/bench.h"
#include "core/train/runtime.h"

namespace gpas {

namespace {

template <class F>
double best_seconds(int64_t reps, const F& f) {
  f();  // warm-up
  double best = 1e30;
  for (int64_t i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

nlohmann::json bench_head(const BenchHeadOptions& o) {
  if (o.rows < 1 || o.hidden < 1 || o.vocab < 1 || o.reps < 1)
    throw Error("bench head: --rows, --hidden, --vocab and --reps must be at least 1", kExitUsage);
  setup_threads();  // GPAS_THREADS, else the cores available, as for training
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const int64_t n = o.rows, c = o.hidden, v = o.vocab;
  auto h = torch::randn({n, c}), w = torch::randn({v, c}) * 0.02;
  auto g = torch::softmax(torch::randn({n, v}), 1);  // a softmax, as G nearly is
  const double flops = 2.0 * double(n) * double(c) * double(v);
  const bool own = head_gemms_own_available(h, w);
  nlohmann::json sides = nlohmann::json::array();
  std::vector<std::vector<torch::Tensor>> outs;
  for (bool mine : {true, false}) {
    if (mine && !own) continue;
    // gpas's logits are timed with the packing of W^T that they need (once per loss call in a
    // step, shared by its chunks), as ATen's include OpenBLAS's packing; the packing alone too.
    std::unique_ptr<HeadGemms> gemms;
    auto logits = torch::empty({n, v}), dh = torch::empty({n, c}), dw = torch::empty({v, c});
    const double tp = best_seconds(o.reps, [&] { gemms = std::make_unique<HeadGemms>(w, mine); });
    const double tl = best_seconds(o.reps, [&] {
      gemms = std::make_unique<HeadGemms>(w, mine);
      gemms->logits(h, logits);
    });
    const double td = best_seconds(o.reps, [&] { gemms->dh(g, dh); });
    const double tw = best_seconds(o.reps, [&] { gemms->dw(g, h, dw, false); });
    outs.push_back({logits, dh, dw});
    nlohmann::json products = nlohmann::json::array();
    for (auto [name, t] : {std::pair<const char*, double>{"logits = h W^T", tl}, {"dh = G W", td}, {"dW = G^T h", tw}})
      products.push_back({{"product", name}, {"ms", t * 1e3}, {"gflops", flops / t / 1e9}});
    sides.push_back({{"side", mine ? "gpas" : "aten"},
                     {"products", products},
                     {"total_ms", (tl + td + tw) * 1e3},
                     {"pack_ms", mine ? tp * 1e3 : 0.0}});
  }
  nlohmann::json r = {{"rows", n}, {"hidden", c}, {"vocab", v}, {"threads", torch::get_num_threads()},
                      {"reps", o.reps}, {"gpas_kernels", own}, {"torch_version", TORCH_VERSION}, {"sides", sides}};
  if (outs.size() == 2) {  // how far apart the two sides' results are, relative to each result's largest value
    double worst = 0;
    for (size_t i = 0; i < 3; ++i)
      worst = std::max(worst, (outs[0][i] - outs[1][i]).abs().max().item<double>() /
                                  std::max(1e-30, outs[1][i].abs().max().item<double>()));
    r["max_relative_difference"] = worst;
  }
  return r;
}

}  // namespace gpas
