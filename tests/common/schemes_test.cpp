// The scheme table without LibTorch: parameter counts written out by hand for two sizes (the
// count plans and `model info` use), GPAS sites, fold and export answers, and every row complete.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/config/presets.h"
#include "core/config/schemes.h"
#include "tests/common/preset_model.h"

namespace gpas {
namespace {

ModelConfig sized(const std::string& size, const std::string& norm, bool gpas) {
  return testing::preset_model(size, norm, gpas, 1000);
}

// Each scheme's count spelled out: embedding + head, the layers' matrices, then what the scheme
// adds (norm gains d each, DyT gains d + one alpha, QK-norm gains d_head or d, branch scales).
int64_t by_hand(const ModelConfig& m) {
  const int64_t d = m.hidden, I = m.intermediate, L = m.layers, V = m.vocab_size, hd = d / m.heads;
  const int64_t base = 2 * V * d + L * (4 * d * d + 3 * d * I) + (m.gpas.enabled ? L : 0);
  const std::string& n = m.norm;
  if (n == "pre" || n == "lns" || n == "post" || n == "deepnorm" || n == "mix") return base + L * 2 * d + d;
  if (n == "sandwich") return base + L * 4 * d + d;
  if (n == "peri") return base + L * 4 * d + d + d;                    // + the embedding's norm
  if (n == "dyt") return base + L * 2 * (d + 1) + (d + 1) + 1;          // + the embedding scale
  if (n == "hybrid") return base + L * (d + 3 * hd) + d;                // one norm, Q/K/V per head
  if (n == "hybrid_star") return base + 2 * d + 3 * hd + (L - 1) * (d + 3 * hd) + d;
  if (n == "olmo2") return base + L * (2 * d + 2 * d) + d;              // two out-norms, q/k full
  if (n == "layerscale") return base + L * (2 * d + 2 * d) + d;         // two lambda vectors
  if (n == "rezero") return base + L;                                   // one alpha, no norms at all
  ADD_FAILURE() << "no hand count for " << n;
  return 0;
}

TEST(SchemeTable, ParameterCountsByHandForTwoSizes) {
  for (const char* size : {"tiny", "71m"})
    for (const Scheme& row : schemes())
      for (bool gpas : {false, true}) {
        ModelConfig m = sized(size, row.name, gpas);
        EXPECT_EQ(count_parameters(m).total, by_hand(m)) << size << " " << row.name << " gpas " << gpas;
      }
  // QK-norm as an option: per head adds 2 d_head per layer, over the projection 2 d.
  ModelConfig m = sized("71m", "pre", false);
  const int64_t plain = count_parameters(m).total;
  m.qk_norm = "head";
  EXPECT_EQ(count_parameters(m).total, plain + m.layers * 2 * (m.hidden / m.heads));
  m.qk_norm = "full";
  EXPECT_EQ(count_parameters(m).total, plain + m.layers * 2 * m.hidden);
  // The paper's 71M Pre + GPAS count (Table 1's preset, vocab 32000), as before the table existed.
  ModelConfig p = sized("71m", "pre", true);
  p.vocab_size = 32000;
  EXPECT_EQ(count_parameters(p).total, 70578700);
}

TEST(SchemeTable, EveryRowIsCompleteAndNamedOnce) {
  std::set<std::string> names, displays;
  for (const Scheme& row : schemes()) {
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
    EXPECT_TRUE(displays.insert(row.display).second) << row.display;
    EXPECT_TRUE(displays.insert(row.display_gpas).second) << row.display_gpas;
    EXPECT_FALSE(row.source.empty()) << row.name;
    ASSERT_TRUE(row.layer && row.stem && row.formula && row.fold_refusal) << row.name;
    ModelConfig m = sized("tiny", row.name, true);
    if (row.name == "mix") m.post_layers = 1;
    EXPECT_FALSE(formula(m).empty());
    EXPECT_NE(formula(m)[0].find(row.display.substr(0, 3)), std::string::npos) << formula(m)[0];
  }
  EXPECT_EQ(std::count_if(schemes().begin(), schemes().end(), [](const Scheme& s) { return s.paper; }), 6);
}

TEST(SchemeTable, GpasScalesTheShortcutWhereTheAddIsNormalised) {
  ModelConfig m = sized("tiny", "hybrid", true);
  LayerSpec s = layer_spec(m, 1);
  EXPECT_EQ(s.attn.gpas, GpasSite::kShortcut);      // N(gpas(x) + attn(...))
  EXPECT_EQ(s.mlp.gpas, GpasSite::kAfterSublayer);  // gpas(y + mlp(y))
  EXPECT_TRUE(s.post_ln);
  m.gpas.site = "after_norm";
  EXPECT_EQ(layer_spec(m, 1).attn.gpas, GpasSite::kAfterNorm);
  for (const char* n : {"peri", "dyt", "olmo2", "layerscale", "rezero"}) {
    m.norm = n;
    m.gpas.site = "after_sublayer";
    EXPECT_EQ(layer_spec(m, 0).attn.gpas, GpasSite::kAfterSublayer) << n;
    EXPECT_FALSE(layer_spec(m, 0).post_ln) << n;
  }
}

TEST(SchemeTable, FoldAndExportAnswers) {
  auto m = [](const char* norm, const char* qk = "auto") {
    ModelConfig c = sized("tiny", norm, false);
    c.qk_norm = qk;
    return c;
  };
  for (const char* n : {"pre", "lns", "layerscale"}) EXPECT_EQ(fold_refusal(m(n)), "") << n;
  for (const char* n : {"post", "deepnorm", "sandwich", "peri", "dyt", "hybrid", "hybrid_star", "olmo2", "rezero"})
    EXPECT_NE(fold_refusal(m(n)), "") << n;
  EXPECT_EQ(hf_class(m("pre")).architecture, "LlamaForCausalLM");
  EXPECT_EQ(hf_class(m("pre", "head")).architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(hf_class(m("olmo2")).architecture, "Olmo2ForCausalLM");
  EXPECT_EQ(hf_class(m("olmo2", "head")).architecture, "");
  EXPECT_EQ(hf_class(m("dyt")).architecture, "");
  EXPECT_NE(hf_class(m("dyt")).reason, "");
  ModelConfig g = m("pre");
  g.gpas.enabled = true;
  EXPECT_EQ(hf_class(g).architecture, "");
}

}  // namespace
}  // namespace gpas
