// gpas model info: the layout and parameter count of a configuration, without training.
// gpas model forward: one batch of token ids through exported weights, logits and loss out.
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/config/config_yaml.h"
#include "core/config/flops.h"
#include "core/model/block.h"
#include "core/model/model.h"
#include "core/train/export.h"

namespace gpas::cli {

namespace {

// The scheme's sub-layer as the paper writes it (f in {Attn, FFN}), with GPAS where it is on.
std::vector<std::string> formulas(const ModelConfig& m, double deepnorm_alpha, int64_t post_layers) {
  const std::string act = m.gpas.activation == "silu" ? "SiLU" : m.gpas.activation;
  const std::string sg = m.gpas.stopgrad ? "sg" : "";
  auto gpas_after = [&] {
    return "x_{l+1} = x'_{l+1} - " + act + "(a_l) * " + sg + "(x'_{l+1})" + (m.gpas.stopgrad ? "   (Eq. 2)" : "   (Eq. 12)");
  };
  char alpha[32];
  std::snprintf(alpha, sizeof alpha, "%.4g", deepnorm_alpha);
  std::vector<std::string> out;
  if (m.norm == "post") out.push_back("Post-LN:     x_{l+1} = LN(x_l + f(x_l))   (Eq. 5)");
  if (m.norm == "deepnorm") {
    if (m.gpas.enabled)
      out = {"DeepNorm + GPAS: x'_l = x_l - " + act + "(a_l) * " + sg + "(x_l)   (Eq. 7)",
             "                 x_{l+1} = LN(alpha * x'_l + f(x_l)), alpha = " + std::string(alpha) + "   (Eq. 8)"};
    else
      out.push_back("DeepNorm:    x_{l+1} = LN(alpha * x_l + f(x_l)), alpha = " + std::string(alpha) + "   (Eq. 6)");
  }
  if (m.norm == "pre") out.push_back("Pre-LN:      x'_{l+1} = x_l + f(LN(x_l))   (Eq. 1)");
  if (m.norm == "sandwich") out.push_back("Sandwich-LN: x'_{l+1} = x_l + LN(f(LN(x_l)))   (Eq. 4)");
  if (m.norm == "lns") out.push_back("LNS:         x'_{l+1} = x_l + f(LN(x_l) / sqrt(l))   (Eq. 3)");
  if (m.norm == "mix") {
    out.push_back("Mix-LN:      layers 0.." + std::to_string(post_layers - 1) +
                  " Post-LN x_{l+1} = LN(x_l + f(x_l)) (Eq. 5), the rest Pre-LN x'_{l+1} = x_l + f(LN(x_l)) (Eq. 1)");
    if (post_layers <= 0)
      out.back() = "Mix-LN:      0 Post-LN layers at " + m.size + " (" + std::to_string(m.layers) +
                   " layers; the default is layers / 4): this model equals Pre-LN; --set model.post_layers=N for N Post-LN layers";
    if (m.gpas.enabled) out.push_back("  + GPAS:    Post-LN layers as DeepNorm + GPAS (Eq. 7), Pre-LN layers as Eq. 2");
  }
  if (m.gpas.enabled && m.norm != "deepnorm" && m.norm != "mix" && m.norm != "post")
    out.push_back("  + GPAS:    " + gpas_after() + (m.gpas.site != "after_sublayer" ? ", at " + m.gpas.site : ""));
  if (m.gpas.enabled && m.norm == "post") out.push_back("  + GPAS:    as DeepNorm + GPAS (Eq. 7) with alpha = 1");
  out.push_back("             f in {Attn, FFN}; a_l one learnable scalar per layer" +
                std::string(m.gpas.enabled ? (m.gpas.learnable ? "" : " (fixed here)") : ""));
  if (!m.gpas.enabled) out.pop_back(), out.push_back("             f in {Attn, FFN}");
  return out;
}

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
  ParamCount pc = count_parameters(m);
  nlohmann::json layers = nlohmann::json::array();
  for (int64_t i = 0; i < m.layers; ++i) {
    LayerSpec ls = make_layer_spec(m, i);
    auto sub = [](const SublayerSpec& x) {
      return nlohmann::json{{"in_norm", x.in_norm}, {"out_norm", x.out_norm},
                            {"post_norm", x.post_norm}, {"shortcut_scale", x.shortcut_scale},
                            {"gpas", site_name(x.gpas)}};
    };
    layers.push_back({{"layer", i}, {"post_ln", ls.post_ln}, {"attn", sub(ls.attn)}, {"mlp", sub(ls.mlp)}});
  }
  int64_t post_layers = 0;
  for (const auto& l : layers) post_layers += l["post_ln"].get<bool>();
  double alpha = layers.empty() ? 1.0 : layers[0]["attn"]["shortcut_scale"].get<double>();
  if (a.json) {
    nlohmann::json j = {{"formula", formulas(m, alpha, post_layers)}, {"post_ln_layers", post_layers},
                        {"size", m.size}, {"norm", m.norm}, {"gpas", m.gpas.enabled},
                        {"hidden", m.hidden}, {"intermediate", m.intermediate}, {"heads", m.heads},
                        {"layers", m.layers}, {"vocab_size", m.vocab_size},
                        {"parameters", pc.total}, {"embedding_parameters", pc.embedding},
                        {"lm_head_parameters", pc.lm_head}, {"norm_parameters", pc.norms},
                        {"gate_parameters", pc.gates}, {"matmul_parameters", pc.matmul},
                        {"flops_per_token_seq256", flops_per_token(m, 256)}, {"layout", layers}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%s %s%s: hidden %lld, intermediate %lld, heads %lld, layers %lld, vocab %lld\n",
              m.size.c_str(), m.norm.c_str(), m.gpas.enabled ? " + GPAS" : "", (long long)m.hidden,
              (long long)m.intermediate, (long long)m.heads, (long long)m.layers, (long long)m.vocab_size);
  std::printf("parameters %lld (embedding %lld, lm_head %lld, norms %lld, gates %lld)\n",
              (long long)pc.total, (long long)pc.embedding, (long long)pc.lm_head, (long long)pc.norms,
              (long long)pc.gates);
  for (const auto& f : formulas(m, alpha, post_layers)) std::printf("%s\n", f.c_str());
  for (const auto& l : layers) {
    const std::string ln_in = m.norm == "lns" ? "LN(x)/sqrt(" + std::to_string(l["layer"].get<int64_t>() + 1) + ")" : "LN(x)";
    auto desc = [&](const nlohmann::json& x) {
      std::string d = x["in_norm"].get<std::string>().empty() ? "f(x)" : "f(" + ln_in + ")";
      if (!x["out_norm"].get<std::string>().empty()) d = "LN(" + d + ")";
      double sc = x["shortcut_scale"];
      std::string gp = x["gpas"];
      std::string sc_s = sc != 1.0 ? std::to_string(sc).substr(0, 5) + "*" : "";
      std::string shortcut = gp == "shortcut" ? sc_s + "gpas(x)" : sc_s + "x";
      std::string y = shortcut + " + " + d;
      if (!x["post_norm"].get<std::string>().empty()) y = "LN(" + y + ")";
      if (gp != "none" && gp != "shortcut") y += "  [gpas " + gp + "]";
      return y;
    };
    std::printf("  layer %2lld %-8s attn: %-28s mlp: %s\n", (long long)l["layer"].get<int64_t>(),
                l["post_ln"].get<bool>() ? "post-ln" : "pre-ln", desc(l["attn"]).c_str(),
                desc(l["mlp"]).c_str());
  }
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
  info->add_option("--norm", ia->norm, "post | deepnorm | pre | sandwich | mix | lns")->capture_default_str();
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
