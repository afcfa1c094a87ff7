#include "core/train/probes.h"

#include <cmath>

#include "core/common/error.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"

namespace gpas {

double grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> sq;  // summed on the device: one sync, not one per parameter
  for (const auto& p : params)
    if (p.grad().defined()) sq.push_back(p.grad().to(torch::kFloat64).pow(2).sum());
  return sq.empty() ? 0.0 : std::sqrt(torch::stack(sq).sum().item<double>());
}

static double norm_of(const std::vector<torch::Tensor>& ws) {
  double sq = 0;
  for (const auto& w : ws) sq += w.detach().to(torch::kFloat64).pow(2).sum().item<double>();
  return std::sqrt(sq);
}

void record_grad_probes(Transformer& model, Journal& journal, int64_t step) {
  for (int64_t i = 0; i < model->layer_count(); ++i)
    journal.layer(step, int(i), "grad_norm", grad_norm(model->blocks[i]->parameters()));
}

void record_model_probes(Transformer& model, Journal& journal, int64_t step) {
  for (int64_t i = 0; i < model->layer_count(); ++i) {
    const auto& b = model->blocks[i];
    if (b->gpas_block) journal.layer(step, int(i), "gate", b->gpas_block->gate.item<double>());
    if (i < int64_t(model->last_layer_variance.size()))
      journal.layer(step, int(i), "act_var", model->last_layer_variance[i]);
    journal.layer(step, int(i), "attn_wnorm",
                  norm_of({b->self_attn->q_proj->weight, b->self_attn->k_proj->weight,
                           b->self_attn->v_proj->weight, b->self_attn->o_proj->weight}));
    journal.layer(step, int(i), "ffn_wnorm",
                  norm_of({b->mlp->gate_proj->weight, b->mlp->up_proj->weight,
                           b->mlp->down_proj->weight}));
  }
}

void load_fixed_gates(Transformer& model, const std::string& run_dir) {
  std::string ckpt = latest_checkpoint(run_dir);
  if (ckpt.empty())
    throw Error("train.fixed_gates_from: " + run_dir +
                " has no checkpoint (the learnable-gate run must finish first)");
  RunConfig src = checkpoint_config(ckpt);
  if (!src.model.gpas.enabled || src.model.layers != model->layer_count())
    throw Error("train.fixed_gates_from: " + run_dir + " is not a GPAS run with " +
                std::to_string(model->layer_count()) + " layers");
  Transformer donor(src.model);
  load_checkpoint(ckpt, donor, nullptr);
  auto from = donor->gates();
  auto to = model->gates();
  if (to.size() != from.size())
    throw Error("train.fixed_gates_from: this run has no GPAS gates (set model.gpas.enabled)");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < to.size(); ++i) {
    to[i].copy_(from[i]);
    to[i].set_requires_grad(false);
  }
}

}  // namespace gpas
