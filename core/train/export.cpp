#include "core/train/export.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/config_yaml.h"
#include "core/data/tokenizer.h"
#include "core/model/model.h"
#include "core/model/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/fold.h"
#include "core/train/model_source.h"

namespace gpas {

namespace fs = std::filesystem;

// config.json: the fields the model's transformers class reads (LLaMA's, plus Qwen3's head_dim
// and OLMo-2's, which name the same numbers); a model no class loads gets LLaMA's fields and no
// "architectures", so nothing loads it as something it is not.
static nlohmann::json hf_config(const ModelConfig& m) {
  const HfClass hf = hf_class(m);
  nlohmann::json j = {
      {"model_type", hf.model_type.empty() ? "gpas" : hf.model_type},
      {"hidden_size", m.hidden},
      {"intermediate_size", m.intermediate},
      {"num_attention_heads", m.heads},
      {"num_key_value_heads", m.heads},
      {"num_hidden_layers", m.layers},
      {"vocab_size", m.vocab_size},
      {"max_position_embeddings", m.max_positions},
      {"rms_norm_eps", m.norm_eps},
      {"rope_theta", 10000.0},
      {"hidden_act", "silu"},
      {"tie_word_embeddings", false},
      {"attention_bias", false},
      {"torch_dtype", "float32"},
  };
  if (!hf.architecture.empty()) j["architectures"] = {hf.architecture};
  if (hf.model_type == "qwen3") {
    j["head_dim"] = m.hidden / m.heads;
    j["use_sliding_window"] = false;
  }
  return j;
}

ExportResult export_checkpoint(const std::string& checkpoint, const std::string& out_dir,
                               const ExportOptions& opts) {
  if (!path_exists(checkpoint)) throw Error(checkpoint + ": no such checkpoint");
  RunConfig cfg = checkpoint_config(checkpoint);
  Transformer model(cfg.model);
  load_checkpoint(checkpoint, model, nullptr);
  model->to(torch::kFloat32);
  ExportResult res;
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"gpas_run_id", run_id(cfg)}};
  NamedTensors tensors;
  nlohmann::json j;
  if (opts.fold_gates) {
    FoldedModel f = fold_gates(model);  // throws with the reason where folding is impossible
    Transformer plain(f.cfg);
    plain->load_exported(f.tensors);
    res.max_abs_logit_diff = max_logit_difference(model, plain);
    res.min_scale = f.min_scale;
    res.hf_architecture = hf_class(f.cfg).architecture;
    res.plain_llama = res.hf_architecture == "LlamaForCausalLM";
    tensors = std::move(f.tensors);
    meta["gpas_folded_gates"] = "true";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3g", res.max_abs_logit_diff);
    meta["gpas_fold_max_abs_logit_diff"] = buf;
    j = hf_config(f.cfg);  // nothing gpas-specific where transformers reads it as it is
    if (res.hf_architecture.empty()) {  // e.g. full-width QK-norm on Pre-LN: no class has it
      RunConfig folded = cfg;
      folded.model = f.cfg;
      res.not_plain_reason = hf_class(f.cfg).reason;
      j["gpas_norm_scheme"] = f.cfg.norm;
      j["gpas"] = to_json(folded);  // what gpas model forward and train.init_from read
    }
  } else {
    tensors = model->named_for_export();
    for (auto& [name, t] : tensors) t = t.detach().to(torch::kFloat32);
    const auto& m = cfg.model;
    const HfClass hf = hf_class(m);
    res.hf_architecture = hf.architecture;
    res.plain_llama = hf.architecture == "LlamaForCausalLM";
    res.not_plain_reason = hf.reason;
    if (m.gpas.enabled)
      res.not_plain_reason += fold_refusal(m).empty() ? "; export with --fold-gates for a plain model"
                                                      : " (and cannot be folded: " + fold_refusal(m) + ")";
    j = hf_config(m);
    j["gpas_norm_scheme"] = m.norm;
    j["gpas"] = to_json(cfg);
  }
  // The run's tokenizer travels with the weights, and its special ids go into config.json (folded
  // or not), so an export can be evaluated and loaded without the run's data.
  std::string tok_src;
  try {
    tok_src = tokenizer_for(cfg);
  } catch (const Error& e) {
    res.tokenizer_note = e.what();
  }
  if (!tok_src.empty()) {
    try {
      Tokenizer tok = Tokenizer::load(tok_src);
      j["eos_token_id"] = tok.eos_id();
      j["pad_token_id"] = tok.pad_id();
      j["bos_token_id"] = tok.bos_id() >= 0 ? nlohmann::json(tok.bos_id()) : nlohmann::json(nullptr);
    } catch (const Error& e) {
      res.tokenizer_note = e.what();
      tok_src.clear();
    }
  }
  make_dirs(out_dir);
  if (!tok_src.empty()) {
    res.tokenizer = (fs::path(out_dir) / "tokenizer.model").string();
    write_file_atomic(res.tokenizer, read_file(tok_src));
  }
  save_safetensors((fs::path(out_dir) / "model.safetensors").string(), tensors, meta);
  write_file_atomic((fs::path(out_dir) / "config.json").string(), j.dump(2) + "\n");
  res.tensors = int(tensors.size());
  return res;
}

