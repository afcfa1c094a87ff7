#include "core/model/gpas.h"

#include "core/common/error.h"

namespace gpas {

GateActivation gate_activation_kind(const std::string& name) {
  if (name == "silu") return GateActivation::kSilu;
  if (name == "identity") return GateActivation::kIdentity;
  if (name == "relu") return GateActivation::kRelu;
  if (name == "leaky_relu") return GateActivation::kLeakyRelu;
  if (name == "tanh") return GateActivation::kTanh;
  if (name == "scaled_silu") return GateActivation::kScaledSilu;
  throw Error("model.gpas.activation: unknown activation '" + name + "'");
}

torch::Tensor gate_activation(const torch::Tensor& a, GateActivation act, double beta) {
  switch (act) {
    case GateActivation::kSilu: return torch::silu(a);
    case GateActivation::kIdentity: return a;
    case GateActivation::kRelu: return torch::relu(a);
    case GateActivation::kLeakyRelu: return torch::leaky_relu(a, 0.01);
    case GateActivation::kTanh: return torch::tanh(a);
    case GateActivation::kScaledSilu: return a * torch::sigmoid(beta * a);
  }
  return a;
}

torch::Tensor gate_activation(const torch::Tensor& a, const std::string& name, double beta) {
  return gate_activation(a, gate_activation_kind(name), beta);
}

torch::Tensor gpas_scale(const torch::Tensor& x, const torch::Tensor& act_alpha, bool stopgrad) {
  auto s = act_alpha.to(x.scalar_type());
  if (stopgrad) return x - s * x.detach();  // value (1 - s) x, dx = identity
  return x * (1 - s);
}

GpasGateImpl::GpasGateImpl(double init, bool learnable, std::string activation, double beta,
                           bool stopgrad)
    : activation_(gate_activation_kind(activation)), beta_(beta), stopgrad_(stopgrad) {
  gate = register_parameter("gate", torch::full({}, init), /*requires_grad=*/learnable);
}

torch::Tensor GpasGateImpl::scale() { return gate_activation(gate, activation_, beta_); }

torch::Tensor GpasGateImpl::forward(const torch::Tensor& x) {
  return gpas_scale(x, scale(), stopgrad_);
}

}  // namespace gpas
