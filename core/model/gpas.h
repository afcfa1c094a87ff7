// GPAS (paper Section 3): gpas(x) = x - act(alpha) * sg(x). The forward value is (1 - act(alpha)) x,
// the Jacobian w.r.t. x is the identity, and d loss / d alpha = -act'(alpha) * sum(g * x).
// This file holds the gate module and the op; where GPAS sits in a layer is block.h's business.
#pragma once
#include <string>

#include <torch/torch.h>

namespace gpas {

// act(alpha) for the gate activations of the paper's ablation (Table 4).
enum class GateActivation { kSilu, kIdentity, kRelu, kLeakyRelu, kTanh, kScaledSilu };
GateActivation gate_activation_kind(const std::string& name);  // throws on an unknown name
torch::Tensor gate_activation(const torch::Tensor& alpha, GateActivation act, double beta);
torch::Tensor gate_activation(const torch::Tensor& alpha, const std::string& name, double beta);

// The GPAS op. With stopgrad (the paper's Eq. 2) the gradient to x passes unchanged; without it
// (Eq. 12) this is plain scaling (1 - act(alpha)) * x and the gradient is scaled too.
torch::Tensor gpas_scale(const torch::Tensor& x, const torch::Tensor& act_alpha, bool stopgrad);

// One learnable (or fixed) scalar gate per layer, shared by its attention and MLP sub-layers.
// Registered as `gpas_block.gate` so exported names match the reference code.
class GpasGateImpl : public torch::nn::Module {
 public:
  GpasGateImpl(double init, bool learnable, std::string activation, double beta, bool stopgrad);
  torch::Tensor forward(const torch::Tensor& x);  // (..., C) -> (..., C)
  torch::Tensor scale();                          // act(alpha), () scalar
  bool stopgrad() const { return stopgrad_; }
  torch::Tensor gate;                             // () scalar alpha

 private:
  GateActivation activation_;  // resolved from its name once, at construction
  double beta_;
  bool stopgrad_;
};
TORCH_MODULE(GpasGate);

}  // namespace gpas
