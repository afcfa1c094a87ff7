// The run configuration as plain structs: every knob of one training run, with its default.
// No YAML here (config_yaml.h reads and writes it) and no LibTorch (sweeps and results use it).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gpas {

// How the GPAS gate of each layer is built (paper Section 3, ablations Section 5.7).
struct GpasConfig {
  bool enabled = false;
  std::string activation = "silu";     // silu | identity | relu | leaky_relu | tanh | scaled_silu
  double beta = 8.0;                   // scaled_silu: x * sigmoid(beta * x)
  std::string site = "after_sublayer"; // after_sublayer | before_sublayer | after_norm | after_module
  bool stopgrad = true;                // false: plain scaling, the gradient is scaled too (Eq. 12)
  bool learnable = true;               // false: gates fixed at their initial values
  std::vector<double> init = {0.0};    // one value for every layer, or one per layer
};

// DyT (Zhu et al. 2025): the initial alpha of each kind of site, and the scalar after the
// embedding. -1: DyT's own rule (alpha by width, its paper's Table 11; the scalar sqrt(hidden)).
struct DytConfig {
  double alpha_attn = -1;   // the norm before attention
  double alpha_mlp = -1;    // the norm before the MLP
  double alpha_final = -1;  // the norm before the LM head
  double embed_scale = -1;  // the learnable scalar that multiplies the embedding output
};

struct ModelConfig {
  std::string size = "tiny";  // preset that filled the four numbers below
  int64_t hidden = 64;
  int64_t intermediate = 176;
  int64_t heads = 4;
  int64_t layers = 2;
  int64_t vocab_size = 0;       // 0: take it from the tokenizer / data
  int64_t max_positions = 1024;
  std::string norm = "pre";     // a scheme of core/config/schemes.cpp (post, deepnorm, pre, ...)
  // RMSNorm of q and k before rotary: auto (the scheme's own: OLMo-2 full, HybridNorm per head,
  // others none) | none | head (per head, Qwen3) | full (over the projection, OLMo-2).
  std::string qk_norm = "auto";
  int64_t post_layers = -1;     // mix: leading Post-LN layers; -1 = layers / 4
  double norm_eps = 1e-6;
  double init_std = 0.02;       // every linear weight ~ N(0, init_std)
  double embed_std = 0.6324555320336759;  // sqrt(2/5), "Scaled Embed"
  // DeepNorm + GPAS: "deepnorm" initialises it as DeepNorm (Xavier/beta); "normal" gives it plain
  // N(0, init_std) as the paper's reference code did (it applies DeepNorm's init only to the
  // scheme without GPAS), which is what produced the paper's DeepNorm + GPAS numbers.
  std::string deepnorm_gpas_init = "deepnorm";
  // LayerScale / ReZero: the branch scales' initial value; -1 = the scheme's rule (LayerScale by
  // depth as CaiT: 0.1 up to 18 layers, 1e-5 up to 24, 1e-6 deeper; ReZero 0).
  double branch_init = -1;
  DytConfig dyt;
  GpasConfig gpas;
};

struct TrainConfig {
  int64_t steps = 100;
  double lr = 1e-3;
  int64_t warmup_steps = 10;
  double min_lr_ratio = 0.1;    // cosine decays towards min_lr_ratio * lr (reached at step `steps`)
  int64_t batch_size = 8;       // sequences per optimizer update (global, all ranks)
  int64_t micro_batch = 8;      // sequences per forward/backward on one rank
  int64_t seq_len = 64;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double weight_decay = 0.0;
  double grad_clip = 0.0;       // global grad-norm clip; 0 = off
  double gate_grad_clip = 0.0;  // grad-norm clip of the GPAS gates, after the global clip; 0 = off
  // How an update's gradient averages its tokens: "tokens" = mean over every loss token of the
  // update (all micro-batches, all ranks); "micro_mean" = each micro-batch's own mean, averaged
  // over micro-batches and ranks (the paper's reference code). They differ only with padding.
  std::string loss_weighting = "tokens";
  std::string precision = "fp32";  // fp32 | bf16 (pure, as the paper) | bf16-mixed
  std::string device = "auto";     // auto | cpu | cuda
  int64_t seed = 0;
  int64_t log_every = 10;
  int64_t eval_every = 0;          // 0 = only at the end
  int64_t eval_tokens = 100000;    // non-padding tokens per evaluation (paper: 10M)
  int64_t checkpoint_every = 0;    // 0 = only at the end
  int64_t keep_checkpoints = 2;
  int64_t probe_every = 0;         // layer statistics every N steps; 0 = off
  int64_t heartbeat_every = 1;     // journal heartbeat every N steps
  double diverge_loss = 1e4;       // a loss above this (or NaN/Inf) ends the run as diverged
  std::string init_from;           // weights to start from: an export, checkpoint, run dir or run:<id>
  // Optimizer: adam (L2 weight decay, the pretraining default) | adamw (decoupled decay) | lisa
  // (AdamW on the embeddings, head and final norm plus lisa_layers random layers, resampled every
  // lisa_interval updates; finetuning, Table 3).
  std::string optimizer = "adam";
  // Adam's update through LibTorch's fused kernel where the build has one for the device (2.x:
  // CUDA; the CPU from 2.4); false: torch::optim::Adam's per-parameter step. Same state either way.
  bool fused_adam = true;
  // Pre-LN-family layers' residual add + GPAS + next RMSNorm as one op (one CUDA kernel each way
  // where the build has it, else ATen ops); false: the separate modules. Same values either way.
  bool fused_norm = false;
  int64_t lisa_layers = 2;
  int64_t lisa_interval = 20;
  double epochs = 0;               // > 0: steps = ceil(epochs x training examples / batch_size)
  std::string fixed_gates_from;    // run dir whose learned gates become fixed gates (ablation)
};

struct DataConfig {
  std::string source = "synthetic";  // synthetic | prepared | brown
  std::string path;                  // prepared: the directory `gpas data prepare` wrote
  std::string tokenizer;             // optional check: the prepared data's tokenizer must match
  std::string mode = "pad";          // pad (paper: truncate, EOS, right-pad, mask) | pack
  int64_t seed = 32;                 // shuffle seed of the training stream (paper: 32)
  int64_t eval_seed = 42;            // shuffle seed of the validation stream (paper: 42)
  int64_t synthetic_vocab = 256;     // synthetic: vocabulary of the random-token stream
  int64_t val_examples = 120;        // instruct: rows held out for eval/loss (LLM-Adapters: 120)
};

// Zero-shot multiple-choice evaluation at the end of a run (gpas eval; Table 3).
struct DownstreamConfig {
  std::string dir;    // "" = none; the directory with <task>.jsonl files
  std::string tasks;  // comma-separated task names; "" = every task file in dir
  int64_t limit = 0;  // > 0: first N rows per task
  int64_t batch = 16;
};

struct RunConfig {
  std::string name = "run";
  ModelConfig model;
  TrainConfig train;
  DataConfig data;
  DownstreamConfig downstream;
};

// Checks ranges and combinations; throws gpas::Error naming the key (no file:line: the YAML reader
// adds those for values it read).
void validate(const RunConfig& cfg);

// Resolves derived values (post_layers = layers/4, ...) in place.
void resolve(RunConfig& cfg);

}  // namespace gpas
