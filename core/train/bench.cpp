#include "core/train/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/config/config.h"
#include "core/config/config_yaml.h"
#include "core/config/flops.h"
#include "core/config/presets.h"
#include "core/model/compat.h"
#include "core/model/fused_norm.h"
#include "core/model/model.h"
#include "core/train/distributed.h"
#include "core/train/optimizers.h"
#include "core/train/runtime.h"
#include "core/train/step.h"

namespace gpas {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

// fp32 matmul FLOP/s on this machine now, the CPU's "peak" for MFU (best of a few sizes).
double measure_cpu_matmul_peak() {
  double best = 0;
  for (int64_t n : {512, 1024, 2048}) {
    auto a = torch::randn({n, n}), b = torch::randn({n, n});
    torch::mm(a, b);  // warm-up
    int reps = n >= 2048 ? 3 : 10;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) torch::mm(a, b);
    best = std::max(best, 2.0 * n * n * n * reps / seconds_since(t0));
  }
  return best;
}

std::string gpu_name() {
  std::string name;
  if (FILE* f = ::popen("nvidia-smi --query-gpu=name --format=csv,noheader -i 0 2>/dev/null", "r")) {
    char buf[256];
    if (std::fgets(buf, sizeof(buf), f)) name = buf;
    ::pclose(f);
  }
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  return name.empty() ? "cuda" : name;
}

double gpu_bf16_peak(const std::string& name) {
  // Dense bf16 tensor-core peaks from the vendors' data sheets.
  if (name.find("H100") != std::string::npos || name.find("H200") != std::string::npos) return kH100DenseBf16Flops;
  if (name.find("A100") != std::string::npos) return 312e12;
  return 0;
}

