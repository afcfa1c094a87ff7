#include "core/model/block.h"

#include <cmath>

#include "core/model/fused_norm.h"

namespace gpas {

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

static GpasSite site_from(const std::string& s) {
  if (s == "before_sublayer") return GpasSite::kBeforeSublayer;
  if (s == "after_norm") return GpasSite::kAfterNorm;
  if (s == "after_module") return GpasSite::kAfterModule;
  return GpasSite::kAfterSublayer;
}

LayerSpec make_layer_spec(const ModelConfig& cfg, int64_t layer) {
  LayerSpec spec;
  const std::string& n = cfg.norm;
  spec.post_ln = n == "post" || n == "deepnorm" || (n == "mix" && layer < cfg.post_layers);
  if (spec.post_ln) {
    spec.attn.post_norm = "post_attention_layernorm";
    spec.mlp.post_norm = "post_feedforward_layernorm";
  } else if (n == "sandwich") {
    spec.attn = {"input_layernorm", "post_attention_layernorm", "", 1.0, GpasSite::kNone};
    spec.mlp = {"pre_feedforward_layernorm", "post_feedforward_layernorm", "", 1.0, GpasSite::kNone};
  } else {  // pre, lns, mix's Pre-LN layers
    spec.attn.in_norm = "input_layernorm";
    spec.mlp.in_norm = "post_attention_layernorm";
  }
  if (n == "deepnorm")
    spec.attn.shortcut_scale = spec.mlp.shortcut_scale = std::pow(2.0 * cfg.layers, 0.25);
  if (cfg.gpas.enabled) {
    // Post-LN-family layers scale the shortcut only (Eq. 7-8); the others use the chosen site.
    GpasSite site = spec.post_ln && cfg.gpas.site == "after_sublayer" ? GpasSite::kShortcut
                                                                      : site_from(cfg.gpas.site);
    spec.attn.gpas = spec.mlp.gpas = site;
  }
  return spec;
}

BlockImpl::BlockImpl(const ModelConfig& cfg, int64_t layer) : spec(make_layer_spec(cfg, layer)) {
  self_attn = register_module("self_attn", Attention(cfg.hidden, cfg.heads));
  mlp = register_module("mlp", Mlp(cfg.hidden, cfg.intermediate));
  // LNS: every norm inside layer l (1-based) starts at 1/sqrt(l).
  double norm_init = cfg.norm == "lns" ? 1.0 / std::sqrt(double(layer + 1)) : 1.0;
  for (const SublayerSpec* s : {&spec.attn, &spec.mlp})
    for (const std::string* name : {&s->in_norm, &s->out_norm, &s->post_norm})
      if (!name->empty() && !norms.count(*name))
        norms.emplace(*name, register_module(*name, RMSNorm(cfg.hidden, cfg.norm_eps, norm_init)));
  if (cfg.gpas.enabled) {
    double init = cfg.gpas.init.size() == 1 ? cfg.gpas.init[0] : cfg.gpas.init.at(layer);
    gpas_block = register_module(
        "gpas_block", GpasGate(init, cfg.gpas.learnable, cfg.gpas.activation, cfg.gpas.beta,
                               cfg.gpas.stopgrad));
  }
}

torch::Tensor BlockImpl::norm(const std::string& name, const torch::Tensor& x) {
  return name.empty() ? x : norms.at(name)(x);
}

torch::Tensor BlockImpl::gpas_at(GpasSite here, GpasSite site, const torch::Tensor& x) {
  return site == here ? gpas_block(x) : x;
}

template <class F>
torch::Tensor BlockImpl::sublayer(const torch::Tensor& x0, const SublayerSpec& s, F&& f) {
  using S = GpasSite;
  auto x = gpas_at(S::kBeforeSublayer, s.gpas, x0);              // (B, T, C)
  auto shortcut = gpas_at(S::kShortcut, s.gpas, x);              // (B, T, C)
  auto h = gpas_at(S::kAfterNorm, s.gpas, norm(s.in_norm, x));   // (B, T, C)
  h = norm(s.out_norm, gpas_at(S::kAfterModule, s.gpas, f(h)));  // (B, T, C)
  if (s.shortcut_scale != 1.0) shortcut = s.shortcut_scale * shortcut;
  auto y = norm(s.post_norm, shortcut + h);                      // (B, T, C)
  return gpas_at(S::kAfterSublayer, s.gpas, y);                  // (B, T, C)
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const Rope& rope) {
  auto h = sublayer(x, spec.attn, [&](const torch::Tensor& u) { return self_attn(u, rope); });
  return sublayer(h, spec.mlp, [&](const torch::Tensor& u) { return mlp(u); });
}

torch::Tensor BlockImpl::forward_sites(const torch::Tensor& x) {
  auto identity = [](const torch::Tensor& u) { return u; };
  return sublayer(sublayer(x, spec.attn, identity), spec.mlp, identity);
}

bool BlockImpl::fusable() const {
  auto ok = [](const SublayerSpec& s) {
    return !s.in_norm.empty() && s.out_norm.empty() && s.post_norm.empty() &&
           s.shortcut_scale == 1.0 && (s.gpas == GpasSite::kNone || s.gpas == GpasSite::kAfterSublayer);
  };
  return !spec.post_ln && ok(spec.attn) && ok(spec.mlp);
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::fused_op(const torch::Tensor& x,
                                                            const torch::Tensor& o,
                                                            const torch::Tensor& s,
                                                            const RMSNorm& norm) {
  const bool stopgrad = gpas_block ? gpas_block->stopgrad() : true;
  return add_gpas_rmsnorm(x, o, s, stopgrad, norm->weight, norm->eps());
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::forward_fused(const torch::Tensor& x,
                                                                 const torch::Tensor& n,
                                                                 const Rope& rope,
                                                                 const RMSNorm& next) {
  auto s = gpas_block ? gpas_block->scale() : torch::Tensor();         // () act(alpha)
  auto [h, hn] = fused_op(x, self_attn(n, rope), s, norms.at(spec.mlp.in_norm));  // (B, T, C) x2
  auto o = mlp(hn);                                                    // (B, T, C)
  if (next.is_empty()) return {gpas_at(GpasSite::kAfterSublayer, spec.mlp.gpas, h + o), {}};
  return fused_op(h, o, s, next);
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::forward_sites_fused(const torch::Tensor& x,
                                                                       const torch::Tensor& o) {
  auto s = gpas_block ? gpas_block->scale() : torch::Tensor();
  auto h = fused_op(x, o, s, norms.at(spec.mlp.in_norm));
  return fused_op(h.first, o, s, input_norm());
}

}  // namespace gpas
