#include "core/model/model.h"

#include <cmath>
#include <map>
#include <set>

#include "core/common/error.h"
#include "core/config/flops.h"

namespace gpas {

namespace nn = torch::nn;

TransformerImpl::TransformerImpl(const ModelConfig& c) : cfg(c) {
  if (cfg.vocab_size <= 0) throw Error("model.vocab_size: not set (the data source gives it)");
  embed_tokens = register_module("embed_tokens", nn::Embedding(cfg.vocab_size, cfg.hidden));
  auto list = register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < cfg.layers; ++i) {
    blocks.push_back(Block(cfg, i));
    list->push_back(blocks.back());
  }
  norm = register_module("norm", RMSNorm(cfg.hidden, cfg.norm_eps));
  lm_head = register_module("lm_head",
                            nn::Linear(nn::LinearOptions(cfg.hidden, cfg.vocab_size).bias(false)));
  rope = make_rope(cfg.max_positions, cfg.hidden / cfg.heads);
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& tokens) {
  TORCH_CHECK(tokens.size(1) <= cfg.max_positions, "sequence longer than model.max_positions");
  if (rope.cos.device() != tokens.device())
    rope = {rope.cos.to(tokens.device()), rope.sin.to(tokens.device())};
  auto x = embed_tokens(tokens);  // (B, T, C)
  if (probe) last_layer_variance.clear();
  for (int64_t i = 0; i < layer_count(); ++i) {
    if (i == skip_layer) continue;
    x = blocks[i](x, rope);       // (B, T, C)
    if (probe) last_layer_variance.push_back(x.detach().to(torch::kFloat32).var().item<double>());
  }
  return lm_head(norm(x));        // (B, T, V)
}

torch::Tensor TransformerImpl::loss_sum(const torch::Tensor& logits, const torch::Tensor& targets) {
  auto flat = logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32);  // (B*T, V)
  return torch::nn::functional::cross_entropy(
      flat, targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1).reduction(torch::kSum));
}

void TransformerImpl::init_weights(uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  const bool deepnorm =
      cfg.norm == "deepnorm" && !(cfg.gpas.enabled && cfg.deepnorm_gpas_init == "normal");
  const double beta = std::pow(8.0 * cfg.layers, -0.25);  // DeepNorm Xavier gain
  embed_tokens->weight.normal_(0.0, cfg.embed_std);
  auto xavier = [](torch::Tensor& w, double gain) {
    double std = gain * std::sqrt(2.0 / double(w.size(0) + w.size(1)));
    w.normal_(0.0, std);
  };
  for (auto& b : blocks) {
    for (auto* lin : {&b->self_attn->q_proj, &b->self_attn->k_proj}) {
      if (deepnorm) xavier((*lin)->weight, 1.0);
      else (*lin)->weight.normal_(0.0, cfg.init_std);
    }
    for (auto* lin : {&b->self_attn->v_proj, &b->self_attn->o_proj, &b->mlp->gate_proj,
                      &b->mlp->up_proj, &b->mlp->down_proj}) {
      if (deepnorm) xavier((*lin)->weight, beta);
      else (*lin)->weight.normal_(0.0, cfg.init_std);
    }
  }
  lm_head->weight.normal_(0.0, cfg.init_std);
}

static std::string export_name(const std::string& name) {
  return name.rfind("lm_head", 0) == 0 ? name : "model." + name;
}

std::vector<std::pair<std::string, torch::Tensor>> TransformerImpl::named_for_export() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : named_parameters(/*recurse=*/true)) out.emplace_back(export_name(p.key()), p.value());
  return out;
}

void TransformerImpl::load_exported(
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  for (auto& p : named_parameters(true)) {
    std::string n = export_name(p.key());
    auto it = by_name.find(n);
    if (it == by_name.end()) throw Error("weights: missing tensor '" + n + "'");
    if (it->second.sizes() != p.value().sizes())
      throw Error("weights: tensor '" + n + "' has shape " + c10::str(it->second.sizes()) +
                  ", the model expects " + c10::str(p.value().sizes()));
    p.value().copy_(it->second);
    by_name.erase(it);
  }
  if (!by_name.empty())
    throw Error("weights: tensor '" + by_name.begin()->first +
                "' does not belong to this model (check model.norm and model.gpas)");
}

std::vector<torch::Tensor> TransformerImpl::gates() const {
  std::vector<torch::Tensor> g;
  for (const auto& b : blocks)
    if (b->gpas_block) g.push_back(b->gpas_block->gate);
  return g;
}

ParamCount count_parameters(const ModelConfig& cfg) {
  ParamCount c;
  const int64_t d = cfg.hidden, V = cfg.vocab_size, L = cfg.layers;
  c.embedding = V * d;
  c.lm_head = V * d;
  int64_t attn = 4 * d * d, mlp = 3 * d * cfg.intermediate;
  int64_t norms_per_layer = 0;
  for (int64_t i = 0; i < L; ++i) {
    LayerSpec s = make_layer_spec(cfg, i);
    std::set<std::string> names;
    for (const SublayerSpec* sub : {&s.attn, &s.mlp})
      for (const std::string* n : {&sub->in_norm, &sub->out_norm, &sub->post_norm})
        if (!n->empty()) names.insert(*n);
    norms_per_layer += int64_t(names.size()) * d;
  }
  c.gates = cfg.gpas.enabled ? L : 0;
  c.norms = norms_per_layer + d;  // + the final norm
  c.matmul = matmul_parameters(cfg);
  c.total = c.embedding + c.lm_head + L * (attn + mlp) + c.norms + c.gates;
  return c;
}

}  // namespace gpas
