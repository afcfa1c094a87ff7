// The fold, per sub-layer k with true stream x_k = s_k z_k (z: the folded model's stream, s_0 = 1):
//   after_sublayer  x_{k+1} = c (x_k + f(LN(x_k)))  ->  z_{k+1} = z_k + f(LN(z_k)) / s_k, s_{k+1} = c s_k
//   before_sublayer x'_k = c x_k first, then as above with s_k := c s_k
//   after_norm      f(c LN(x_k)):  c goes into the input norm weight (exact)
//   after_module    x_k + c f(LN(x_k)):  c goes into o_proj/down_proj (exact)
// f ends in o_proj (attention) or down_proj (MLP), both linear: dividing f by s_k is dividing that
// weight. LN(s z) = sign(s) LN(z) with eps/s^2 for eps, so the input norms (and the final norm)
// take sign(s); the eps difference is the only error (measured by max_logit_difference).
#include "core/train/fold.h"

#include <cmath>
#include <map>

#include "core/common/error.h"
#include "core/model/block.h"
#include "core/model/gpas.h"

namespace gpas {

FoldedModel fold_gates(const Transformer& model) {
  const ModelConfig& mc = model->cfg;
  if (std::string why = fold_refusal(mc); !why.empty())
    throw Error("cannot fold the GPAS gates into a plain LLaMA: " + why +
                ". Export without --fold-gates (gpas model forward runs such exports).");
  FoldedModel out;
  out.cfg = mc;
  // LNS differs from Pre-LN only by its initial norm weights; LayerScale's lambda folds into the
  // output projections; QK-norm reads the normalised input, so it stays as it is.
  out.cfg.norm = "pre";
  out.cfg.post_layers = -1;
  out.cfg.branch_init = -1;
  out.cfg.qk_norm = qk_norm_name(effective_qk_norm(mc));
  out.cfg.gpas = GpasConfig{};
  std::map<std::string, torch::Tensor> w;  // float64 copies to scale
  for (const auto& [name, t] : model->named_for_export())
    w[name] = t.detach().to(torch::kCPU, torch::kFloat64).clone();
  const std::vector<torch::Tensor> gates = model->gates();
  double s = 1.0;
  auto track = [&](double v) {
    out.min_scale = std::min(out.min_scale, std::abs(v));
    out.max_scale = std::max(out.max_scale, std::abs(v));
  };
  for (int64_t l = 0; l < model->layer_count(); ++l) {
    const LayerSpec spec = layer_spec(mc, l);
    double c = 1.0;
    if (mc.gpas.enabled) {
      torch::NoGradGuard ng;
      double a = gate_activation(gates.at(l).detach().to(torch::kCPU, torch::kFloat64),
                                 mc.gpas.activation, mc.gpas.beta).item<double>();
      c = 1.0 - a;
      if (std::abs(c) < 1e-6)
        throw Error("cannot fold layer " + std::to_string(l) + ": its gate gives act(alpha) = " +
                    std::to_string(a) + ", so 1 - act(alpha) ~ 0 erases the residual stream and "
                    "cannot be divided out");
    }
    const std::string p = "model.layers." + std::to_string(l) + ".";
    struct Sub {
      const SublayerSpec* spec;
      std::string out_proj;
      std::string branch;  // LayerScale's lambda: diag(lambda) W_out
    };
    for (const Sub& sub : {Sub{&spec.attn, p + "self_attn.o_proj.weight", p + "attn_scale"},
                           Sub{&spec.mlp, p + "mlp.down_proj.weight", p + "mlp_scale"}}) {
      if (auto it = w.find(sub.branch); it != w.end()) {
        w.at(sub.out_proj).mul_(it->second.unsqueeze(1));  // (C, C_in) rows by (C)
        w.erase(it);
      }
      const GpasSite site = sub.spec->gpas;
      if (site == GpasSite::kBeforeSublayer) s *= c;
      track(s);
      double norm_mul = s < 0 ? -1.0 : 1.0, proj_mul = 1.0 / s;
      if (site == GpasSite::kAfterNorm) norm_mul *= c;
      if (site == GpasSite::kAfterModule) proj_mul *= c;
      w.at(p + sub.spec->in_norm.name + ".weight").mul_(norm_mul);
      w.at(sub.out_proj).mul_(proj_mul);
      if (site == GpasSite::kAfterSublayer) s *= c;
    }
    w.erase(p + "gpas_block.gate");
  }
  track(s);
  if (s < 0) w.at("model.norm.weight").neg_();
  // The order of the model without gates: build it and read its names.
  Transformer plain(out.cfg);
  for (const auto& [name, t] : plain->named_for_export()) {
    auto it = w.find(name);
    if (it == w.end()) throw Error("fold: tensor '" + name + "' missing from the model");
    out.tensors.emplace_back(name, it->second.to(torch::kFloat32).contiguous());
    w.erase(it);
  }
  if (!w.empty()) throw Error("fold: tensor '" + w.begin()->first + "' left over (a bug)");
  return out;
}

double max_logit_difference(Transformer& a, Transformer& b, uint64_t seed) {
  torch::NoGradGuard ng;
  const int64_t T = std::min<int64_t>(64, a->cfg.max_positions);
  auto gen = at::detail::createCPUGenerator(seed);
  auto tokens = torch::randint(a->cfg.vocab_size, {2, T}, gen, torch::kInt64);
  a->eval();
  b->eval();
  auto la = a(tokens).to(torch::kFloat32), lb = b(tokens).to(torch::kFloat32);
  return (la - lb).abs().max().item<double>();
}

}  // namespace gpas
