// The schemes after the paper (core/config/schemes.h), each against its closed form: DyT's op,
// HybridNorm's attention with its three norms and its layer, QK-norm per head and over the
// projection, OLMo-2's reordered layer, ReZero's identity at init, LayerScale's init by depth,
// Peri-LN's embedding norm; then every scheme with and without GPAS: its parameters counted
// without building it, its initial loss, a few training steps, and the fused path.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/common/error.h"
#include "core/config/config.h"
#include "core/config/schemes.h"
#include "core/model/block.h"
#include "core/model/model.h"

namespace gpas {
namespace {

ModelConfig small(const std::string& norm, bool gpas = false) {
  ModelConfig m;
  m.hidden = 32;
  m.intermediate = 48;
  m.heads = 4;
  m.layers = 3;
  m.vocab_size = 50;
  m.norm = norm;
  m.post_layers = norm == "mix" ? 1 : -1;
  m.gpas.enabled = gpas;
  return m;
}

// x / sqrt(mean(x^2) + eps) over the last dimension, times w.
torch::Tensor rms(const torch::Tensor& x, const torch::Tensor& w, double eps = 1e-6) {
  return w * x / torch::sqrt(x.pow(2).mean(-1, true) + eps);
}

void randomise_norms(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& p : m.named_parameters())
    if (p.key().find("norm") != std::string::npos) p.value().uniform_(0.5, 1.5);
}

TEST(Schemes, DytIsWeightTimesTanhOfAlphaX) {
  Norm n(5, 1e-6, 1.0, NormKind::kDyt, 0.7);
  EXPECT_FLOAT_EQ(n->alpha.item<float>(), 0.7f);
  {
    torch::NoGradGuard ng;
    n->weight.copy_(torch::tensor({0.5, 1.0, 1.5, -2.0, 3.0}));
  }
  auto x = torch::randn({3, 5}, torch::requires_grad());
  auto y = n(x);
  auto want = n->weight * torch::tanh(0.7 * x);
  EXPECT_TRUE(torch::allclose(y, want, 1e-6, 1e-7));
  // d/d alpha of sum(g * w * tanh(alpha x)) = sum(g * w * x * (1 - tanh^2(alpha x)))
  auto g = torch::randn({3, 5});
  (y * g).sum().backward();
  auto t = torch::tanh(0.7 * x.detach());
  double da = (g * n->weight.detach() * x.detach() * (1 - t * t)).sum().item<double>();
  EXPECT_NEAR(n->alpha.grad().item<double>(), da, 1e-5);
  EXPECT_TRUE(torch::allclose(x.grad(), g * n->weight.detach() * 0.7 * (1 - t * t), 1e-5, 1e-6));
}

TEST(Schemes, DytSitesTakeTheirAlphasAndTheEmbeddingScale) {
  ModelConfig m = small("dyt");
  m.dyt.alpha_attn = 0.8;
  m.dyt.alpha_mlp = 0.2;
  m.dyt.alpha_final = 0.3;
  Transformer model(m);
  for (auto& b : model->blocks) {
    EXPECT_FLOAT_EQ(b->attn_norms.in->alpha.item<float>(), 0.8f);
    EXPECT_FLOAT_EQ(b->mlp_norms.in->alpha.item<float>(), 0.2f);
    EXPECT_EQ(b->attn_norms.in->kind(), NormKind::kDyt);
  }
  EXPECT_FLOAT_EQ(model->norm->alpha.item<float>(), 0.3f);
  EXPECT_NEAR(model->embed_scale.item<double>(), std::sqrt(32.0), 1e-6);
  // -1: by width, DyT's Table 11 (1.0 / 1.0 up to width 1024, 1.0 / 0.5 at 2048).
  ModelConfig w = small("dyt");
  w.hidden = 2048;
  w.heads = 16;
  EXPECT_DOUBLE_EQ(layer_spec(w, 0).attn.in_norm.alpha_init, 1.0);
  EXPECT_DOUBLE_EQ(layer_spec(w, 0).mlp.in_norm.alpha_init, 0.5);
  EXPECT_DOUBLE_EQ(stem_spec(w).final_norm.alpha_init, 0.5);
  // The embedding output is scaled before the first layer, the final DyT before the head.
  auto tok = torch::randint(0, 50, {2, 7});
  torch::NoGradGuard ng;
  auto x = model->embed_tokens(tok) * std::sqrt(32.0);
  auto h = model->blocks[0](x, model->rope);
  h = model->blocks[1](h, model->rope);
  h = model->blocks[2](h, model->rope);
  EXPECT_TRUE(torch::allclose(model->hidden(tok), model->norm(h), 1e-5, 1e-6));
}

// Reference attention: per-head (or full) RMS of q, k (and v), rotary on q and k, causal softmax.
torch::Tensor reference_attention(Attention& a, const torch::Tensor& x, const Rope& rope, QkNorm qk, bool v_norm) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), H = 4, D = C / H;
  auto q = x.matmul(a->q_proj->weight.t()), k = x.matmul(a->k_proj->weight.t()), v = x.matmul(a->v_proj->weight.t());
  if (qk == QkNorm::kFull) {
    q = rms(q, a->q_norm->weight);
    k = rms(k, a->k_norm->weight);
  }
  auto split = [&](const torch::Tensor& t) { return t.view({B, T, H, D}).transpose(1, 2); };
  q = split(q), k = split(k), v = split(v);
  if (qk == QkNorm::kHead) {
    q = rms(q, a->q_norm->weight);
    k = rms(k, a->k_norm->weight);
    if (v_norm) v = rms(v, a->v_norm->weight);
  }
  q = apply_rope(q, rope);
  k = apply_rope(k, rope);
  auto y = causal_attention_math(q, k, v).transpose(1, 2).reshape({B, T, C});
  return y.matmul(a->o_proj->weight.t());
}

