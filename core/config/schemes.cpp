// The scheme table. A row says how each layer is wired (which norm sits where, of which kind),
// what sits around the layers, how the scheme initialises, its formula and why --fold-gates
// refuses it; everything else (GPAS sites, QK-norm, parameter counts, names) is derived here from
// the rows, once.
#include "core/config/schemes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <set>

#include "core/common/error.h"

namespace gpas {

namespace {

NormSite rms(const char* name, double weight_init = 1.0) {
  return {NormKind::kRms, name, weight_init, 0.0};
}

// The HF LLaMA names: the norm before attention, the norm before the MLP.
constexpr const char* kInputNorm = "input_layernorm";
constexpr const char* kPreMlpLlama = "post_attention_layernorm";
// Gemma-2's four: before/after attention, before/after the MLP (OLMo-2 uses the two "post" ones).
constexpr const char* kPostAttn = "post_attention_layernorm";
constexpr const char* kPreMlp = "pre_feedforward_layernorm";
constexpr const char* kPostMlp = "post_feedforward_layernorm";

LayerSpec pre_layer(double weight_init = 1.0) {
  LayerSpec s;
  s.attn.in_norm = rms(kInputNorm, weight_init);
  s.mlp.in_norm = rms(kPreMlpLlama, weight_init);
  return s;
}

LayerSpec post_layer() {
  LayerSpec s;
  s.attn.post_norm = rms(kPostAttn);
  s.mlp.post_norm = rms(kPostMlp);
  return s;
}

LayerSpec sandwich_layer() {
  LayerSpec s;
  s.attn.in_norm = rms(kInputNorm);
  s.attn.out_norm = rms(kPostAttn);
  s.mlp.in_norm = rms(kPreMlp);
  s.mlp.out_norm = rms(kPostMlp);
  return s;
}

// HybridNorm: no norm on the attention input (Q, K, V are normalised per head instead), the
// attention sum normalised (a post norm), the MLP's input is that normalised stream and its
// residual continues from it: x' = N(h) + mlp(N(h)).
LayerSpec hybrid_layer() {
  LayerSpec s;
  s.attn.post_norm = rms(kPostAttn);
  return s;
}

StemSpec plain_stem(const ModelConfig&) { return {{}, false, 0.0, rms("norm")}; }

std::string deepnorm_alpha_text(const ModelConfig& m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::pow(2.0 * m.layers, 0.25));
  return buf;
}

std::string post_family_refusal(const ModelConfig& m) {
  return "model.norm " + m.norm +
         ": a Post-LN-family layer normalises after the residual add (LN(a x + f(x))); its GPAS gate "
         "could be absorbed into o_proj/down_proj, but the layer itself has no LlamaForCausalLM "
         "equivalent (LLaMA normalises before each sub-layer)";
}

std::string output_norm_refusal(const ModelConfig& m) {
  return "model.norm " + m.norm +
         ": the gates would fold into the norms after attention/MLP outputs, but LlamaForCausalLM "
         "has no norm there (a Gemma-2-like layout, and Gemma-2 differs in other ways)";
}

std::string no_refusal(const ModelConfig&) { return ""; }

std::vector<std::string> hybrid_formula(const ModelConfig&) {
  return {"HybridNorm:  h = x_l + Attn(N_q(Q), N_k(K), N_v(V)),  x'_{l+1} = LN(h) + FFN(LN(h))",
          "             (no norm on the attention input; Q, K, V normalised per head before rotary)"};
}

std::string hybrid_refusal(const ModelConfig& m) {
  return "model.norm " + m.norm +
         ": the attention sum is normalised (LN(h)) before the MLP, a norm on the residual stream "
         "that LlamaForCausalLM cannot express";
}

std::vector<Scheme> make_schemes() {
  std::vector<Scheme> t;
  Scheme s;

  s = {};
  s.name = "post"; s.display = "Post-LN"; s.display_gpas = "Post-LN + GPAS";
  s.source = "Vaswani et al. 2017; GPAS paper Eq. 5 (not run in the paper)";
  s.paper = true;
  s.layer = [](const ModelConfig&, int64_t) { return post_layer(); };
  s.formula = [](const ModelConfig&) -> std::vector<std::string> {
    return {"Post-LN:     x_{l+1} = LN(x_l + f(x_l))   (Eq. 5)"};
  };
  s.fold_refusal = post_family_refusal;
  t.push_back(s);

  s = {};
  s.name = "deepnorm"; s.display = "DeepNorm"; s.display_gpas = "DeepNorm + GPAS";
  s.source = "Wang et al. 2022 (arXiv 2203.00555); GPAS paper Eq. 6";
  s.paper = true;
  s.init = InitRule::kDeepNorm;
  s.layer = [](const ModelConfig& m, int64_t) {
    LayerSpec l = post_layer();
    l.attn.shortcut_scale = l.mlp.shortcut_scale = std::pow(2.0 * m.layers, 0.25);
    return l;
  };
  s.formula = [](const ModelConfig& m) -> std::vector<std::string> {
    return {"DeepNorm:    x_{l+1} = LN(alpha * x_l + f(x_l)), alpha = " + deepnorm_alpha_text(m) + "   (Eq. 6)"};
  };
  s.fold_refusal = post_family_refusal;
  t.push_back(s);

  s = {};
  s.name = "pre"; s.display = "Pre-LN"; s.display_gpas = "Pre + GPAS";
  s.source = "Xiong et al. 2020; LLaMA; GPAS paper Eq. 1";
  s.paper = true;
  s.layer = [](const ModelConfig&, int64_t) { return pre_layer(); };
  s.formula = [](const ModelConfig&) -> std::vector<std::string> {
    return {"Pre-LN:      x'_{l+1} = x_l + f(LN(x_l))   (Eq. 1)"};
  };
  s.fold_refusal = no_refusal;
  t.push_back(s);

  s = {};
  s.name = "sandwich"; s.display = "Sandwich-LN"; s.display_gpas = "Sandwich + GPAS";
  s.source = "Ding et al. 2021 (CogView); GPAS paper Eq. 4";
  s.paper = true;
  s.layer = [](const ModelConfig&, int64_t) { return sandwich_layer(); };
  s.formula = [](const ModelConfig&) -> std::vector<std::string> {
    return {"Sandwich-LN: x'_{l+1} = x_l + LN(f(LN(x_l)))   (Eq. 4)"};
  };
  s.fold_refusal = output_norm_refusal;
  t.push_back(s);

  s = {};
  s.name = "mix"; s.display = "Mix-LN"; s.display_gpas = "Mix + GPAS";
  s.source = "Li et al. 2024 (arXiv 2412.13795): the first layers/4 Post-LN, the rest Pre-LN";
  s.paper = true;
  s.layer = [](const ModelConfig& m, int64_t l) { return l < m.post_layers ? post_layer() : pre_layer(); };
  s.formula = [](const ModelConfig& m) -> std::vector<std::string> {
    if (m.post_layers <= 0)
      return {"Mix-LN:      0 Post-LN layers at " + m.size + " (" + std::to_string(m.layers) +
              " layers; the default is layers / 4): this model equals Pre-LN; --set "
              "model.post_layers=N for N Post-LN layers"};
    return {"Mix-LN:      layers 0.." + std::to_string(m.post_layers - 1) +
            " Post-LN x_{l+1} = LN(x_l + f(x_l)) (Eq. 5), the rest Pre-LN x'_{l+1} = x_l + f(LN(x_l)) (Eq. 1)"};
  };
  s.fold_refusal = [](const ModelConfig& m) -> std::string {
    if (m.post_layers <= 0) return "";
    return "model.norm mix: its first " + std::to_string(m.post_layers) +
           " layers are Post-LN, which LlamaForCausalLM cannot express (the Pre-LN layers would fold)";
  };
  t.push_back(s);

  s = {};
  s.name = "lns"; s.display = "LNS"; s.display_gpas = "LNS + GPAS";
  s.source = "Sun et al. 2025 (arXiv 2502.05795); GPAS paper Eq. 3";
  s.paper = true;
  s.layer = [](const ModelConfig&, int64_t l) { return pre_layer(1.0 / std::sqrt(double(l + 1))); };
  s.formula = [](const ModelConfig&) -> std::vector<std::string> {
    return {"LNS:         x'_{l+1} = x_l + f(LN(x_l) / sqrt(l))   (Eq. 3)"};
  };
  s.fold_refusal = no_refusal;
  t.push_back(s);

  s = {};
  s.name = "peri"; s.display = "Peri-LN"; s.display_gpas = "Peri-LN + GPAS";
  s.source = "Kim et al. 2025 (arXiv 2502.02732)";
  s.layer = [](const ModelConfig&, int64_t) { return sandwich_layer(); };
  s.stem = [](const ModelConfig&) { return StemSpec{rms("embed_norm"), false, 0.0, rms("norm")}; };
  s.formula = [](const ModelConfig&) -> std::vector<std::string> {
    return {"Peri-LN:     x'_{l+1} = x_l + LN(f(LN(x_l))),  x_0 = LN(Embed(t))"};
  };
  s.fold_refusal = output_norm_refusal;
  s.note = "Peri-LN's layer is Sandwich-LN's (the same four norms); it differs only by the norm of "
           "the embedding output, which its paper offers as optional. Without it, use "
           "model.norm=sandwich: that is Peri-LN exactly.";
  t.push_back(s);

  s = {};
  s.name = "dyt"; s.display = "DyT"; s.display_gpas = "DyT + GPAS";
  s.source = "Zhu et al. 2025 (arXiv 2503.10622), code jiachenzhu/DyT other_tasks/LLaMA";
  s.layer = [](const ModelConfig&, int64_t) {
    LayerSpec l = pre_layer();
    l.attn.in_norm.kind = l.mlp.in_norm.kind = NormKind::kDyt;
    return l;
  };
  s.stem = [](const ModelConfig& m) {
    StemSpec st{{}, true, m.dyt.embed_scale >= 0 ? m.dyt.embed_scale : std::sqrt(double(m.hidden)),
                {NormKind::kDyt, "norm", 1.0, 0.0}};
    return st;
  };
  s.formula = [](const ModelConfig&) -> std::vector<std::string> {
    return {"DyT:         x'_{l+1} = x_l + f(DyT(x_l)),  DyT(x) = w * tanh(alpha x),  x_0 = s * Embed(t)",
            "             (Pre-LN with a DyT in place of every RMSNorm, the final one included; alpha one "
            "learnable scalar per DyT, s one learnable scalar)"};
  };
  s.fold_refusal = [](const ModelConfig&) -> std::string {
    return "model.norm dyt: tanh(a x) is not scale-invariant as RMSNorm is, so the stream's scale "
           "cannot be divided out of the next layer's input";
  };
  t.push_back(s);

  s = {};
  s.name = "hybrid"; s.display = "HybridNorm"; s.display_gpas = "HybridNorm + GPAS";
  s.source = "Zhuo et al. 2025 (arXiv 2503.04598), code BryceZhuo/HybridNorm";
  s.default_qk = QkNorm::kHead;
  s.v_norm = true;
  s.layer = [](const ModelConfig&, int64_t) { return hybrid_layer(); };
  s.formula = hybrid_formula;
  s.fold_refusal = hybrid_refusal;
  t.push_back(s);

  s = {};
  s.name = "hybrid_star"; s.display = "HybridNorm*"; s.display_gpas = "HybridNorm* + GPAS";
  s.source = "Zhuo et al. 2025 (arXiv 2503.04598): HybridNorm with layer 0 Pre-Norm";
  s.default_qk = QkNorm::kHead;
  s.v_norm = true;
  s.layer = [](const ModelConfig&, int64_t l) { return l == 0 ? pre_layer() : hybrid_layer(); };
  s.formula = [](const ModelConfig& m) {
    auto f = hybrid_formula(m);
    f[0].replace(0, 12, "HybridNorm*:");
    f.push_back("             layer 0 is Pre-LN in both sub-layers (Q, K, V still normalised)");
    return f;
  };
  s.fold_refusal = hybrid_refusal;
  t.push_back(s);

  s = {};
  s.name = "olmo2"; s.display = "OLMo-2"; s.display_gpas = "OLMo-2 + GPAS";
  s.source = "OLMo et al. 2024 (arXiv 2501.00656), HF Olmo2DecoderLayer";
  s.default_qk = QkNorm::kFull;
  s.layer = [](const ModelConfig&, int64_t) {
    LayerSpec l;
    l.attn.out_norm = rms(kPostAttn);
    l.mlp.out_norm = rms(kPostMlp);
    return l;
  };
  s.formula = [](const ModelConfig&) -> std::vector<std::string> {
    return {"OLMo-2:      x'_{l+1} = x_l + LN(f(x_l))   (no input norm)"};
  };
  s.fold_refusal = [](const ModelConfig&) -> std::string {
    return "model.norm olmo2: f reads the stream without a norm, so its scale cannot be divided out "
           "(and LlamaForCausalLM has no norm after attention/MLP outputs)";
  };
  t.push_back(s);

  s = {};
  s.name = "layerscale"; s.display = "LayerScale"; s.display_gpas = "LayerScale + GPAS";
  s.source = "Touvron et al. 2021 (CaiT, arXiv 2103.17239)";
  s.layer = [](const ModelConfig& m, int64_t) {
    LayerSpec l = pre_layer();
    l.branch = BranchScale::kLayerScale;
    l.branch_init = m.branch_init >= 0 ? m.branch_init : layerscale_init(m.layers);
    return l;
  };
  s.formula = [](const ModelConfig& m) -> std::vector<std::string> {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", m.branch_init >= 0 ? m.branch_init : layerscale_init(m.layers));
    return {"LayerScale:  x'_{l+1} = x_l + diag(lambda) f(LN(x_l)),  lambda per channel and sub-layer, init " +
            std::string(buf)};
  };
  s.fold_refusal = no_refusal;  // lambda folds into o_proj/down_proj's rows
  t.push_back(s);

  s = {};
  s.name = "rezero"; s.display = "ReZero"; s.display_gpas = "ReZero + GPAS";
  s.source = "Bachlechner et al. 2020 (arXiv 2003.04887), code majumderb/rezero";
  s.layer = [](const ModelConfig& m, int64_t) {
    LayerSpec l;
    l.branch = BranchScale::kReZero;
    l.branch_init = m.branch_init >= 0 ? m.branch_init : 0.0;
    return l;
  };
  s.stem = [](const ModelConfig&) { return StemSpec{}; };
  s.formula = [](const ModelConfig& m) -> std::vector<std::string> {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", m.branch_init >= 0 ? m.branch_init : 0.0);
    return {"ReZero:      x'_{l+1} = x_l + alpha_l f(x_l),  alpha_l one scalar per layer (both sub-layers), init " +
                std::string(buf),
            "             (no norm anywhere, none before the LM head)"};
  };
  s.fold_refusal = [](const ModelConfig&) -> std::string {
    return "model.norm rezero: f reads the stream without a norm, so its scale cannot be divided out";
  };
  t.push_back(s);

  for (auto& row : t)
    if (!row.stem) row.stem = plain_stem;
  return t;
}

// DyT's alpha by width (its paper's Table 11, attention / other; depth does not change it):
// <= 1024: 1.0 / 1.0, 2048: 1.0 / 0.5, 4096: 0.8 / 0.2, 5120: 0.6 / 0.15 (the 13B run), wider:
// 0.2 / 0.05. A width between rows takes the next wider row.
std::pair<double, double> dyt_alpha_by_width(int64_t d) {
  if (d <= 1024) return {1.0, 1.0};
  if (d <= 2048) return {1.0, 0.5};
  if (d <= 4096) return {0.8, 0.2};
  if (d <= 5120) return {0.6, 0.15};
  return {0.2, 0.05};
}

}  // namespace

