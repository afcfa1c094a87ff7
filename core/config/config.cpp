#include "core/config/config.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "core/config/schemes.h"

namespace gpas {

namespace {

void require(bool ok, const std::string& key, const std::string& msg) {
  if (!ok) throw Error(key + ": " + msg);
}

void one_of(const std::string& value, const std::vector<std::string>& allowed,
            const std::string& key) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(key + ": unknown value '" + value + "' (one of " + list + ")");
}

}  // namespace

void resolve(RunConfig& cfg) {
  if (cfg.model.norm == "mix" && cfg.model.post_layers < 0)
    cfg.model.post_layers = cfg.model.layers / 4;
  if (cfg.model.norm != "mix") cfg.model.post_layers = -1;
  // Keys a scheme does not read are reset, so one model has one identity.
  if (cfg.model.norm != "dyt") cfg.model.dyt = DytConfig{};
  if (cfg.model.norm != "layerscale" && cfg.model.norm != "rezero") cfg.model.branch_init = -1;
  if (cfg.data.source == "synthetic" && cfg.model.vocab_size == 0)
    cfg.model.vocab_size = cfg.data.synthetic_vocab;
  // A per-layer list of one value is the same as the scalar: keep identities equal.
  auto& init = cfg.model.gpas.init;
  if (init.size() > 1 && std::all_of(init.begin(), init.end(), [&](double v) { return v == init[0]; }))
    init.resize(1);
}

void validate(const RunConfig& cfg) {
  const auto& m = cfg.model;
  const auto& t = cfg.train;
  const auto& d = cfg.data;
  require(m.hidden > 0, "model.hidden", "must be positive");
  require(m.intermediate > 0, "model.intermediate", "must be positive");
  require(m.heads > 0, "model.heads", "must be positive");
  require(m.layers > 0, "model.layers", "must be positive");
  require(m.hidden % m.heads == 0, "model.heads",
          "hidden size " + std::to_string(m.hidden) + " is not divisible by " +
              std::to_string(m.heads) + " heads");
  require((m.hidden / m.heads) % 2 == 0, "model.heads", "head size must be even for RoPE");
  require(m.vocab_size >= 0, "model.vocab_size", "must be >= 0 (0 = from the tokenizer)");
  require(m.max_positions > 0, "model.max_positions", "must be positive");
  scheme_of(m.norm);  // throws naming the schemes
  validate_scheme(m);
  if (m.norm == "mix")
    require(m.post_layers >= 0 && m.post_layers <= m.layers, "model.post_layers",
            "must be between 0 and model.layers (" + std::to_string(m.layers) + ")");
  require(m.norm_eps > 0, "model.norm_eps", "must be positive");
  require(m.init_std > 0, "model.init_std", "must be positive");
  require(m.embed_std > 0, "model.embed_std", "must be positive");
  one_of(m.gpas.activation, {"silu", "identity", "relu", "leaky_relu", "tanh", "scaled_silu"},
         "model.gpas.activation");
  one_of(m.deepnorm_gpas_init, {"deepnorm", "normal"}, "model.deepnorm_gpas_init");
  one_of(m.gpas.site, {"after_sublayer", "before_sublayer", "after_norm", "after_module"},
         "model.gpas.site");
  require(m.gpas.init.size() == 1 || static_cast<int64_t>(m.gpas.init.size()) == m.layers,
          "model.gpas.init",
          "needs one value or one per layer (" + std::to_string(m.layers) + "), got " +
              std::to_string(m.gpas.init.size()));
  for (double v : m.gpas.init) require(std::isfinite(v), "model.gpas.init", "must be finite");

  require(t.steps > 0, "train.steps", "must be positive (got " + std::to_string(t.steps) + ")");
  require(t.lr > 0, "train.lr", "must be positive");
  require(t.warmup_steps >= 0, "train.warmup_steps", "must be >= 0");
  require(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1, "train.min_lr_ratio", "must be in [0, 1]");
  require(t.micro_batch > 0, "train.micro_batch", "must be positive");
  require(t.batch_size > 0, "train.batch_size", "must be positive");
  require(t.batch_size % t.micro_batch == 0, "train.batch_size",
          "must be a multiple of train.micro_batch (" + std::to_string(t.micro_batch) + ")");
  require(t.seq_len > 1, "train.seq_len", "must be at least 2");
  require(t.seq_len <= m.max_positions, "train.seq_len",
          "exceeds model.max_positions (" + std::to_string(m.max_positions) + ")");
  require(t.adam_beta1 >= 0 && t.adam_beta1 < 1, "train.adam_beta1", "must be in [0, 1)");
  require(t.adam_beta2 >= 0 && t.adam_beta2 < 1, "train.adam_beta2", "must be in [0, 1)");
  require(t.adam_eps > 0, "train.adam_eps", "must be positive");
  require(t.weight_decay >= 0, "train.weight_decay", "must be >= 0");
  require(t.grad_clip >= 0, "train.grad_clip", "must be >= 0 (0 = off)");
  require(t.gate_grad_clip >= 0, "train.gate_grad_clip", "must be >= 0 (0 = off)");
  one_of(t.precision, {"fp32", "bf16", "bf16-mixed"}, "train.precision");
  one_of(t.loss_weighting, {"tokens", "micro_mean"}, "train.loss_weighting");
  one_of(t.device, {"auto", "cpu", "cuda"}, "train.device");
  require(t.log_every > 0, "train.log_every", "must be positive");
  require(t.eval_every >= 0, "train.eval_every", "must be >= 0");
  require(t.eval_tokens > 0, "train.eval_tokens", "must be positive");
  require(t.checkpoint_every >= 0, "train.checkpoint_every", "must be >= 0");
  require(t.keep_checkpoints >= 1, "train.keep_checkpoints", "must be at least 1");
  require(t.probe_every >= 0, "train.probe_every", "must be >= 0");
  require(t.heartbeat_every >= 1, "train.heartbeat_every", "must be at least 1");
  require(t.diverge_loss > 0, "train.diverge_loss", "must be positive");

  one_of(d.source, {"synthetic", "prepared", "brown", "instruct"}, "data.source");
  if (d.source == "instruct") {
    require(!d.path.empty(), "data.path", "is required when data.source is instruct (a JSON/JSONL file)");
    require(!d.tokenizer.empty(), "data.tokenizer", "is required when data.source is instruct");
  }
  require(d.val_examples >= 0, "data.val_examples", "must be >= 0");
  one_of(t.optimizer, {"adam", "adamw", "lisa"}, "train.optimizer");
  require(t.lisa_layers >= 1, "train.lisa_layers", "must be at least 1");
  require(t.optimizer != "lisa" || t.lisa_layers <= m.layers, "train.lisa_layers",
          "exceeds model.layers (" + std::to_string(m.layers) + ")");
  require(t.lisa_interval >= 1, "train.lisa_interval", "must be at least 1");
  require(t.epochs >= 0, "train.epochs", "must be >= 0 (0 = use train.steps)");
  require(t.epochs == 0 || d.source == "instruct", "train.epochs", "needs data.source instruct");
  require(cfg.downstream.limit >= 0, "downstream.limit", "must be >= 0");
  require(cfg.downstream.batch >= 1, "downstream.batch", "must be at least 1");
  one_of(d.mode, {"pad", "pack"}, "data.mode");
  if (d.source == "prepared")
    require(!d.path.empty(), "data.path", "is required when data.source is prepared");
  require(d.synthetic_vocab > 2, "data.synthetic_vocab", "must be > 2");
}

}  // namespace gpas