TEST(Schemes, HybridNormLayerIsQkvNormAttentionThenPostNormMlp) {
  ModelConfig m = small("hybrid");
  Block b(m, 1);
  torch::manual_seed(3);
  randomise_norms(*b);
  EXPECT_EQ(b->spec.qk_norm, QkNorm::kHead);
  EXPECT_TRUE(b->spec.v_norm);
  ASSERT_FALSE(b->self_attn->v_norm.is_empty());
  EXPECT_EQ(b->self_attn->q_norm->weight.size(0), 8);  // d_head
  EXPECT_TRUE(b->attn_norms.in.is_empty());             // no norm on the attention input
  auto rope = make_rope(16, 8);
  auto x = torch::randn({2, 6, 32}) * 3;
  torch::NoGradGuard ng;
  auto h = x + reference_attention(b->self_attn, x, rope, QkNorm::kHead, true);  // h = x + attn(QKV-norm)
  auto n = rms(h, b->attn_norms.post->weight);                                     // N(h)
  auto want = n + b->mlp(n);                                                       // N(h) + mlp(N(h))
  EXPECT_TRUE(torch::allclose(b(x, rope), want, 1e-4, 1e-5));
  // HybridNorm*: layer 0 is Pre-Norm in both sub-layers, Q, K, V still normalised.
  m.norm = "hybrid_star";
  Block first(m, 0);
  randomise_norms(*first);
  auto u = x + reference_attention(first->self_attn, rms(x, first->attn_norms.in->weight), rope, QkNorm::kHead, true);
  auto star = u + first->mlp(rms(u, first->mlp_norms.in->weight));
  EXPECT_TRUE(torch::allclose(first(x, rope), star, 1e-4, 1e-5));
  EXPECT_TRUE(layer_spec(m, 1).attn.post_norm.on());
}

TEST(Schemes, QkNormPerHeadAndOverTheProjection) {
  for (auto [setting, qk] : {std::pair{"head", QkNorm::kHead}, std::pair{"full", QkNorm::kFull}}) {
    ModelConfig m = small("pre");
    m.qk_norm = setting;
    Block b(m, 0);
    randomise_norms(*b);
    EXPECT_EQ(b->self_attn->q_norm->weight.size(0), qk == QkNorm::kHead ? 8 : 32) << setting;
    EXPECT_TRUE(b->self_attn->v_norm.is_empty());
    auto rope = make_rope(16, 8);
    auto x = torch::randn({2, 5, 32});
    torch::NoGradGuard ng;
    EXPECT_TRUE(torch::allclose(b->self_attn(x, rope), reference_attention(b->self_attn, x, rope, qk, false), 1e-4, 1e-5))
        << setting;
  }
  // OLMo-2 takes the whole projection by default, and its layer is x + N(f(x)).
  ModelConfig m = small("olmo2");
  EXPECT_EQ(effective_qk_norm(m), QkNorm::kFull);
  Block b(m, 0);
  randomise_norms(*b);
  auto rope = make_rope(16, 8);
  auto x = torch::randn({2, 5, 32});
  torch::NoGradGuard ng;
  auto h = x + rms(reference_attention(b->self_attn, x, rope, QkNorm::kFull, false), b->attn_norms.out->weight);
  auto want = h + rms(b->mlp(h), b->mlp_norms.out->weight);
  EXPECT_TRUE(torch::allclose(b(x, rope), want, 1e-4, 1e-5));
}

