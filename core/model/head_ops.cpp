#include "core/model/head_ops.h"

#include "core/model/head_gemm.h"

namespace gpas {

bool head_gemms_own_available(const torch::Tensor& h, const torch::Tensor& w) {
  return h.is_cpu() && w.is_cpu() && h.scalar_type() == torch::kFloat32 && w.scalar_type() == torch::kFloat32 &&
         h.is_contiguous() && w.is_contiguous() && head_gemm_available(w.size(1));
}

HeadGemms::HeadGemms(const torch::Tensor& w, bool own) : w_(w), own_(own) {
  if (!own_) return;
  TORCH_CHECK(w.is_cpu() && w.scalar_type() == torch::kFloat32 && w.is_contiguous() && head_gemm_available(w.size(1)),
              "HeadGemms: gpas's kernels do not run for this weight");
  const int64_t v = w.size(0), c = w.size(1);
  packed_ = torch::empty({int64_t(head_pack_floats(v, c))}, w.options());
  const float* wp = w.data_ptr<float>();
  float* pp = packed_.data_ptr<float>();
  at::parallel_for(0, head_pack_panels(v), 16, [&](int64_t b, int64_t e) { head_pack(wp, v, c, b, e, pp); });
}

// Each kernel's tiles are split across threads along their independent rows; every output
// element's sum runs in one order at any thread count. (ATen's OpenBLAS splits threads over the
// output too; other BLAS libraries need not.)
void HeadGemms::logits(const torch::Tensor& h, torch::Tensor out) const {
  if (!own_) {
    at::mm_out(out, h, w_.t());
    return;
  }
  const int64_t v = w_.size(0), c = w_.size(1), ld = out.stride(0);
  TORCH_CHECK(h.is_contiguous() && h.size(1) == c && out.stride(1) == 1 && out.size(1) == v, "HeadGemms::logits: shapes");
  const float* hp = h.data_ptr<float>();
  const float* pp = packed_.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, h.size(0), 12, [&](int64_t b, int64_t e) {
    head_logits(hp + b * c, e - b, c, pp, v, op + b * ld, ld);
  });
}

void HeadGemms::dh(const torch::Tensor& g, torch::Tensor out) const {
  if (!own_) {
    at::mm_out(out, g, w_);
    return;
  }
  const int64_t v = w_.size(0), c = w_.size(1), ld = g.stride(0);
  TORCH_CHECK(g.stride(1) == 1 && g.size(1) == v && out.is_contiguous() && out.size(1) == c, "HeadGemms::dh: shapes");
  const float* gp = g.data_ptr<float>();
  const float* wp = w_.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, g.size(0), 6, [&](int64_t b, int64_t e) {
    head_dh(gp + b * ld, e - b, v, ld, wp, c, op + b * c);
  });
}

void HeadGemms::dw(const torch::Tensor& g, const torch::Tensor& h, torch::Tensor out, bool accumulate) const {
  if (!own_) {
    if (accumulate) out.addmm_(g.t(), h);
    else at::mm_out(out, g.t(), h);
    return;
  }
  const int64_t v = w_.size(0), c = w_.size(1), ld = g.stride(0), rows = g.size(0);
  TORCH_CHECK(g.stride(1) == 1 && g.size(1) == v && h.is_contiguous() && h.size(0) == rows && h.size(1) == c &&
                  out.is_contiguous() && out.size(0) == v && out.size(1) == c,
              "HeadGemms::dw: shapes");
  const float* gp = g.data_ptr<float>();
  const float* hp = h.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, v, 48, [&](int64_t b, int64_t e) { head_dw(gp, rows, ld, hp, c, b, e, op, accumulate); });
}

}  // namespace gpas
