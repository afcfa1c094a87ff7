// Folding GPAS gates into a plain LLaMA: logits equal the gated model's within the eps bound for
// every foldable site (including a gate above 1, a negative stream scale), the file and config
// are plain LlamaForCausalLM, and the schemes that cannot fold are refused with their reason.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/schemes.h"
#include "core/model/model.h"
#include "core/model/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/export.h"
#include "core/train/fold.h"

namespace gpas {
namespace {

ModelConfig tiny_cfg(const std::string& norm, const std::string& site) {
  ModelConfig m;
  m.vocab_size = 97;
  m.layers = 4;
  m.max_positions = 64;
  m.norm = norm;
  m.post_layers = norm == "mix" ? 1 : -1;
  m.gpas.enabled = true;
  m.gpas.site = site;
  return m;
}

// Trained-looking weights: random norm weights and gates spread over (-2, 2] (act(2) > 1: c < 0).
Transformer random_model(const ModelConfig& m) {
  Transformer model(m);
  model->init_weights(3);
  torch::NoGradGuard ng;
  torch::manual_seed(11);
  for (auto& p : model->named_parameters())
    if (p.key().find("layernorm") != std::string::npos || p.key() == "norm.weight")
      p.value().uniform_(0.5, 1.5);
  const double alphas[] = {-2.0, 0.7, 2.0, 0.3};
  auto gates = model->gates();
  for (size_t l = 0; l < gates.size(); ++l) gates[l].fill_(alphas[l % 4]);
  return model;
}

TEST(Fold, LogitsMatchForEveryFoldableSite) {
  for (const char* norm : {"pre", "lns"})
    for (const char* site : {"after_sublayer", "before_sublayer", "after_norm", "after_module"}) {
      SCOPED_TRACE(std::string(norm) + " " + site);
      Transformer model = random_model(tiny_cfg(norm, site));
      FoldedModel f = fold_gates(model);
      EXPECT_FALSE(f.cfg.gpas.enabled);
      EXPECT_EQ(f.cfg.norm, "pre");
      for (const auto& [name, t] : f.tensors) EXPECT_EQ(name.find("gpas"), std::string::npos) << name;
      Transformer plain(f.cfg);
      plain->load_exported(f.tensors);
      double d = max_logit_difference(model, plain);
      EXPECT_LT(d, 2e-4);
      RecordProperty(std::string(norm) + "_" + site + "_max_abs_logit_diff", std::to_string(d));
      std::printf("%s %s: max |logit diff| %.3g, stream scale in [%.3g, %.3g]\n", norm, site, d,
                  f.min_scale, f.max_scale);
      // The gates matter: the same weights without them give other logits.
      Transformer ungated(f.cfg);
      auto raw = model->named_for_export();
      raw.erase(std::remove_if(raw.begin(), raw.end(),
                               [](const auto& p) { return p.first.find("gpas") != std::string::npos; }),
                raw.end());
      ungated->load_exported(raw);
      EXPECT_GT(max_logit_difference(model, ungated), 100 * d + 1e-3);
    }
}

// LayerScale's lambda folds into o_proj/down_proj's rows; QK-norm reads the normalised input and
// stays (a per-head one is Qwen3's layout). Random lambdas and QK-norm gains, every site.
TEST(Fold, LayerScaleAndQkNormFoldToo) {
  for (auto [norm, qk, arch] : {std::tuple{"layerscale", "auto", "LlamaForCausalLM"},
                                std::tuple{"pre", "head", "Qwen3ForCausalLM"},
                                std::tuple{"layerscale", "full", ""}})
    for (const char* site : {"after_sublayer", "after_module"}) {
      SCOPED_TRACE(std::string(norm) + " " + qk + " " + site);
      ModelConfig m = tiny_cfg(norm, site);
      m.qk_norm = qk;
      Transformer model = random_model(m);
      {
        torch::NoGradGuard ng;
        for (auto& p : model->named_parameters())
          if (p.key().find("_scale") != std::string::npos || p.key().find("q_norm") != std::string::npos ||
              p.key().find("k_norm") != std::string::npos)
            p.value().uniform_(-1.5, 1.5);
      }
      FoldedModel f = fold_gates(model);
      EXPECT_EQ(f.cfg.norm, "pre");
      EXPECT_EQ(hf_class(f.cfg).architecture, arch);
      for (const auto& [name, t] : f.tensors) EXPECT_EQ(name.find("_scale"), std::string::npos) << name;
      Transformer plain(f.cfg);
      plain->load_exported(f.tensors);
      EXPECT_LT(max_logit_difference(model, plain), 2e-4);
      // The export of the fold reads back, with or without a transformers class for it.
      std::string dir = ::testing::TempDir() + "gpas_fold_qk", ckpt = dir + "/step.pt";
      std::filesystem::remove_all(dir);
      RunConfig cfg;
      cfg.model = m;
      save_checkpoint(ckpt, cfg, model, nullptr, TrainState{});
      ExportOptions o;
      o.fold_gates = true;
      ExportResult r = export_checkpoint(ckpt, dir + "/out", o);
      EXPECT_EQ(r.hf_architecture, arch);
      RunConfig back = read_export_config(dir + "/out");
      Transformer loaded(back.model);
      loaded->load_exported(load_safetensors(dir + "/out/model.safetensors"));
      EXPECT_LT(max_logit_difference(model, loaded), 2e-4);
    }
}

TEST(Fold, RefusesSchemesWithoutALlamaEquivalent) {
  for (const char* norm : {"post", "deepnorm", "sandwich", "mix", "peri", "dyt", "hybrid", "hybrid_star",
                           "olmo2", "rezero"}) {
    ModelConfig m = tiny_cfg(norm, "after_sublayer");
    EXPECT_NE(fold_refusal(m), "") << norm;
    Transformer model(m);
    try {
      fold_gates(model);
      ADD_FAILURE() << norm << " folded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("model.norm ") + norm), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fold_refusal(m)), std::string::npos) << e.what();
    }
  }
  ModelConfig mix0 = tiny_cfg("mix", "after_sublayer");
  mix0.post_layers = 0;  // all Pre-LN: foldable
  EXPECT_EQ(fold_refusal(mix0), "");
}

TEST(Fold, RefusesAGateThatErasesTheStream) {
  Transformer model = random_model(tiny_cfg("pre", "after_sublayer"));
  {
    torch::NoGradGuard ng;
    model->gates()[1].fill_(1.0);  // identity activation: 1 - alpha = 0
  }
  model->cfg.gpas.activation = "identity";
  EXPECT_THROW(fold_gates(model), Error);
}

TEST(Fold, ExportWritesAPlainLlama) {
  std::string dir = ::testing::TempDir() + "gpas_fold_export";
  std::filesystem::remove_all(dir);
  RunConfig cfg;
  cfg.model = tiny_cfg("lns", "after_sublayer");
  Transformer model = random_model(cfg.model);
  std::string ckpt = dir + "/step.pt";
  save_checkpoint(ckpt, cfg, model, nullptr, TrainState{});

  ExportResult plain = export_checkpoint(ckpt, dir + "/unfolded");
  EXPECT_FALSE(plain.plain_llama);
  EXPECT_NE(plain.not_plain_reason.find("--fold-gates"), std::string::npos);

  ExportOptions o;
  o.fold_gates = true;
  ExportResult r = export_checkpoint(ckpt, dir + "/folded", o);
  EXPECT_TRUE(r.plain_llama);
  EXPECT_LT(r.max_abs_logit_diff, 2e-4);
  auto j = nlohmann::json::parse(read_file(dir + "/folded/config.json"));
  EXPECT_EQ(j["architectures"][0], "LlamaForCausalLM");
  for (auto it = j.begin(); it != j.end(); ++it) EXPECT_EQ(it.key().find("gpas"), std::string::npos) << it.key();
  std::map<std::string, std::string> meta;
  auto tensors = load_safetensors(dir + "/folded/model.safetensors", &meta);
  EXPECT_EQ(meta["gpas_folded_gates"], "true");
  for (const auto& [name, t] : tensors) EXPECT_EQ(name.find("gpas"), std::string::npos) << name;
  // gpas reads the plain config back as Pre-LN without GPAS, and its logits match the gated model.
  RunConfig back = read_export_config(dir + "/folded");
  EXPECT_EQ(back.model.norm, "pre");
  EXPECT_FALSE(back.model.gpas.enabled);
  Transformer loaded(back.model);
  loaded->load_exported(tensors);
  EXPECT_LT(max_logit_difference(model, loaded), 2e-4);

  cfg.model = tiny_cfg("sandwich", "after_sublayer");
  Transformer sw(cfg.model);
  save_checkpoint(ckpt, cfg, sw, nullptr, TrainState{});
  EXPECT_THROW(export_checkpoint(ckpt, dir + "/sandwich", o), Error);
  EXPECT_FALSE(path_exists(dir + "/sandwich/model.safetensors"));
}

// Every scheme exports (without --fold-gates) and comes back: the config names the transformers
// class that loads it (LLaMA, Qwen3, OLMo-2) or none, and gpas reads the export back to the same
// logits bit for bit.
TEST(Export, EverySchemeRoundTripsAndNamesItsClass) {
  std::string dir = ::testing::TempDir() + "gpas_export_schemes";
  std::filesystem::remove_all(dir);
  for (const Scheme& row : schemes())
    for (bool gpas : {false, true}) {
      SCOPED_TRACE(row.name + (gpas ? " + gpas" : ""));
      RunConfig cfg;
      cfg.model = tiny_cfg(row.name, "after_sublayer");
      cfg.model.gpas.enabled = gpas;
      Transformer model = random_model(cfg.model);
      std::string ckpt = dir + "/" + row.name + ".pt", out = dir + "/" + row.name + (gpas ? "-gpas" : "");
      save_checkpoint(ckpt, cfg, model, nullptr, TrainState{});
      ExportResult r = export_checkpoint(ckpt, out);
      const HfClass hf = hf_class(cfg.model);
      EXPECT_EQ(r.hf_architecture, hf.architecture);
      auto j = nlohmann::json::parse(read_file(out + "/config.json"));
      if (hf.architecture.empty()) {
        EXPECT_FALSE(j.contains("architectures"));
        EXPECT_NE(r.not_plain_reason, "");
      } else {
        EXPECT_EQ(j["architectures"][0], hf.architecture);
        EXPECT_EQ(j["model_type"], hf.model_type);
      }
      RunConfig back = read_export_config(out);
      Transformer loaded(back.model);
      loaded->load_exported(load_safetensors(out + "/model.safetensors"));
      EXPECT_EQ(max_logit_difference(model, loaded), 0.0);
      // A transformers config without gpas's own copy is read as that layout too.
      if (!hf.architecture.empty()) {
        j.erase("gpas");
        write_file_atomic(out + "/config.json", j.dump());
        RunConfig plain = read_export_config(out);
        Transformer again(plain.model);
        again->load_exported(load_safetensors(out + "/model.safetensors"));
        EXPECT_EQ(max_logit_difference(model, again), 0.0);
      }
    }
}

}  // namespace
}  // namespace gpas
