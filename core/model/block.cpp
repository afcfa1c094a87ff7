#include "core/model/block.h"

#include <cmath>
#include <initializer_list>

#include "core/model/fused_norm.h"

namespace gpas {

BlockImpl::BlockImpl(const ModelConfig& cfg, int64_t layer) : spec(layer_spec(cfg, layer)) {
  self_attn = register_module(
      "self_attn", Attention(cfg.hidden, cfg.heads, spec.qk_norm, spec.v_norm, cfg.norm_eps));
  mlp = register_module("mlp", Mlp(cfg.hidden, cfg.intermediate));
  // One module per norm name (a name shared by two sites would be one module).
  auto site = [&](const NormSite& n) {
    if (!n.on()) return Norm(nullptr);
    auto it = norms.find(n.name);
    if (it == norms.end())
      it = norms.emplace(n.name, register_module(n.name, build_norm(n, cfg.hidden, cfg.norm_eps))).first;
    return it->second;
  };
  for (auto [s, n] : {std::pair{&spec.attn, &attn_norms}, std::pair{&spec.mlp, &mlp_norms}}) {
    n->in = site(s->in_norm);
    n->out = site(s->out_norm);
    n->post = site(s->post_norm);
  }
  if (spec.branch == BranchScale::kLayerScale) {
    attn_scale = register_parameter("attn_scale", torch::full({cfg.hidden}, spec.branch_init));
    mlp_scale = register_parameter("mlp_scale", torch::full({cfg.hidden}, spec.branch_init));
  } else if (spec.branch == BranchScale::kReZero) {
    attn_scale = mlp_scale = register_parameter("resweight", torch::full({}, spec.branch_init));
  }
  if (cfg.gpas.enabled) {
    double init = cfg.gpas.init.size() == 1 ? cfg.gpas.init[0] : cfg.gpas.init.at(layer);
    gpas_block = register_module(
        "gpas_block", GpasGate(init, cfg.gpas.learnable, cfg.gpas.activation, cfg.gpas.beta,
                               cfg.gpas.stopgrad));
  }
}

// A site's norm, or the identity where it has none.
static torch::Tensor normed(const Norm& n, const torch::Tensor& x) {
  return n.is_empty() ? x : n.ptr()->forward(x);
}

torch::Tensor BlockImpl::gpas_at(GpasSite here, GpasSite site, const torch::Tensor& x) {
  return site == here ? gpas_block(x) : x;
}

template <class F>
torch::Tensor BlockImpl::sublayer(const torch::Tensor& x0, const SublayerSpec& s,
                                  const SublayerNorms& n, const torch::Tensor& scale, F&& f) {
  using S = GpasSite;
  auto x = gpas_at(S::kBeforeSublayer, s.gpas, x0);               // (B, T, C)
  auto shortcut = gpas_at(S::kShortcut, s.gpas, x);               // (B, T, C)
  auto h = gpas_at(S::kAfterNorm, s.gpas, normed(n.in, x));        // (B, T, C)
  h = normed(n.out, gpas_at(S::kAfterModule, s.gpas, f(h)));       // (B, T, C)
  if (scale.defined()) h = scale * h;                             // LayerScale (C) / ReZero ()
  if (s.shortcut_scale != 1.0) shortcut = s.shortcut_scale * shortcut;
  auto y = normed(n.post, shortcut + h);                           // (B, T, C)
  return gpas_at(S::kAfterSublayer, s.gpas, y);                   // (B, T, C)
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const Rope& rope) {
  auto h = sublayer(x, spec.attn, attn_norms, attn_scale,
                    [&](const torch::Tensor& u) { return self_attn(u, rope); });
  return sublayer(h, spec.mlp, mlp_norms, mlp_scale, [&](const torch::Tensor& u) { return mlp(u); });
}

torch::Tensor BlockImpl::forward_sites(const torch::Tensor& x) {
  auto identity = [](const torch::Tensor& u) { return u; };
  return sublayer(sublayer(x, spec.attn, attn_norms, attn_scale, identity), spec.mlp, mlp_norms,
                  mlp_scale, identity);
}

bool BlockImpl::fusable() const {
  auto ok = [](const SublayerSpec& s) {
    return s.in_norm.kind == NormKind::kRms && !s.out_norm.on() && !s.post_norm.on() &&
           s.shortcut_scale == 1.0 && (s.gpas == GpasSite::kNone || s.gpas == GpasSite::kAfterSublayer);
  };
  return !spec.post_ln && spec.branch == BranchScale::kNone && ok(spec.attn) && ok(spec.mlp);
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::fused_op(const torch::Tensor& x,
                                                            const torch::Tensor& o,
                                                            const torch::Tensor& s,
                                                            const Norm& norm) {
  const bool stopgrad = gpas_block ? gpas_block->stopgrad() : true;
  return add_gpas_rmsnorm(x, o, s, stopgrad, norm->weight, norm->eps());
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::forward_fused(const torch::Tensor& x,
                                                                 const torch::Tensor& n,
                                                                 const Rope& rope,
                                                                 const Norm& next) {
  auto s = gpas_block ? gpas_block->scale() : torch::Tensor();         // () act(alpha)
  auto [h, hn] = fused_op(x, self_attn(n, rope), s, mlp_norms.in);     // (B, T, C) x2
  auto o = mlp(hn);                                                    // (B, T, C)
  if (next.is_empty()) return {gpas_at(GpasSite::kAfterSublayer, spec.mlp.gpas, h + o), {}};
  return fused_op(h, o, s, next);
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::forward_sites_fused(const torch::Tensor& x,
                                                                       const torch::Tensor& o) {
  auto s = gpas_block ? gpas_block->scale() : torch::Tensor();
  auto h = fused_op(x, o, s, mlp_norms.in);
  return fused_op(h.first, o, s, input_norm());
}

}  // namespace gpas