// The step's memory high-water mark: CUDA's allocator peak, or the process's max RSS on the CPU.
int64_t peak_memory_bytes(const torch::Device& d) {
  if (d.is_cuda()) return compat::cuda_peak_allocated(d.index());
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

// Median wall time of fn() over `reps` runs after one warm-up, the device synchronised around
// each; setup() runs before each, untimed.
template <class F, class S>
double median_time(const torch::Device& dev, int reps, F&& fn, S&& setup) {
  std::vector<double> t;
  for (int r = 0; r <= reps; ++r) {
    setup();
    sync(dev);
    auto t0 = std::chrono::steady_clock::now();
    fn();
    sync(dev);
    if (r > 0) t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// The same for `piece` (a forward and its backward), the gradients dropped before each run, as a
// step does.
template <class F>
double time_piece(Transformer& model, const torch::Device& dev, int reps, F&& piece) {
  return median_time(dev, reps, piece, [&] {
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  });
}

// Where a step's time goes (`--breakdown`): each part of the model timed alone on the step's
// shapes, forward and backward, times its count per step. "norm_residual_gpas" is a layer with
// attention and the MLP replaced by the identity (BlockImpl::forward_sites): its RMSNorms,
// residual adds and GPAS, what a fused kernel would replace. Parts timed alone lose the overlap
// and gain the launches of a real step, so their sum is compared with the step, not forced to it.
nlohmann::json step_breakdown(Transformer& model, TrainStep& step, const DeviceBatch& b,
                              const torch::Device& dev, double step_s) {
  const int reps = dev.is_cuda() ? 10 : 5;
  const int64_t L = model->layer_count();
  auto opts = model->embed_tokens->weight.options();
  // Where the step runs shards of rows side by side (cpu_shards), a part is timed on one shard's
  // rows on one thread, as each shard runs it.
  const int64_t shards = cpu_shards(dev, b.inputs.size(0)), threads = at::get_num_threads();
  struct Threads {  // one thread while the parts are timed, the step's count again after
    int64_t n;
    ~Threads() { at::set_num_threads(int(n)); }
  } restore{threads};
  if (shards > 1) at::set_num_threads(1);
  const int64_t B = b.inputs.size(0) / shards, T = b.inputs.size(1), C = model->cfg.hidden;
  DeviceBatch shard = b;
  shard.inputs = b.inputs.slice(0, 0, B);
  shard.targets = b.targets.slice(0, 0, B);
  torch::manual_seed(2);
  auto x = torch::randn({B, T, C}, opts).requires_grad_(true);  // (B, T, C)
  auto g = torch::randn({B, T, C}, opts);                        // (B, T, C)
  auto o = torch::randn({B, T, C}, opts).requires_grad_(true);  // a sub-layer's output (fused)
  Block block = model->blocks[0];
  auto backward = [&](const torch::Tensor& y) { y.backward(g); };
  struct Part { const char* name; int64_t count; double s; };
  std::vector<Part> parts = {
      {"attention", L, time_piece(model, dev, reps, [&] { backward(block->self_attn(x, model->rope)); })},
      {"mlp", L, time_piece(model, dev, reps, [&] { backward(block->mlp(x)); })},
      {"norm_residual_gpas", L, time_piece(model, dev, reps, [&] {
         if (!model->fused_norm || !block->fusable()) return backward(block->forward_sites(x));
         auto [h, n] = block->forward_sites_fused(x, o);
         torch::autograd::backward({h, n}, {g, g});
       })},
      {"embedding", 1, time_piece(model, dev, reps, [&] { backward(model->embed_tokens(shard.inputs)); })},
      {"head_and_loss", 1, time_piece(model, dev, reps, [&] {
         model->chunked_loss_sum(model->norm(x), shard.targets).backward();
       })},
  };
  double layer_s = time_piece(model, dev, reps, [&] { backward(block(x, model->rope)); });
  at::set_num_threads(int(threads));
  // The update alone, on the gradients of one backward of the whole model.
  model->chunked_loss_sum(model->hidden(b.inputs), b.targets).backward();
  parts.push_back({"optimizer", 1, median_time(dev, reps, [&] { step.optimizer().step(); }, [] {})});
  nlohmann::json rows = nlohmann::json::array();
  double sum = 0;
  for (const Part& p : parts) {
    double per_step = p.s * double(p.count);
    sum += per_step;
    rows.push_back({{"part", p.name}, {"count", p.count}, {"ms_each", p.s * 1e3},
                    {"ms_per_step", per_step * 1e3}, {"share_of_step", per_step / step_s}});
  }
  return {{"parts", rows},
          {"step_ms", step_s * 1e3},
          {"sum_of_parts_share", sum / step_s},
          {"layer_ms", layer_s * 1e3},
          {"layer_parts_ms", (parts[0].s + parts[1].s + parts[2].s) * 1e3},
          {"how", "each part timed alone on the step's shapes (forward + backward), median of " +
                      std::to_string(reps) + " runs, times its count per step; shares are of the "
                      "median step" + (shards > 1 ? "; the step runs " + std::to_string(shards) +
                      " shards of rows side by side, so each part but the optimizer is timed on "
                      "one shard's rows on one thread" : std::string())},
          {"shards", shards}};
}

}  // namespace

// Which path train.fused_norm took: "off", "kernel" (the CUDA kernels) or "aten" (ATen ops).
static std::string fused_norm_path(Transformer& model) {
  if (!model->fused_norm || model->fused_layer_count() == 0) return "off";
  auto w = model->norm->weight;
  auto x = torch::empty({1, w.size(0)}, model->embed_tokens->weight.options());
  return fused_norm_kernel_used(x, w) ? "kernel" : "aten";
}

nlohmann::json bench_train(const BenchTrainOptions& o) {
  int threads = setup_threads();
  if (!find_size_preset(o.size))
    throw Error("--size: unknown preset '" + o.size + "' (one of " + size_preset_names() + ")");
  // The model as `gpas train` builds it: the preset, the scheme, then any model.* key.
  std::vector<Setting> settings = {parse_set("model.size=" + o.size), parse_set("model.norm=" + o.norm),
                                   parse_set("model.vocab_size=" + std::to_string(o.vocab)),
                                   parse_set(std::string("model.gpas.enabled=") + (o.gpas ? "true" : "false"))};
  for (const auto& kv : o.model_sets) {
    if (kv.rfind("model.", 0) != 0)
      throw Error("--set " + kv + ": bench train takes model.* keys only (its own options set the "
                  "batch, sequence, precision and device)");
    settings.push_back(parse_set(kv));
  }
  RunConfig rc;
  rc.model = build_config(settings).model;
  rc.train.precision = o.precision;
  rc.train.seq_len = o.seq;
  rc.train.batch_size = rc.train.micro_batch = o.batch;
  rc.train.device = o.device;
  rc.train.fused_adam = o.fused_adam;
  rc.train.fused_norm = o.fused_norm;
  resolve(rc);
  validate(rc);
  torch::Device dev(torch::kCPU);
  if (o.device == "cuda" || (o.device == "auto" && torch::cuda::is_available()))
    dev = torch::Device(torch::kCUDA, 0);

  Transformer model(rc.model);
  model->init_weights(0);
  model->fused_norm = rc.train.fused_norm;  // as the trainer sets it
  if (o.precision == "bf16") model->to(dev, torch::kBFloat16);
  else model->to(dev);
  // The trainer's own step (step.h) on random tokens: one micro-batch, a constant learning rate.
  rc.train.lr = 1e-4;
  rc.train.warmup_steps = 0;
  rc.train.min_lr_ratio = 1.0;
  rc.train.steps = o.warmup + o.steps;
  auto single = make_single_process();
  TrainStep step(model, rc.train, *single);
  torch::manual_seed(1);
  auto tokens = torch::randint(0, o.vocab, {o.batch, o.seq + 1}, torch::kInt64).to(dev);
  std::vector<DeviceBatch> micro(1);
  micro[0].inputs = tokens.slice(1, 0, o.seq).contiguous();
  micro[0].targets = tokens.slice(1, 1).contiguous();
  micro[0].loss_tokens = o.batch * o.seq;
  std::vector<double> times;
  if (dev.is_cuda()) compat::cuda_reset_peak(dev.index());
  for (int64_t s = 0; s < o.warmup + o.steps; ++s) {
    sync(dev);
    auto t0 = std::chrono::steady_clock::now();
    step.run(s, micro);
    sync(dev);
    if (s >= o.warmup) times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  const int64_t peak_bytes = peak_memory_bytes(dev);  // before the breakdown allocates its own
  double tps = double(o.batch * o.seq) / median;
  double fpt = flops_per_token(rc.model, o.seq);
  std::string device_name = dev.is_cuda() ? gpu_name() : "cpu";
  double peak = 0;
  std::string peak_kind;
  if (dev.is_cuda()) {
    peak = gpu_bf16_peak(device_name);
    peak_kind = "gpu dense bf16 data-sheet peak";
  } else {
    peak = measure_cpu_matmul_peak();
    peak_kind = "cpu fp32 torch::mm measured in this run";
  }
  nlohmann::json r = {{"size", o.size},
          {"row_shards", cpu_shards(dev, o.batch)},
          {"norm", o.norm},
          {"gpas", o.gpas},
          {"layers", rc.model.layers},
          {"hidden", rc.model.hidden},
          {"intermediate", rc.model.intermediate},
          {"heads", rc.model.heads},
          {"vocab", rc.model.vocab_size},
          {"model_sets", o.model_sets},
          {"precision", o.precision},
          {"device", device_name},
          {"threads", threads},
          {"batch", o.batch},
          {"seq", o.seq},
          {"steps", o.steps},
          {"parameters", count_parameters(rc.model).total},
          {"median_step_s", median},
          {"tokens_per_second", tps},
          {"flops_per_token", fpt},
          {"achieved_flops", tps * fpt},
          {"peak_flops", peak},
          {"peak_kind", peak_kind},
          {"mfu", peak > 0 ? tps * fpt / peak : 0.0},
          {"peak_memory_bytes", peak_bytes},
          {"peak_memory_kind", dev.is_cuda() ? "cuda caching allocator, peak allocated" : "process max RSS"},
          {"fused_adam", last_step_fused(step.optimizer())},
          {"fused_norm", fused_norm_path(model)},
          {"fused_norm_layers", o.fused_norm ? model->fused_layer_count() : 0},
          {"torch_version", torch_version()}};
  if (o.breakdown) r["breakdown"] = step_breakdown(model, step, micro[0], dev, median);
  return r;
}

}  // namespace gpas
