// The model: each scheme's wiring and initialisation statistics, preset parameter counts,
// attention kernels, and the exported names and shapes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "core/config/presets.h"
#include "tests/common/preset_model.h"
#include "core/model/attention_cpu.h"
#include "core/model/block.h"
#include "core/model/head_gemm.h"
#include "core/model/rmsnorm_cpu.h"
#include "core/model/swiglu_cpu.h"
#include "core/model/model.h"

namespace gpas {
namespace {

ModelConfig preset(const std::string& size, const std::string& norm, bool gpas) {
  return testing::preset_model(size, norm, gpas);
}

TEST(Model, PresetParameterCounts) {
  EXPECT_EQ(count_parameters(preset("71m", "pre", true)).total, 70578700);
  EXPECT_EQ(count_parameters(preset("71m", "pre", false)).total, 70578700 - 12);
  // Sandwich has four norms per layer, Post-LN two; the count follows the layout.
  auto pre = count_parameters(preset("130m", "pre", false)).total;
  EXPECT_EQ(count_parameters(preset("130m", "sandwich", false)).total, pre + 12 * 2 * 768);
  EXPECT_EQ(count_parameters(preset("130m", "post", false)).total, pre);
  // The count without building the model equals the built model's (small presets).
  for (const char* norm : {"post", "deepnorm", "pre", "sandwich", "mix", "lns"}) {
    ModelConfig m = preset("9m", norm, true);
    Transformer model(m);
    int64_t n = 0;
    for (const auto& p : model->parameters()) n += p.numel();
    EXPECT_EQ(n, count_parameters(m).total) << norm;
  }
}

TEST(Model, SchemeWiring) {
  ModelConfig m = preset("9m", "mix", true);
  m.layers = 8;
  m.post_layers = 2;
  auto l0 = layer_spec(m, 0), l5 = layer_spec(m, 5);
  EXPECT_TRUE(l0.post_ln);
  EXPECT_EQ(l0.attn.post_norm.name, "post_attention_layernorm");
  EXPECT_EQ(l0.attn.gpas, GpasSite::kShortcut);
  EXPECT_FALSE(l5.post_ln);
  EXPECT_EQ(l5.mlp.in_norm.name, "post_attention_layernorm");
  EXPECT_EQ(l5.attn.gpas, GpasSite::kAfterSublayer);

  m = preset("9m", "deepnorm", true);
  auto d = layer_spec(m, 1);
  EXPECT_DOUBLE_EQ(d.attn.shortcut_scale, std::pow(8.0, 0.25));  // (2L)^(1/4), L = 4
  EXPECT_EQ(d.mlp.gpas, GpasSite::kShortcut);

  m = preset("9m", "sandwich", false);
  auto s = layer_spec(m, 0);
  EXPECT_EQ(s.attn.out_norm.name, "post_attention_layernorm");
  EXPECT_EQ(s.mlp.in_norm.name, "pre_feedforward_layernorm");
  EXPECT_EQ(s.mlp.out_norm.name, "post_feedforward_layernorm");
  EXPECT_EQ(s.attn.gpas, GpasSite::kNone);

  m = preset("9m", "pre", true);
  m.gpas.site = "after_norm";
  EXPECT_EQ(layer_spec(m, 2).attn.gpas, GpasSite::kAfterNorm);
}

double std_of(const torch::Tensor& t) { return t.to(torch::kFloat64).std().item<double>(); }

// What `bench train --breakdown` times as "norm_residual_gpas": a Pre-LN + GPAS layer with its
// attention and MLP taken out is y = gpas(x + n1(x)), then gpas(y + n2(y)).
TEST(Model, ForwardSitesIsTheLayerWithoutAttentionAndMlp) {
  ModelConfig m = preset("9m", "pre", true);
  m.gpas.init = {0.5};
  Block block(m, 0);
  torch::manual_seed(4);
  for (auto& [name, n] : block->norms) n->weight.data().uniform_(0.5, 1.5);
  auto x = torch::randn({2, 3, m.hidden});
  auto gate = [&](const torch::Tensor& t) {
    return (1 - torch::silu(torch::tensor(0.5))) * t;
  };
  auto y = gate(x + block->norms.at("input_layernorm")(x));
  y = gate(y + block->norms.at("post_attention_layernorm")(y));
  EXPECT_TRUE(torch::allclose(block->forward_sites(x), y, 1e-5, 1e-6));
}

TEST(Model, InitialisationStatistics) {
  ModelConfig m = preset("20m", "deepnorm", true);
  m.vocab_size = 4000;
  Transformer model(m);
  model->init_weights(0);
  EXPECT_NEAR(std_of(model->embed_tokens->weight), std::sqrt(0.4), 0.01);
  EXPECT_NEAR(std_of(model->lm_head->weight), 0.02, 0.001);
  const double d = 256, ff = 688, beta = std::pow(8.0 * 4, -0.25);
  auto& b = model->blocks[2];
  EXPECT_NEAR(std_of(b->self_attn->q_proj->weight), std::sqrt(2.0 / (2 * d)), 0.002);
  EXPECT_NEAR(std_of(b->self_attn->v_proj->weight), beta * std::sqrt(2.0 / (2 * d)), 0.002);
  EXPECT_NEAR(std_of(b->mlp->up_proj->weight), beta * std::sqrt(2.0 / (d + ff)), 0.002);
  for (auto& g : model->gates()) EXPECT_EQ(g.item<double>(), 0.0);

  m.norm = "pre";
  Transformer pre(m);
  pre->init_weights(0);
  EXPECT_NEAR(std_of(pre->blocks[1]->mlp->down_proj->weight), 0.02, 0.001);

  m.norm = "lns";
  Transformer lns(m);
  for (int64_t l = 0; l < m.layers; ++l)
    for (auto& [name, norm] : lns->blocks[l]->norms)
      EXPECT_TRUE(torch::allclose(norm->weight, torch::full_like(norm->weight, 1.0 / std::sqrt(l + 1.0))));
  EXPECT_TRUE(torch::allclose(lns->norm->weight, torch::ones_like(lns->norm->weight)));

  m.gpas.init = {0.1, -0.2, 0.3, 0.4};
  Transformer per_layer(m);
  EXPECT_NEAR(per_layer->gates()[1].item<double>(), -0.2, 1e-7);
}

TEST(Model, FusedAttentionMatchesMath) {
  ModelConfig m = preset("9m", "pre", false);
  m.vocab_size = 100;
  Transformer model(m);
  model->init_weights(1);
  auto tok = torch::randint(0, 100, {2, 17});
  auto fused = model(tok);
  for (auto& b : model->blocks) b->self_attn->use_math = true;
  EXPECT_TRUE(torch::allclose(fused, model(tok), 1e-4, 1e-5));
}

// The CPU kernels' tensors (output, then gradients) against the reference path's.
void expect_close(const std::vector<torch::Tensor>& got, const std::vector<torch::Tensor>& want, double rtol,
                  double atol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(torch::allclose(got[i], want[i], rtol, atol))
        << "tensor " << i << " differs by " << (got[i] - want[i]).abs().max().item<double>();
}

// run() again with one thread if there were several, else two: the same bits as `first`.
template <class Run>
void expect_same_at_other_thread_count(const std::vector<torch::Tensor>& first, const Run& run) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(threads == 1 ? 2 : 1);
  auto other = run();
  torch::set_num_threads(threads);
  ASSERT_EQ(other.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(torch::equal(other[i], first[i])) << "tensor " << i;
}

// Whether an autograd node whose name contains `name` is among the first 64 nodes behind y.
bool graph_has(const torch::Tensor& y, const std::string& name) {
  std::vector<torch::autograd::Node*> todo{y.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!todo.empty() && seen.size() < 64) {
    auto* n = todo.back();
    todo.pop_back();
    if (!n || !seen.insert(n).second) continue;
    if (n->name().find(name) != std::string::npos) return true;
    for (const auto& e : n->next_edges()) todo.push_back(e.function.get());
  }
  return false;
}

// The CPU fp32 attention kernel (attention_cpu.h) against the written-out math: output and the
// gradients of the input and every weight, for head sizes with and without a vector tail, a
// sequence that is not a multiple of 8, each QK-norm layout (strided and normed inputs), and the
// same bits with one thread or two.
TEST(Model, CpuAttentionKernelMatchesMathWithGradients) {
  if (!gpas::attention_cpu_available()) GTEST_SKIP() << "no AVX2 + FMA on this CPU: the kernel never runs";
  struct Case { int64_t hidden, heads; QkNorm qk; bool v; int64_t T; };
  for (auto c : {Case{64, 4, QkNorm::kNone, false, 19}, Case{40, 2, QkNorm::kHead, true, 17},
                 Case{48, 1, QkNorm::kFull, false, 18}, Case{32, 2, QkNorm::kNone, false, 16}}) {
    SCOPED_TRACE("hidden " + std::to_string(c.hidden) + ", heads " + std::to_string(c.heads) + ", T " +
                 std::to_string(c.T));
    torch::manual_seed(5);
    Attention att(c.hidden, c.heads, c.qk, c.v);
    auto rope = make_rope(32, c.hidden / c.heads);
    auto x = torch::randn({3, c.T, c.hidden});
    auto dy = torch::randn({3, c.T, c.hidden});
    auto run = [&](bool math) {
      att->use_math = math;
      auto xi = x.clone().requires_grad_(true);
      att->zero_grad();
      auto y = att(xi, rope);
      EXPECT_EQ(graph_has(y, "CpuAttention"), !math);  // the kernel ran, or the math did
      (y * dy).sum().backward();
      std::vector<torch::Tensor> out{y.detach(), xi.grad()};
      for (auto& p : att->parameters()) out.push_back(p.grad().clone());
      return out;
    };
    auto math = run(true), kernel = run(false);
    expect_close(kernel, math, 1e-4, 1e-5);
    expect_same_at_other_thread_count(kernel, [&] { return run(false); });
  }
}

// The CPU fp32 SwiGLU kernel (swiglu_cpu.h) against silu(g) * u: output and the gradients of g
// and u, over values from -100 to 100 (sigmoid's both ends) and a length that is not a multiple
// of 8.
TEST(Model, CpuSwiGluKernelMatchesAtenWithGradients) {
  if (!gpas::swiglu_cpu_available()) GTEST_SKIP() << "no AVX2 + FMA on this CPU: the kernel never runs";
  torch::manual_seed(6);
  Mlp mlp(12, 37);
  auto x = torch::randn({3, 5, 12}) * 4;
  auto dy = torch::randn({3, 5, 12});
  auto run = [&](bool aten) {
    auto xi = x.clone().requires_grad_(true);
    mlp->zero_grad();
    torch::Tensor y;
    if (aten) {
      y = mlp->down_proj(torch::silu(mlp->gate_proj(xi)) * mlp->up_proj(xi));
    } else {
      y = mlp(xi);
    }
    (y * dy).sum().backward();
    std::vector<torch::Tensor> out{y.detach(), xi.grad()};
    for (auto& p : mlp->parameters()) out.push_back(p.grad().clone());
    return out;
  };
  auto aten = run(true), kernel = run(false);
  expect_close(kernel, aten, 1e-5, 1e-5);
  auto g = torch::linspace(-100, 100, 2001).requires_grad_(true);  // the kernel alone, at the ends
  auto u = torch::ones({2001});
  auto mine = torch::empty({2001});
  swiglu_forward(g.data_ptr<float>(), u.data_ptr<float>(), mine.data_ptr<float>(), 2001);
  EXPECT_TRUE(torch::allclose(mine, torch::silu(g).detach(), 1e-5, 1e-6));
  auto dg = torch::empty({2001}), du = torch::empty({2001});
  auto ones = torch::ones({2001});
  swiglu_backward(g.data_ptr<float>(), u.data_ptr<float>(), ones.data_ptr<float>(), dg.data_ptr<float>(),
                  du.data_ptr<float>(), 2001);
  torch::silu(g).sum().backward();
  EXPECT_TRUE(torch::allclose(dg, g.grad(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::isfinite(dg).all().item<bool>());
}

// The CPU fp32 RMSNorm kernel (rmsnorm_cpu.h) against the norm in ATen ops: output and the
// gradients of x and the weight, for a width with a vector tail and more rows than one block of
// the weight's gradient, and the same bits with one thread or two.
TEST(Model, CpuRmsNormKernelMatchesAtenWithGradients) {
  if (!gpas::rmsnorm_cpu_available()) GTEST_SKIP() << "no AVX2 + FMA on this CPU: the kernel never runs";
  torch::manual_seed(7);
  Norm norm(37, 1e-6);
  {
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::randn({37}));
  }
  auto x = (torch::randn({200, 3, 37}) * 3).transpose(0, 1);  // not contiguous
  auto dy = torch::randn({3, 200, 37});
  auto run = [&](bool aten) {
    auto xi = x.detach().requires_grad_(true);
    norm->zero_grad();
    torch::Tensor y;
    if (aten) {
      auto h = xi * torch::rsqrt(xi.pow(2).mean(-1, true) + 1e-6);
      y = norm->weight * h;
    } else {
      y = norm(xi);
    }
    (y * dy).sum().backward();
    return std::vector<torch::Tensor>{y.detach(), xi.grad(), norm->weight.grad().clone()};
  };
  auto aten = run(true), kernel = run(false);
  expect_close(kernel, aten, 1e-5, 1e-5);
  expect_same_at_other_thread_count(kernel, [&] { return run(false); });
}

// The chunked loss makes the logits 5 rows at a time (34 rows: 7 chunks, the last short) and
// its gradient in forward; loss and every parameter's gradient equal the whole-logits path.
TEST(Model, ChunkedLossEqualsTheWholeLogitsLossAndGradients) {
  ModelConfig m = preset("9m", "pre", true);
  m.vocab_size = 100;
  m.layers = 2;
  Transformer model(m);
  model->init_weights(3);
  torch::manual_seed(4);
  auto tok = torch::randint(0, 100, {2, 17});
  auto tg = torch::randint(0, 100, {2, 17});
  tg.index_put_({0, torch::indexing::Slice(10, 17)}, -1);  // padding: no loss, no gradient
  auto grads = [&](const torch::Tensor& loss) {
    model->zero_grad();
    loss.backward();
    std::vector<torch::Tensor> g;
    for (auto& p : model->parameters()) g.push_back(p.grad().clone());
    return g;
  };
  auto whole = TransformerImpl::loss_sum(model(tok), tg);
  auto gw = grads(whole);
  auto chunked = model->chunked_loss_sum(model->hidden(tok), tg, 5);
  auto gc = grads(chunked);
  {  // the same bits at another thread count (the head's GEMMs and row kernel split the rows)
    auto first = gc;
    first.push_back(chunked.detach());
    expect_same_at_other_thread_count(first, [&] {
      auto l = model->chunked_loss_sum(model->hidden(tok), tg, 5);
      auto g = grads(l);
      g.push_back(l.detach());
      return g;
    });
  }
  EXPECT_NEAR(chunked.item<double>(), whole.item<double>(), 1e-5 * std::abs(whole.item<double>()));
  ASSERT_EQ(gw.size(), gc.size());
  for (size_t i = 0; i < gw.size(); ++i)
    EXPECT_TRUE(torch::allclose(gc[i], gw[i], 1e-4, 1e-6)) << "parameter " << i;
  {
    torch::NoGradGuard no_grad;  // eval: the loss alone, the same value
    EXPECT_NEAR(model->chunked_loss_sum(model->hidden(tok), tg, 5).item<double>(), whole.item<double>(),
                1e-5 * std::abs(whole.item<double>()));
  }
  // Without padding (the CPU path skips its masking work), the same.
  auto full = torch::randint(0, 100, {2, 17});
  auto whole_full = TransformerImpl::loss_sum(model(tok), full);
  auto gwf = grads(whole_full);
  auto chunked_full = model->chunked_loss_sum(model->hidden(tok), full, 5);
  auto gcf = grads(chunked_full);
  EXPECT_NEAR(chunked_full.item<double>(), whole_full.item<double>(), 1e-5 * std::abs(whole_full.item<double>()));
  for (size_t i = 0; i < gwf.size(); ++i)
    EXPECT_TRUE(torch::allclose(gcf[i], gwf[i], 1e-4, 1e-6)) << "parameter " << i << " (no padding)";
}

// The head's own GEMMs (head_gemm.h) against torch::mm, at hidden sizes 64 and 128. Shapes: 1 to 13
// and 31 rows at vocabulary 101 (every count of rows a short logits or dh tile can have, 5 columns
// of a panel, 5 dW rows), 1031 rows at vocabulary 1077 (more than one block of dh's vocabulary and
// of dW's rows; a panel tail of 21, past the first vector; a dW tail of 3). Logits and G with a row stride wider than the vocabulary. Nothing is
// written outside the rows and columns asked for; a split of the rows, of dW's rows or of the
// panels packed gives the same bits; dW accumulates.
TEST(Model, HeadGemmsMatchTorchMm) {
  if (!head_gemm_available(64)) GTEST_SKIP() << "no AVX-512F on this CPU: the head's GEMMs are ATen's";
  EXPECT_TRUE(head_gemm_available(128));
  EXPECT_FALSE(head_gemm_available(96));   // not a multiple of 64: ATen's
  EXPECT_FALSE(head_gemm_available(256));  // not measured: ATen's
  torch::manual_seed(11);
  const float kUntouched = 7.0f;
  // fp32 sums of k products of order 1, in another order than ATen's: rounding grows with k; a
  // missed or misplaced term is of order 1.
  auto tol = [](int64_t k) { return 2e-6 * double(k); };
  std::vector<std::pair<int64_t, int64_t>> shapes{{31, 101}, {1031, 1077}};
  for (int64_t rows = 1; rows <= 13; ++rows) shapes.push_back({rows, 101});  // every short tile
  for (int64_t c : {64, 128})
    for (auto [rows, v] : shapes) {
      SCOPED_TRACE(std::to_string(c) + " hidden, " + std::to_string(rows) + " rows, vocabulary " + std::to_string(v));
      const int64_t ld = v + 11;
      auto h = torch::randn({rows, c}), w = torch::randn({v, c}) * 0.1;
      const int64_t panels = head_pack_panels(v);
      auto packed = torch::empty({int64_t(head_pack_floats(v, c))});
      head_pack(w.data_ptr<float>(), v, c, 0, panels, packed.data_ptr<float>());
      auto packed2 = torch::empty_like(packed);  // in two ranges of panels, as threads pack
      head_pack(w.data_ptr<float>(), v, c, 0, panels / 2, packed2.data_ptr<float>());
      head_pack(w.data_ptr<float>(), v, c, panels / 2, panels, packed2.data_ptr<float>());
      EXPECT_TRUE(torch::equal(packed2, packed));

      auto wide = torch::full({rows, ld}, kUntouched);  // logits in the first v columns of each row
      head_logits(h.data_ptr<float>(), rows, c, packed.data_ptr<float>(), v, wide.data_ptr<float>(), ld);
      auto logits = wide.narrow(1, 0, v);
      EXPECT_TRUE(torch::allclose(logits, torch::mm(h, w.t()), 1e-5, tol(c)));
      EXPECT_TRUE(wide.narrow(1, v, ld - v).eq(kUntouched).all().item<bool>()) << "wrote past the vocabulary";
      auto split = torch::empty({rows, ld});  // rows split at 13: the same bits
      const int64_t cut = std::min<int64_t>(13, rows);
      head_logits(h.data_ptr<float>(), cut, c, packed.data_ptr<float>(), v, split.data_ptr<float>(), ld);
      head_logits(h.data_ptr<float>() + cut * c, rows - cut, c, packed.data_ptr<float>(), v,
                  split.data_ptr<float>() + cut * ld, ld);
      EXPECT_TRUE(torch::equal(split.narrow(1, 0, v), logits));

      auto g = torch::randn({rows, ld});  // G, with the same row stride
      auto gv = g.narrow(1, 0, v);
      auto dh = torch::full({rows + 1, c}, kUntouched);
      head_dh(g.data_ptr<float>(), rows, v, ld, w.data_ptr<float>(), c, dh.data_ptr<float>());
      EXPECT_TRUE(torch::allclose(dh.narrow(0, 0, rows), torch::mm(gv, w), 1e-5, tol(v)));
      EXPECT_TRUE(dh[rows].eq(kUntouched).all().item<bool>()) << "wrote past the rows";
      auto dh2 = torch::empty({rows, c});  // rows split at 13
      head_dh(g.data_ptr<float>(), cut, v, ld, w.data_ptr<float>(), c, dh2.data_ptr<float>());
      head_dh(g.data_ptr<float>() + cut * ld, rows - cut, v, ld, w.data_ptr<float>(), c, dh2.data_ptr<float>() + cut * c);
      EXPECT_TRUE(torch::equal(dh2, dh.narrow(0, 0, rows)));

      auto dw = torch::full({v, c}, kUntouched);
      head_dw(g.data_ptr<float>(), rows, ld, h.data_ptr<float>(), c, 0, 40, dw.data_ptr<float>(), false);
      EXPECT_TRUE(dw.narrow(0, 40, v - 40).eq(kUntouched).all().item<bool>()) << "wrote past dW's rows";
      head_dw(g.data_ptr<float>(), rows, ld, h.data_ptr<float>(), c, 40, v, dw.data_ptr<float>(), false);
      auto want = torch::mm(gv.t(), h);
      EXPECT_TRUE(torch::allclose(dw, want, 1e-5, tol(rows)));
      auto whole = torch::empty({v, c});
      head_dw(g.data_ptr<float>(), rows, ld, h.data_ptr<float>(), c, 0, v, whole.data_ptr<float>(), false);
      EXPECT_TRUE(torch::equal(whole, dw));
      head_dw(g.data_ptr<float>(), rows, ld, h.data_ptr<float>(), c, 0, v, dw.data_ptr<float>(), true);
      EXPECT_TRUE(torch::allclose(dw, 2 * want, 1e-5, 2 * tol(rows))) << "accumulated";
    }
}

TEST(Model, ExportedNamesAndShapesForEveryScheme) {
  for (const char* norm : {"post", "deepnorm", "pre", "sandwich", "mix", "lns"}) {
    ModelConfig m = preset("9m", norm, true);
    m.vocab_size = 1000;
    Transformer model(m);
    std::map<std::string, std::vector<int64_t>> got;
    for (auto& [n, t] : model->named_for_export()) got[n] = t.sizes().vec();
    std::map<std::string, std::vector<int64_t>> want;
    const int64_t d = 128, ff = 352;
    want["model.embed_tokens.weight"] = {1000, d};
    want["model.norm.weight"] = {d};
    want["lm_head.weight"] = {1000, d};
    for (int64_t i = 0; i < 4; ++i) {
      std::string p = "model.layers." + std::to_string(i) + ".";
      for (const char* x : {"q", "k", "v", "o"}) want[p + "self_attn." + x + "_proj.weight"] = {d, d};
      want[p + "mlp.gate_proj.weight"] = {ff, d};
      want[p + "mlp.up_proj.weight"] = {ff, d};
      want[p + "mlp.down_proj.weight"] = {d, ff};
      want[p + "gpas_block.gate"] = {};
      bool post = std::string(norm) == "post" || std::string(norm) == "deepnorm" ||
                  (std::string(norm) == "mix" && i < 1);
      std::vector<std::string> norms;
      if (post) norms = {"post_attention_layernorm", "post_feedforward_layernorm"};
      else if (std::string(norm) == "sandwich")
        norms = {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                 "post_feedforward_layernorm"};
      else norms = {"input_layernorm", "post_attention_layernorm"};
      for (const auto& n : norms) want[p + n + ".weight"] = {d};
    }
    EXPECT_EQ(got, want) << norm;
  }
}

}  // namespace
}  // namespace gpas