TEST(Schemes, ReZeroIsTheIdentityAtInitWithOrWithoutGpas) {
  for (bool gpas : {false, true}) {
    ModelConfig m = small("rezero", gpas);
    Transformer model(m);
    model->init_weights(1);
    EXPECT_TRUE(model->norm.is_empty());  // no final norm
    auto tok = torch::randint(0, 50, {2, 9});
    torch::NoGradGuard ng;
    auto x = model->embed_tokens(tok);
    EXPECT_TRUE(torch::equal(model->blocks[0](x, model->rope), x));
    EXPECT_TRUE(torch::equal(model->hidden(tok), x));  // every layer the identity, no final norm
    EXPECT_EQ(model->blocks[0]->attn_scale.dim(), 0);
    EXPECT_TRUE(model->blocks[0]->attn_scale.is_same(model->blocks[0]->mlp_scale));  // one per layer
  }
}

TEST(Schemes, LayerScaleInitFollowsDepth) {
  EXPECT_DOUBLE_EQ(layerscale_init(12), 0.1);
  EXPECT_DOUBLE_EQ(layerscale_init(18), 0.1);
  EXPECT_DOUBLE_EQ(layerscale_init(24), 1e-5);
  EXPECT_DOUBLE_EQ(layerscale_init(36), 1e-6);
  ModelConfig m = small("layerscale");
  Block b(m, 0);
  EXPECT_TRUE(torch::equal(b->attn_scale, torch::full({32}, 0.1)));
  EXPECT_TRUE(torch::equal(b->mlp_scale, torch::full({32}, 0.1)));
  m.branch_init = 0.25;
  Block c(m, 0);
  EXPECT_TRUE(torch::equal(c->mlp_scale, torch::full({32}, 0.25)));
  // x + diag(lambda) f(LN(x)), per channel.
  torch::NoGradGuard ng;
  c->mlp_scale.copy_(torch::linspace(-1, 1, 32));
  auto rope = make_rope(16, 8);
  auto x = torch::randn({1, 4, 32});
  auto h = x + c->attn_scale * c->self_attn(c->attn_norms.in(x), rope);
  auto want = h + c->mlp_scale * c->mlp(c->mlp_norms.in(h));
  EXPECT_TRUE(torch::allclose(c(x, rope), want, 1e-5, 1e-6));
}

TEST(Schemes, PeriLnNormalisesTheEmbeddingAndIsSandwichOtherwise) {
  ModelConfig m = small("peri");
  Transformer peri(m);
  peri->init_weights(2);
  ASSERT_FALSE(peri->embed_norm.is_empty());
  m.norm = "sandwich";
  Transformer sw(m);
  sw->init_weights(2);
  auto tok = torch::randint(0, 50, {2, 9});
  torch::NoGradGuard ng;
  // The same layers on LN(embedding) give the same hidden state.
  for (size_t i = 0; i < 3; ++i)
    for (auto& [name, n] : sw->blocks[i]->norms) EXPECT_TRUE(peri->blocks[i]->norms.count(name)) << name;
  auto x = sw->embed_tokens(tok);
  auto ln = rms(x, torch::ones({32}));
  auto h = ln;
  for (auto& b : sw->blocks) h = b(h, sw->rope);
  EXPECT_TRUE(torch::allclose(peri->hidden(tok), sw->norm(h), 1e-5, 1e-6));
}