const std::vector<Scheme>& schemes() {
  static const std::vector<Scheme> kSchemes = make_schemes();
  return kSchemes;
}

const Scheme* find_scheme(const std::string& name) {
  for (const auto& s : schemes())
    if (s.name == name) return &s;
  return nullptr;
}

std::string scheme_names() {
  std::string out;
  for (const auto& s : schemes()) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

const Scheme& scheme_of(const std::string& name) {
  if (const Scheme* s = find_scheme(name)) return *s;
  throw Error("model.norm: unknown value '" + name + "' (one of " + scheme_names() + ")");
}

const char* site_name(GpasSite site) {
  switch (site) {
    case GpasSite::kNone: return "none";
    case GpasSite::kAfterSublayer: return "after_sublayer";
    case GpasSite::kShortcut: return "shortcut";
    case GpasSite::kBeforeSublayer: return "before_sublayer";
    case GpasSite::kAfterNorm: return "after_norm";
    case GpasSite::kAfterModule: return "after_module";
  }
  return "?";
}

const char* qk_norm_name(QkNorm q) {
  switch (q) {
    case QkNorm::kNone: return "none";
    case QkNorm::kHead: return "head";
    case QkNorm::kFull: return "full";
  }
  return "?";
}

QkNorm parse_qk_norm(const std::string& value, QkNorm fallback) {
  if (value == "head") return QkNorm::kHead;
  if (value == "full") return QkNorm::kFull;
  if (value == "none") return QkNorm::kNone;
  return fallback;
}

QkNorm effective_qk_norm(const ModelConfig& m) {
  return parse_qk_norm(m.qk_norm, scheme_of(m.norm).default_qk);  // auto: the row's own
}

double layerscale_init(int64_t layers) {
  if (layers <= 18) return 0.1;
  if (layers <= 24) return 1e-5;  // the paper gives 24 layers 1e-5 and says nothing of 19-23
  return 1e-6;
}

LayerSpec layer_spec(const ModelConfig& m, int64_t layer) {
  const Scheme& row = scheme_of(m.norm);
  LayerSpec spec = row.layer(m, layer);
  spec.qk_norm = effective_qk_norm(m);
  spec.v_norm = row.v_norm;
  // DyT sites take their alpha from model.dyt (-1: by width).
  auto [attn_alpha, other_alpha] = dyt_alpha_by_width(m.hidden);
  auto dyt = [](NormSite& n, double configured, double by_width) {
    if (n.kind == NormKind::kDyt) n.alpha_init = configured >= 0 ? configured : by_width;
  };
  dyt(spec.attn.in_norm, m.dyt.alpha_attn, attn_alpha);
  dyt(spec.mlp.in_norm, m.dyt.alpha_mlp, other_alpha);
  spec.post_ln = spec.attn.post_norm.on() || spec.mlp.post_norm.on();
  if (m.gpas.enabled) {
    // A sub-layer that normalises after its add scales the shortcut (Eq. 7-8); the others put GPAS
    // where model.gpas.site says (after the sub-layer by default, Eq. 2).
    for (SublayerSpec* sub : {&spec.attn, &spec.mlp}) {
      if (m.gpas.site == "before_sublayer") sub->gpas = GpasSite::kBeforeSublayer;
      else if (m.gpas.site == "after_norm") sub->gpas = GpasSite::kAfterNorm;
      else if (m.gpas.site == "after_module") sub->gpas = GpasSite::kAfterModule;
      else sub->gpas = sub->post_norm.on() ? GpasSite::kShortcut : GpasSite::kAfterSublayer;
    }
  }
  return spec;
}

StemSpec stem_spec(const ModelConfig& m) {
  StemSpec st = scheme_of(m.norm).stem(m);
  if (st.final_norm.kind == NormKind::kDyt)
    st.final_norm.alpha_init = m.dyt.alpha_final >= 0 ? m.dyt.alpha_final : dyt_alpha_by_width(m.hidden).second;
  return st;
}

std::vector<std::string> formula(const ModelConfig& m) {
  const Scheme& row = scheme_of(m.norm);
  std::vector<std::string> out = row.formula(m);
  if (m.gpas.enabled) {
    const std::string act = m.gpas.activation == "silu" ? "SiLU" : m.gpas.activation;
    const std::string sg = m.gpas.stopgrad ? "sg" : "";
    std::set<GpasSite> sites;
    for (int64_t l = 0; l < m.layers; ++l) {
      LayerSpec s = layer_spec(m, l);
      sites.insert(s.attn.gpas);
      sites.insert(s.mlp.gpas);
    }
    if (sites.count(GpasSite::kShortcut)) {
      const bool deep = m.norm == "deepnorm";
      out.push_back("  + GPAS:    sub-layers with a norm after the add scale their shortcut: LN(" +
                    std::string(deep ? "alpha * " : "") + "(x_l - " + act + "(a_l) * " + sg +
                    "(x_l)) + f(...))   (Eq. 7-8)");
    }
    sites.erase(GpasSite::kShortcut);
    for (GpasSite site : sites) {
      if (site == GpasSite::kAfterSublayer)
        out.push_back("  + GPAS:    x_{l+1} = x'_{l+1} - " + act + "(a_l) * " + sg + "(x'_{l+1})" +
                      (m.gpas.stopgrad ? "   (Eq. 2)" : "   (Eq. 12)"));
      else
        out.push_back("  + GPAS:    x - " + act + "(a_l) * " + sg + "(x) at " + site_name(site));
    }
    out.push_back("             f in {Attn, FFN}; a_l one learnable scalar per layer" +
                  std::string(m.gpas.learnable ? "" : " (fixed here)"));
  } else {
    out.push_back("             f in {Attn, FFN}");
  }
  const QkNorm qk = effective_qk_norm(m);
  if (qk != QkNorm::kNone && !row.v_norm)  // HybridNorm's formula says it
    out.push_back(std::string("             QK-norm: q and k RMS-normalised ") +
                  (qk == QkNorm::kHead ? "per head (as Qwen3, Gemma 3)" : "over the whole projection (as OLMo-2)") +
                  " before rotary" + (row.default_qk == qk ? "" : " (model.qk_norm)"));
  if (qk == QkNorm::kNone && row.default_qk != QkNorm::kNone)
    out.push_back("             QK-norm off (model.qk_norm: none), unlike " + row.display);
  return out;
}

std::string fold_refusal(const ModelConfig& m) {
  const Scheme* row = find_scheme(m.norm);
  if (!row) return "model.norm " + m.norm + ": unknown scheme";
  return row->fold_refusal(m);
}

HfClass hf_class(const ModelConfig& m) {
  if (m.gpas.enabled)
    return {"", "", "the model has GPAS gates (model.layers.*.gpas_block.gate), which no transformers "
                    "class reads: loaded there it computes another function"};
  const QkNorm qk = effective_qk_norm(m);
  const bool llama_layers = m.norm == "pre" || m.norm == "lns" || (m.norm == "mix" && m.post_layers <= 0);
  if (llama_layers && qk == QkNorm::kNone) return {"LlamaForCausalLM", "llama", ""};
  if (llama_layers && qk == QkNorm::kHead) return {"Qwen3ForCausalLM", "qwen3", ""};
  if (m.norm == "olmo2" && qk == QkNorm::kFull) return {"Olmo2ForCausalLM", "olmo2", ""};
  std::string what = "model.norm " + m.norm;
  if (llama_layers) what += " with model.qk_norm full";
  else if (m.norm == "olmo2") what += " without full-width QK-norm";
  return {"", "", what + " has no transformers class (the names follow HF's LLaMA, Gemma-2 and "
                         "OLMo-2; gpas model forward and train.init_from read the export)"};
}

ParamCount count_parameters(const ModelConfig& m) {
  ParamCount c;
  const int64_t d = m.hidden, V = m.vocab_size, L = m.layers;
  auto norm_size = [&](const NormSite& n) -> int64_t {
    if (n.kind == NormKind::kRms) return d;
    if (n.kind == NormKind::kDyt) return d + 1;  // weight and alpha
    return 0;
  };
  c.embedding = V * d;
  c.lm_head = V * d;
  const int64_t head_dim = d / m.heads;
  int64_t layers = 0;
  for (int64_t i = 0; i < L; ++i) {
    LayerSpec s = layer_spec(m, i);
    std::set<std::string> names;  // a name is one module, wherever it sits
    for (const SublayerSpec* sub : {&s.attn, &s.mlp})
      for (const NormSite* n : {&sub->in_norm, &sub->out_norm, &sub->post_norm})
        if (n->on() && names.insert(n->name).second) c.norms += norm_size(*n);
    const int64_t qk = s.qk_norm == QkNorm::kHead ? head_dim : s.qk_norm == QkNorm::kFull ? d : 0;
    c.norms += qk * (s.v_norm ? 3 : 2);
    if (s.branch == BranchScale::kLayerScale) c.branch += 2 * d;
    if (s.branch == BranchScale::kReZero) c.branch += 1;
    layers += 4 * d * d + 3 * d * m.intermediate;
  }
  StemSpec st = stem_spec(m);
  c.norms += norm_size(st.embed_norm) + norm_size(st.final_norm);
  c.branch += st.embed_scale ? 1 : 0;
  c.gates = m.gpas.enabled ? L : 0;
  c.matmul = L * (4 * d * d + 3 * d * m.intermediate) + V * d;
  c.total = c.embedding + c.lm_head + layers + c.norms + c.gates + c.branch;
  return c;
}

void validate_scheme(const ModelConfig& m) {
  const Scheme& row = scheme_of(m.norm);
  if (m.qk_norm != "auto" && m.qk_norm != "none" && m.qk_norm != "head" && m.qk_norm != "full")
    throw Error("model.qk_norm: unknown value '" + m.qk_norm + "' (one of auto, none, head, full)");
  if (row.v_norm && (m.qk_norm == "none" || m.qk_norm == "full"))
    throw Error("model.qk_norm: " + row.display + " normalises Q, K and V per head by definition; use "
                "auto or head (or another model.norm)");
  for (auto [key, v] : {std::pair<const char*, double>{"model.dyt.alpha_attn", m.dyt.alpha_attn},
                        {"model.dyt.alpha_mlp", m.dyt.alpha_mlp},
                        {"model.dyt.alpha_final", m.dyt.alpha_final},
                        {"model.dyt.embed_scale", m.dyt.embed_scale},
                        {"model.branch_init", m.branch_init}})
    if (!std::isfinite(v) || (v < 0 && v != -1))
      throw Error(std::string(key) + ": must be >= 0, or -1 for the scheme's own rule");
}

}  // namespace gpas
