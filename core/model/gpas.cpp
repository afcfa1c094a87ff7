#include "core/model/gpas.h"

#include "core/common/error.h"

namespace gpas {

torch::Tensor gate_activation(const torch::Tensor& a, const std::string& name, double beta) {
  if (name == "silu") return torch::silu(a);
  if (name == "identity") return a;
  if (name == "relu") return torch::relu(a);
  if (name == "leaky_relu") return torch::leaky_relu(a, 0.01);
  if (name == "tanh") return torch::tanh(a);
  if (name == "scaled_silu") return a * torch::sigmoid(beta * a);
  throw Error("model.gpas.activation: unknown activation '" + name + "'");
}

torch::Tensor gpas_scale(const torch::Tensor& x, const torch::Tensor& act_alpha, bool stopgrad) {
  auto s = act_alpha.to(x.scalar_type());
  if (stopgrad) return x - s * x.detach();  // value (1 - s) x, dx = identity
  return x * (1 - s);
}

GpasGateImpl::GpasGateImpl(double init, bool learnable, std::string activation, double beta,
                           bool stopgrad)
    : activation_(std::move(activation)), beta_(beta), stopgrad_(stopgrad) {
  gate = register_parameter("gate", torch::full({}, init), /*requires_grad=*/learnable);
}

torch::Tensor GpasGateImpl::scale() { return gate_activation(gate, activation_, beta_); }

torch::Tensor GpasGateImpl::forward(const torch::Tensor& x) {
  return gpas_scale(x, scale(), stopgrad_);
}

}  // namespace gpas