// Every scheme, with and without GPAS: the built model has exactly count_parameters(), starts at a
// loss near log(V) with a finite per-layer variance, and a few Adam steps on one batch lower it.
TEST(Schemes, EverySchemeCountsStartsAndTrainsWithAndWithoutGpas) {
  for (const Scheme& row : schemes()) {
    for (bool gpas : {false, true}) {
      ModelConfig m = small(row.name, gpas);
      Transformer model(m);
      model->init_weights(0);
      int64_t n = 0;
      for (const auto& p : model->parameters()) n += p.numel();
      EXPECT_EQ(n, count_parameters(m).total) << row.name << " gpas " << gpas;
      torch::manual_seed(1);
      auto tok = torch::randint(0, 50, {4, 13});
      auto in = tok.slice(1, 0, 12), tg = tok.slice(1, 1);
      model->probe = true;
      torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
      double first = 0, last = 0;
      for (int s = 0; s < 25; ++s) {
        opt.zero_grad();
        auto loss = model->chunked_loss_sum(model->hidden(in), tg) / 48.0;
        if (s == 0) {
          ASSERT_EQ(model->last_layer_variance.size(), 3u);
          for (double v : model->last_layer_variance) EXPECT_TRUE(std::isfinite(v) && v > 0) << row.name;
        }
        loss.backward();
        opt.step();
        (s == 0 ? first : last) = loss.item<double>();
      }
      EXPECT_NEAR(first, std::log(50.0), 0.6) << row.name << " gpas " << gpas;
      EXPECT_LT(last, 0.8 * first) << row.name << " gpas " << gpas;
      if (gpas) {
        double moved = 0;
        for (auto& g : model->gates()) moved += std::abs(g.item<double>());
        EXPECT_GT(moved, 0) << row.name << ": the gates did not learn";
      }
    }
  }
}

// train.fused_norm takes the layers it can (RMSNorm inputs, nothing after f, no branch scale)
// and leaves the others to the separate modules; values and gradients are the same either way.
TEST(Schemes, FusedPathMatchesForEveryScheme) {
  for (const Scheme& row : schemes()) {
    for (std::string qk : {"auto", "head"}) {
      if (row.v_norm && qk != "auto") continue;
      ModelConfig m = small(row.name, true);
      m.qk_norm = qk;
      m.gpas.init = {0.3};
      Transformer a(m), b(m);
      a->init_weights(5);
      b->init_weights(5);
      b->fused_norm = true;
      auto tok = torch::randint(0, 50, {2, 8}), tg = torch::randint(0, 50, {2, 8});
      auto la = a->chunked_loss_sum(a->hidden(tok), tg), lb = b->chunked_loss_sum(b->hidden(tok), tg);
      la.backward();
      lb.backward();
      EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-4) << row.name;
      auto pa = a->parameters(), pb = b->parameters();
      for (size_t i = 0; i < pa.size(); ++i)
        EXPECT_TRUE(torch::allclose(pa[i].grad(), pb[i].grad(), 1e-4, 1e-5)) << row.name << " parameter " << i;
      // HybridNorm*'s layer 0 is a Pre-LN layer (its QKV-norm is inside attention).
      const bool fusable = row.name == "pre" || row.name == "lns" || row.name == "mix" || row.name == "hybrid_star";
      EXPECT_EQ(b->fused_layer_count() > 0, fusable) << row.name;
    }
  }
}

TEST(Schemes, ValidationNamesTheKeyAndTheChoices) {
  RunConfig c;
  c.model.norm = "periln";
  try {
    validate(c);
    FAIL() << "an unknown scheme was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.norm"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("hybrid_star"), std::string::npos);
  }
  c.model.norm = "hybrid";
  c.model.qk_norm = "none";
  EXPECT_THROW(validate(c), Error);
  c.model.qk_norm = "sideways";
  c.model.norm = "pre";
  EXPECT_THROW(validate(c), Error);
  c.model.qk_norm = "auto";
  c.model.dyt.alpha_attn = -3;
  c.model.norm = "dyt";
  EXPECT_THROW(validate(c), Error);
  // Keys a scheme does not read are reset by resolve(): one model, one identity.
  c.model.norm = "pre";
  c.model.dyt.alpha_attn = 2;
  c.model.branch_init = 0.5;
  resolve(c);
  EXPECT_EQ(c.model.dyt.alpha_attn, -1);
  EXPECT_EQ(c.model.branch_init, -1);
  validate(c);
}

}  // namespace
}  // namespace gpas
