// gpas model info: the layout and parameter count of a configuration, without training.
// gpas model forward: one batch of token ids through exported weights, logits and loss out.
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/config/config_yaml.h"
#include "core/config/flops.h"
#include "core/config/schemes.h"
#include "core/model/block.h"
#include "core/model/model.h"
#include "core/train/export.h"

namespace gpas::cli {

namespace {

struct InfoArgs {
  std::string size = "71m", norm = "pre";
  bool gpas = false, json = false;
  int64_t vocab = 32000;
  std::vector<std::string> sets;
};

int run_info(const InfoArgs& a) {
  std::vector<Setting> s = {parse_set("model.size=" + a.size), parse_set("model.norm=" + a.norm),
                            parse_set("model.vocab_size=" + std::to_string(a.vocab)),
                            parse_set(std::string("model.gpas.enabled=") + (a.gpas ? "true" : "false"))};
  for (const auto& kv : a.sets) s.push_back(parse_set(kv));
  RunConfig cfg = build_config(s);
  const ModelConfig& m = cfg.model;
  const Scheme& row = scheme_of(m.norm);
  const ParamCount pc = count_parameters(m);
  const StemSpec stem = stem_spec(m);
  auto norm_text = [](const NormSite& n) -> std::string {
    if (n.kind == NormKind::kDyt) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", n.alpha_init);
      return "DyT[alpha=" + std::string(buf) + "]";
    }
    if (n.weight_init != 1.0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g", n.weight_init);
      return "LN[w=" + std::string(buf) + "]";
    }
    return "LN";
  };
  nlohmann::json layers = nlohmann::json::array();
  std::vector<std::string> text;  // one line per layer
  int64_t post_layers = 0;
  for (int64_t i = 0; i < m.layers; ++i) {
    LayerSpec ls = layer_spec(m, i);
    post_layers += ls.post_ln;
    auto site = [](const NormSite& n) {
      return nlohmann::json{{"name", n.name}, {"kind", n.kind == NormKind::kDyt ? "dyt" : "rms"},
                            {"weight_init", n.weight_init}, {"alpha_init", n.alpha_init}};
    };
    auto sub = [&](const SublayerSpec& x) {
      nlohmann::json j = {{"in_norm", x.in_norm.name}, {"out_norm", x.out_norm.name},
                          {"post_norm", x.post_norm.name}, {"shortcut_scale", x.shortcut_scale},
                          {"gpas", site_name(x.gpas)}, {"norms", nlohmann::json::array()}};
      for (const NormSite* n : {&x.in_norm, &x.out_norm, &x.post_norm})
        if (n->on()) j["norms"].push_back(site(*n));
      return j;
    };
    layers.push_back({{"layer", i}, {"post_ln", ls.post_ln}, {"qk_norm", qk_norm_name(ls.qk_norm)},
                      {"v_norm", ls.v_norm},
                      {"branch", ls.branch == BranchScale::kLayerScale ? "layerscale"
                                 : ls.branch == BranchScale::kReZero   ? "rezero" : "none"},
                      {"branch_init", ls.branch_init}, {"attn", sub(ls.attn)}, {"mlp", sub(ls.mlp)}});
    auto desc = [&](const SublayerSpec& x, bool attn) {
      std::string in = x.in_norm.on() ? norm_text(x.in_norm) + "(x)" : "x";
      std::string d = "f(" + in + ")";
      if (attn && ls.qk_norm != QkNorm::kNone) d = "f[qk" + std::string(ls.v_norm ? "v" : "") + "-norm](" + in + ")";
      if (x.out_norm.on()) d = norm_text(x.out_norm) + "(" + d + ")";
      if (ls.branch == BranchScale::kLayerScale) d = "lambda*" + d;
      if (ls.branch == BranchScale::kReZero) d = "alpha*" + d;
      char sc[32] = "";
      if (x.shortcut_scale != 1.0) std::snprintf(sc, sizeof sc, "%.4g*", x.shortcut_scale);
      std::string y = std::string(sc) + (x.gpas == GpasSite::kShortcut ? "gpas(x)" : "x") + " + " + d;
      if (x.post_norm.on()) y = norm_text(x.post_norm) + "(" + y + ")";
      if (x.gpas != GpasSite::kNone && x.gpas != GpasSite::kShortcut) y += "  [gpas " + std::string(site_name(x.gpas)) + "]";
      return y;
    };
    char line[512];
    std::snprintf(line, sizeof line, "  layer %2lld %-8s attn: %-32s mlp: %s", (long long)i,
                  ls.post_ln ? "post-ln" : "", desc(ls.attn, true).c_str(), desc(ls.mlp, false).c_str());
    text.push_back(line);
  }
  std::vector<std::string> stem_lines;
  if (stem.embed_scale) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", stem.embed_scale_init);
    stem_lines.push_back("x_0 = s * Embed(t), s learnable, init " + std::string(buf));
  }
  if (stem.embed_norm.on()) stem_lines.push_back("x_0 = " + norm_text(stem.embed_norm) + "(Embed(t))");
  stem_lines.push_back(stem.final_norm.on() ? "logits = head(" + norm_text(stem.final_norm) + "(x_L))"
                                            : "logits = head(x_L)  (no final norm)");
  if (a.json) {
    nlohmann::json j = {{"formula", formula(m)}, {"post_ln_layers", post_layers},
                        {"size", m.size}, {"norm", m.norm}, {"display", row.display},
                        {"method", m.gpas.enabled ? row.display_gpas : row.display},
                        {"source", row.source}, {"note", row.note}, {"gpas", m.gpas.enabled},
                        {"qk_norm", qk_norm_name(effective_qk_norm(m))},
                        {"hidden", m.hidden}, {"intermediate", m.intermediate}, {"heads", m.heads},
                        {"layers", m.layers}, {"vocab_size", m.vocab_size},
                        {"parameters", pc.total}, {"embedding_parameters", pc.embedding},
                        {"lm_head_parameters", pc.lm_head}, {"norm_parameters", pc.norms},
                        {"gate_parameters", pc.gates}, {"branch_parameters", pc.branch},
                        {"matmul_parameters", pc.matmul},
                        {"flops_per_token_seq256", flops_per_token(m, 256)}, {"stem", stem_lines},
                        {"fold_gates", fold_refusal(m).empty() ? "folds" : fold_refusal(m)},
                        {"hf_class", hf_class(m).architecture}, {"layout", layers}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%s %s%s: hidden %lld, intermediate %lld, heads %lld, layers %lld, vocab %lld\n",
              m.size.c_str(), m.norm.c_str(), m.gpas.enabled ? " + GPAS" : "", (long long)m.hidden,
              (long long)m.intermediate, (long long)m.heads, (long long)m.layers, (long long)m.vocab_size);
  std::printf("%s (%s)\n", m.gpas.enabled ? row.display_gpas.c_str() : row.display.c_str(), row.source.c_str());
  std::printf("parameters %lld (embedding %lld, lm_head %lld, norms %lld, gates %lld%s)\n",
              (long long)pc.total, (long long)pc.embedding, (long long)pc.lm_head, (long long)pc.norms,
              (long long)pc.gates, pc.branch ? (", branch/embedding scales " + std::to_string(pc.branch)).c_str() : "");
  for (const auto& f : formula(m)) std::printf("%s\n", f.c_str());
  if (!row.note.empty()) std::printf("note: %s\n", row.note.c_str());
  for (const auto& l : stem_lines) std::printf("  %s\n", l.c_str());
  for (const auto& l : text) std::printf("%s\n", l.c_str());
  return 0;
}

struct ForwardArgs {
  std::string weights, tokens, out, config;
  bool json = false;
};

}  // namespace

