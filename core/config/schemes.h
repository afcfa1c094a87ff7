// The normalisation schemes as one table (schemes.cpp): for each, its names, the formula
// `gpas model info` prints, the wiring of every layer (a LayerSpec), its initialisation, and what
// export and --fold-gates do with it. No LibTorch: config validation, sweeps, reports and plans read
// the same rows the model is built from. Adding a scheme is one row plus its tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace gpas {

// How a norm site normalises (layers.h builds one module per site with build_norm()).
enum class NormKind {
  kNone,  // no norm at this site
  kRms,   // w * x / sqrt(mean(x^2) + eps)                            (every scheme of the paper)
  kDyt,   // w * tanh(alpha * x), alpha one learnable scalar          (DyT)
};

enum class GpasSite {
  kNone,            // no GPAS
  kAfterSublayer,   // x = gpas(x + f(...))              Pre-LN, Sandwich, LNS (Eq. 2)
  kShortcut,        // x = LN(alpha gpas(x) + f(x))      DeepNorm, Post-LN layers of Mix (Eq. 7-8)
  kBeforeSublayer,  // x = gpas(x) before the sub-layer  (ablation)
  kAfterNorm,       // f(gpas(LN(x)))                    (ablation)
  kAfterModule,     // x + gpas(f(LN(x)))                (ablation)
};

// RMSNorm of attention's queries and keys (and values, HybridNorm), before rotary.
enum class QkNorm {
  kNone,
  kHead,  // over each head's d_head, one gain shared by the heads (Qwen3, Gemma 3, HybridNorm)
  kFull,  // over the whole projection, n_heads * d_head (OLMo-2)
};

// A learned scale on a sub-layer's branch, forward and backward (the contrast to GPAS's
// stop-gradient scaling of the stream).
enum class BranchScale {
  kNone,
  kLayerScale,  // x + diag(lambda) f(N(x)), one per-channel vector per sub-layer (CaiT)
  kReZero,      // x + a f(x), one scalar per layer shared by its two sub-layers (ReZero)
};

// One norm site. The name is the exported parameter name (HF LLaMA / Gemma-2 / OLMo-2 style).
struct NormSite {
  NormKind kind = NormKind::kNone;
  std::string name;
  double weight_init = 1.0;  // LNS: 1/sqrt(l)
  double alpha_init = 0.0;   // DyT: the initial alpha of this site
  bool on() const { return kind != NormKind::kNone; }
};

// How one sub-layer (attention or MLP) is wired:
//   x0 = gpas? (before);  y = post(scale * gpas?(x0) + branch * out(gpas?(f(gpas?(in(x0))))));
//   x' = gpas?(y) (after)  -- each gpas? only at the sub-layer's one GPAS site.
struct SublayerSpec {
  NormSite in_norm;     // before f            (Pre-LN family)
  NormSite out_norm;    // after f             (Sandwich, Peri-LN, OLMo-2)
  NormSite post_norm;   // after the add       (Post-LN family, HybridNorm's attention)
  double shortcut_scale = 1.0;  // DeepNorm alpha = (2L)^(1/4)
  GpasSite gpas = GpasSite::kNone;
};

struct LayerSpec {
  SublayerSpec attn, mlp;
  bool post_ln = false;  // a norm on the residual stream (a post_norm) in this layer
  QkNorm qk_norm = QkNorm::kNone;
  bool v_norm = false;   // HybridNorm: values normalised like the keys
  BranchScale branch = BranchScale::kNone;
  double branch_init = 0.0;
};

// What sits around the layers.
struct StemSpec {
  NormSite embed_norm;           // after the embedding (Peri-LN's optional embedding norm)
  bool embed_scale = false;      // DyT: a learnable scalar after the embedding
  double embed_scale_init = 0.0;
  NormSite final_norm;           // before the LM head ("norm"); none for ReZero
};

enum class InitRule {
  kNormal,    // every linear N(0, init_std)
  kDeepNorm,  // Xavier, gain 1 (q, k) or beta = (8L)^(-1/4) (v, o, MLP)
};

// A class of HF transformers that loads an export as it is, or why none does.
struct HfClass {
  std::string architecture;  // "" = none
  std::string model_type;
  std::string reason;        // why not, when architecture is ""
};

struct Scheme {
  std::string name;          // model.norm
  std::string display;       // Table 2's row
  std::string display_gpas;  // the row with GPAS
  std::string source;        // where the scheme is defined
  bool paper = false;        // one of the GPAS paper's six
  InitRule init = InitRule::kNormal;
  QkNorm default_qk = QkNorm::kNone;  // model.qk_norm: auto
  bool v_norm = false;
  LayerSpec (*layer)(const ModelConfig& m, int64_t layer) = nullptr;  // norms and shortcut, no GPAS
  StemSpec (*stem)(const ModelConfig& m) = nullptr;
  // The sub-layer as its source writes it (f in {Attn, FFN}), without GPAS; where GPAS sits is
  // derived from the wiring (formula()).
  std::vector<std::string> (*formula)(const ModelConfig& m) = nullptr;
  // Why --fold-gates cannot make it a plain LLaMA ("" = it can).
  std::string (*fold_refusal)(const ModelConfig& m) = nullptr;
  std::string note;          // said by `model info` (where a scheme coincides with another, ...)
};

const std::vector<Scheme>& schemes();
// The row of model.norm; throws gpas::Error naming the known schemes.
const Scheme& scheme_of(const std::string& name);
const Scheme* find_scheme(const std::string& name);
std::string scheme_names();  // "post, deepnorm, ..." for errors and help

// Layer `layer` (0-based) of a model: the row's wiring with GPAS sites, QK-norm and DyT inits.
LayerSpec layer_spec(const ModelConfig& m, int64_t layer);
StemSpec stem_spec(const ModelConfig& m);
QkNorm effective_qk_norm(const ModelConfig& m);
// model.qk_norm's value ("head", "full", "none"); `fallback` for "auto" or anything else.
QkNorm parse_qk_norm(const std::string& value, QkNorm fallback);
const char* site_name(GpasSite site);
const char* qk_norm_name(QkNorm q);

// Formula lines for `model info`: the scheme's sub-layer, then where GPAS sits (when on).
std::vector<std::string> formula(const ModelConfig& m);
// Why --fold-gates refuses this model ("" = it folds into a plain LLaMA / Qwen3 layout).
std::string fold_refusal(const ModelConfig& m);
// The transformers class an export of this model loads as (no GPAS gates, or folded).
HfClass hf_class(const ModelConfig& m);
// LayerScale's initial lambda at this depth (CaiT: 0.1 up to 18 layers, 1e-5 up to 24, 1e-6 deeper).
double layerscale_init(int64_t layers);

// Parameter counts from the table alone, without building the model (presets can be 7B): the
// one function `model info`, `sweep plan` and the throughput estimates call. The model's own
// numel() equals it (tested for every scheme).
struct ParamCount {
  int64_t total = 0, embedding = 0, lm_head = 0, norms = 0, gates = 0;
  int64_t branch = 0;  // LayerScale / ReZero scales and DyT's embedding scale
  int64_t matmul = 0;  // attention + MLP + LM head weights: the FLOP-relevant parameters
};
ParamCount count_parameters(const ModelConfig& m);

// Checks the scheme-specific keys (model.qk_norm, model.dyt.*, model.branch_init) against the row.
void validate_scheme(const ModelConfig& m);

}  // namespace gpas
