// The one list of config keys. Reading YAML, writing YAML/JSON, flattening into the results
// store's params table and listing known keys in errors all walk this list, so a knob added here
// is everywhere at once.
#pragma once
#include "core/config/config.h"

namespace gpas {

// f(key, member&, help) for every key, in the order they are written out.
template <class Cfg, class F>
void visit_fields(Cfg& c, F&& f) {
  f("name", c.name, "run name (not part of the run's identity)");
  f("model.size", c.model.size, "size preset: sets hidden, intermediate, heads, layers, max_positions");
  f("model.hidden", c.model.hidden, "hidden size");
  f("model.intermediate", c.model.intermediate, "SwiGLU intermediate size");
  f("model.heads", c.model.heads, "attention heads; must divide hidden");
  f("model.layers", c.model.layers, "decoder layers");
  f("model.vocab_size", c.model.vocab_size, "vocabulary; 0 = from the tokenizer/data");
  f("model.max_positions", c.model.max_positions, "longest sequence (RoPE table)");
  f("model.norm", c.model.norm,
    "the scheme: post | deepnorm | pre | sandwich | mix | lns | peri | dyt | hybrid | hybrid_star | "
    "olmo2 | layerscale | rezero (gpas model info --norm X shows one)");
  f("model.qk_norm", c.model.qk_norm,
    "RMSNorm of q and k before rotary: auto (the scheme's: olmo2 full, hybrid per head, else none) | "
    "none | head (per head, Qwen3) | full (whole projection, OLMo-2)");
  f("model.post_layers", c.model.post_layers, "mix: leading Post-LN layers; -1 = layers/4");
  f("model.norm_eps", c.model.norm_eps, "RMSNorm epsilon");
  f("model.init_std", c.model.init_std, "std of every linear weight");
  f("model.embed_std", c.model.embed_std, "std of the token embedding (sqrt(0.4) = Scaled Embed)");
  f("model.deepnorm_gpas_init", c.model.deepnorm_gpas_init,
    "DeepNorm + GPAS: deepnorm (Xavier/beta init) | normal (N(0, init_std), the reference code's)");
  f("model.branch_init", c.model.branch_init,
    "layerscale | rezero: initial branch scale; -1 = the scheme's (LayerScale by depth: 0.1 / 1e-5 / "
    "1e-6; ReZero 0)");
  f("model.dyt.alpha_attn", c.model.dyt.alpha_attn, "dyt: initial alpha before attention; -1 = by width (DyT's Table 11)");
  f("model.dyt.alpha_mlp", c.model.dyt.alpha_mlp, "dyt: initial alpha before the MLP; -1 = by width");
  f("model.dyt.alpha_final", c.model.dyt.alpha_final, "dyt: initial alpha before the LM head; -1 = by width");
  f("model.dyt.embed_scale", c.model.dyt.embed_scale,
    "dyt: initial scalar on the embedding output; -1 = sqrt(hidden) (DyT's)");
  f("model.gpas.enabled", c.model.gpas.enabled, "apply GPAS");
  f("model.gpas.activation", c.model.gpas.activation,
    "silu | identity | relu | leaky_relu | tanh | scaled_silu");
  f("model.gpas.beta", c.model.gpas.beta, "scaled_silu: x * sigmoid(beta x)");
  f("model.gpas.site", c.model.gpas.site,
    "after_sublayer | before_sublayer | after_norm | after_module");
  f("model.gpas.stopgrad", c.model.gpas.stopgrad, "stop-gradient on the scaled copy (Eq. 2)");
  f("model.gpas.learnable", c.model.gpas.learnable, "train the gates (false: fixed)");
  f("model.gpas.init", c.model.gpas.init, "initial gate: one value, or a list with one per layer");
  f("train.steps", c.train.steps, "optimizer updates");
  f("train.lr", c.train.lr, "peak learning rate");
  f("train.warmup_steps", c.train.warmup_steps, "linear warmup from 0");
  f("train.min_lr_ratio", c.train.min_lr_ratio, "cosine decays to this fraction of lr");
  f("train.batch_size", c.train.batch_size, "sequences per update (global)");
  f("train.micro_batch", c.train.micro_batch, "sequences per forward/backward per rank");
  f("train.seq_len", c.train.seq_len, "tokens per sequence");
  f("train.adam_beta1", c.train.adam_beta1, "Adam beta1");
  f("train.adam_beta2", c.train.adam_beta2, "Adam beta2");
  f("train.adam_eps", c.train.adam_eps, "Adam epsilon");
  f("train.weight_decay", c.train.weight_decay, "Adam (L2) weight decay");
  f("train.grad_clip", c.train.grad_clip, "global grad-norm clip; 0 = off");
  f("train.gate_grad_clip", c.train.gate_grad_clip,
    "grad-norm clip of the gates, applied after the global clip (as the reference); 0 = off");
  f("train.loss_weighting", c.train.loss_weighting,
    "tokens (mean over the update's loss tokens) | micro_mean (mean of micro-batch means, the reference's)");
  f("train.precision", c.train.precision, "fp32 | bf16 | bf16-mixed");
  f("train.device", c.train.device, "auto | cpu | cuda");
  f("train.seed", c.train.seed, "seed of initialisation and synthetic data");
  f("train.log_every", c.train.log_every, "train metrics every N steps");
  f("train.eval_every", c.train.eval_every, "evaluate every N steps; 0 = at the end only");
  f("train.eval_tokens", c.train.eval_tokens, "non-padding tokens per evaluation");
  f("train.checkpoint_every", c.train.checkpoint_every, "checkpoint every N steps; 0 = at the end");
  f("train.keep_checkpoints", c.train.keep_checkpoints, "checkpoints kept");
  f("train.probe_every", c.train.probe_every, "layer statistics every N steps; 0 = off");
  f("train.heartbeat_every", c.train.heartbeat_every, "journal heartbeat every N steps");
  f("train.diverge_loss", c.train.diverge_loss, "loss above this ends the run as diverged");
  f("train.init_from", c.train.init_from,
    "weights to start from: an export (dir or .safetensors), a checkpoint (.pt), a run directory, "
    "or run:<id> beside this run (finetuning)");
  f("train.optimizer", c.train.optimizer, "adam | adamw | lisa");
  f("train.fused_adam", c.train.fused_adam,
    "Adam's update in one fused kernel: LibTorch's where it has one (2.x: CUDA; CPU from 2.4), else "
    "gpas's own for fp32 on an AVX2 CPU; false: torch's per-parameter step");
  f("train.fused_norm", c.train.fused_norm,
    "residual add + GPAS + the next RMSNorm as one op in Pre-LN-family layers (pre, lns, mix's "
    "Pre-LN layers): one CUDA kernel forward and one backward where the build has them, else ATen "
    "ops; the same values as false (the separate modules)");
  f("train.lisa_layers", c.train.lisa_layers, "lisa: layers trained at a time (gamma)");
  f("train.lisa_interval", c.train.lisa_interval, "lisa: updates between resampling (K)");
  f("train.epochs", c.train.epochs, "> 0: train.steps from the instruction data's size");
  f("train.fixed_gates_from", c.train.fixed_gates_from,
    "run whose final gates become fixed gates: a run directory, or run:<id> for the run <id> "
    "beside this run's directory (<workdir>/runs/<id>: what sweeps write, so a job id does not "
    "depend on how the workdir is spelled)");
  f("data.source", c.data.source, "synthetic | prepared | brown | instruct");
  f("data.path", c.data.path, "prepared data directory");
  f("data.tokenizer", c.data.tokenizer, "tokenizer the prepared data must have been made with");
  f("data.mode", c.data.mode, "pad | pack");
  f("data.seed", c.data.seed, "training-stream shuffle seed");
  f("data.eval_seed", c.data.eval_seed, "validation-stream shuffle seed");
  f("data.synthetic_vocab", c.data.synthetic_vocab, "synthetic: vocabulary size");
  f("data.val_examples", c.data.val_examples, "instruct: examples held out for evaluation");
  f("downstream.dir", c.downstream.dir, "zero-shot tasks (<task>.jsonl) evaluated at the end; '' = none");
  f("downstream.tasks", c.downstream.tasks, "comma-separated tasks; '' = every file in downstream.dir");
  f("downstream.limit", c.downstream.limit, "> 0: first N rows per task");
  f("downstream.batch", c.downstream.batch, "sequences per forward in the evaluation");
}

}  // namespace gpas