void setup_model(CLI::App& app) {
  auto* model = app.add_subcommand("model", "Inspect a model configuration or run exported weights");
  model->require_subcommand(1);

  auto ia = std::make_shared<InfoArgs>();
  auto* info = model->add_subcommand("info", "Layout and parameter count of a size x scheme x GPAS");
  info->add_option("--size", ia->size, "size preset (tiny, 9m ... 7b)")->capture_default_str();
  info->add_option("--norm", ia->norm, "the scheme: " + scheme_names())->capture_default_str();
  info->add_flag("--gpas", ia->gpas, "with GPAS");
  info->add_option("--vocab", ia->vocab, "vocabulary size")->capture_default_str();
  info->add_option("-s,--set", ia->sets, "any other model key, e.g. --set model.post_layers=2");
  info->add_flag("--json", ia->json, "one JSON object (has \"parameters\")");
  info->callback([ia] { run_info(*ia); });

  auto fa = std::make_shared<ForwardArgs>();
  auto* fwd = model->add_subcommand(
      "forward", "One fp32 forward pass of exported weights: logits and loss to a safetensors file");
  fwd->add_option("--weights", fa->weights, "model.safetensors from `gpas export`")->required()->check(CLI::ExistingFile);
  fwd->add_option("--tokens", fa->tokens, "safetensors with an int64 (B, T) tensor \"tokens\"")->required()->check(CLI::ExistingFile);
  fwd->add_option("--out", fa->out, "output safetensors: logits (B, T, V), loss ()")->required();
  fwd->add_option("--config", fa->config, "config.json (default: beside the weights)");
  fwd->add_flag("--json", fa->json, "print the loss as JSON");
  fwd->callback([fa] {
    ForwardResult r = forward_file(fa->weights, fa->tokens, fa->out, fa->config);
    if (fa->json)
      std::cout << nlohmann::json{{"loss", r.loss}, {"batch", r.batch}, {"seq", r.seq}, {"vocab", r.vocab}, {"out", fa->out}}.dump() << "\n";
    else
      std::printf("loss %.6f over %lld x %lld tokens -> %s\n", r.loss, (long long)r.batch,
                  (long long)r.seq, fa->out.c_str());
  });
}

}  // namespace gpas::cli
