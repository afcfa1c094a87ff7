// The LM head's three fp32 CPU GEMMs on tensors: gpas's own kernels (head_gemm.h), split across
// threads by rows (by vocabulary rows for dW), where they run; ATen's (OpenBLAS) otherwise. The
// chunked loss (model.cpp) and `gpas bench head` call them.
#pragma once
#include <torch/torch.h>

namespace gpas {

class HeadGemms {
 public:
  // w: the head's weight (V, C), fp32, contiguous, on the CPU. own: gpas's kernels, where
  // head_gemms_own_available says they run (then W^T is packed here, once); else ATen's.
  HeadGemms(const torch::Tensor& w, bool own);
  bool own() const { return own_; }
  void logits(const torch::Tensor& h, torch::Tensor out) const;  // out (c, V) = h (c, C) W^T
  void dh(const torch::Tensor& g, torch::Tensor out) const;      // out (c, C) = g (c, V) W
  // out (V, C) = g^T h, or out += g^T h where accumulate.
  void dw(const torch::Tensor& g, const torch::Tensor& h, torch::Tensor out, bool accumulate) const;

 private:
  torch::Tensor w_, packed_;
  bool own_;
};

// Whether gpas's kernels run for these operands: the CPU (AVX-512F), hidden size, fp32, contiguous.
bool head_gemms_own_available(const torch::Tensor& h, const torch::Tensor& w);

}  // namespace gpas