RunConfig read_export_config(const std::string& dir) {
  std::string path = (fs::path(dir) / "config.json").string();
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(path + ": not a JSON object; pass --config");
  if (j.contains("gpas")) return from_json(j["gpas"]);
  // The transformers layouts gpas's model computes: LLaMA (Pre-LN), Qwen3 (Pre-LN with per-head
  // QK-norm) and OLMo-2 (norms after each sub-layer, QK-norm over the projection).
  const std::string type = j.value("model_type", "");
  if (type != "llama" && type != "qwen3" && type != "olmo2")
    throw Error(path + ": neither a gpas export (no \"gpas\" object) nor a LLaMA, Qwen3 or OLMo-2 "
                "config (model_type \"" + type + "\"); pass --config");
  auto need = [&](const char* key) {
    if (!j.contains(key)) throw Error(path + ": LLaMA config without \"" + std::string(key) + "\"");
    return j[key];
  };
  RunConfig cfg;
  auto& m = cfg.model;
  m.size = "custom";
  m.norm = type == "olmo2" ? "olmo2" : "pre";
  if (type == "qwen3") m.qk_norm = "head";  // olmo2: its scheme's own (full)
  m.hidden = need("hidden_size").get<int64_t>();
  m.intermediate = need("intermediate_size").get<int64_t>();
  m.heads = need("num_attention_heads").get<int64_t>();
  m.layers = need("num_hidden_layers").get<int64_t>();
  m.vocab_size = need("vocab_size").get<int64_t>();
  m.max_positions = j.value("max_position_embeddings", int64_t(2048));
  m.norm_eps = j.value("rms_norm_eps", 1e-6);
  auto refuse = [&](const std::string& what) {
    throw Error(path + ": " + what + "; gpas's LLaMA has multi-head attention, RoPE theta 10000, "
                "SiLU and an untied LM head");
  };
  if (j.value("num_key_value_heads", m.heads) != m.heads) refuse("grouped-query attention");
  if (j.contains("head_dim") && !j["head_dim"].is_null() && j["head_dim"].get<int64_t>() * m.heads != m.hidden)
    refuse("head_dim * num_attention_heads is not hidden_size");
  if (j.value("use_sliding_window", false)) refuse("sliding-window attention");
  if (j.value("rope_theta", 10000.0) != 10000.0) refuse("rope_theta is not 10000");
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) refuse("rope_scaling is set");
  if (j.value("tie_word_embeddings", false)) refuse("tied embeddings");
  if (j.value("hidden_act", std::string("silu")) != "silu") refuse("hidden_act is not silu");
  if (j.value("attention_bias", false) || j.value("mlp_bias", false)) refuse("biases");
  validate(cfg);
  return cfg;
}

ForwardResult forward_file(const std::string& weights, const std::string& tokens_path,
                           const std::string& out, const std::string& config_json) {
  std::string cfg_dir = config_json.empty() ? fs::path(weights).parent_path().string()
                                            : fs::path(config_json).parent_path().string();
  RunConfig cfg = read_export_config(cfg_dir.empty() ? "." : cfg_dir);
  Transformer model(cfg.model);
  model->load_exported(load_safetensors(weights));
  model->eval();
  auto toks = load_safetensors(tokens_path);
  torch::Tensor tokens, mask;
  for (auto& [name, t] : toks) {
    if (name == "tokens" || toks.size() == 1) tokens = t;
    if (name == "attention_mask") mask = t;
  }
  if (!tokens.defined()) throw Error(tokens_path + ": no tensor named \"tokens\"");
  if (tokens.dim() != 2) throw Error(tokens_path + ": tokens must have shape (B, T)");
  if (mask.defined() && mask.sizes() != tokens.sizes())
    throw Error(tokens_path + ": attention_mask has shape " + c10::str(mask.sizes()) +
                ", tokens " + c10::str(tokens.sizes()) + "; they must match");
  tokens = tokens.to(torch::kInt64);
  if (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= cfg.model.vocab_size)
    throw Error(tokens_path + ": token ids must lie in [0, " + std::to_string(cfg.model.vocab_size) + ")");
  torch::NoGradGuard no_grad;
  auto logits = model(tokens).to(torch::kFloat32);  // (B, T, V)
  const int64_t B = tokens.size(0), T = tokens.size(1);
  // Targets are the next tokens; padding (attention_mask 0, as HF tokenizers write it) is out of
  // the loss, as in training: the loss is the mean over the targets that count.
  auto tg = torch::full({B, T}, -1, torch::kInt64);
  tg.slice(1, 0, T - 1).copy_(tokens.slice(1, 1));
  if (mask.defined()) {
    auto pad = torch::ones({B, T}, torch::kBool);
    pad.slice(1, 0, T - 1).copy_(mask.slice(1, 1) == 0);
    tg.masked_fill_(pad, -1);
  }
  const int64_t counted = (tg >= 0).sum().item<int64_t>();
  if (counted == 0) throw Error(tokens_path + ": no position has a next token to score (T < 2 or all padding)");
  auto loss = TransformerImpl::loss_sum(logits, tg) / double(counted);
  save_safetensors(out, {{"logits", logits}, {"loss", loss.to(torch::kFloat32)}});
  return {loss.item<double>(), B, T, cfg.model.vocab_size};
}

}  // namespace gpas
