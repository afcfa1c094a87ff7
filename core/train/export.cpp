#include "core/train/export.h"

#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/config_yaml.h"
#include "core/model/model.h"
#include "core/model/safetensors.h"
#include "core/train/checkpoint.h"

namespace gpas {

namespace fs = std::filesystem;

int export_checkpoint(const std::string& checkpoint, const std::string& out_dir) {
  if (!path_exists(checkpoint)) throw Error(checkpoint + ": no such checkpoint");
  RunConfig cfg = checkpoint_config(checkpoint);
  Transformer model(cfg.model);
  load_checkpoint(checkpoint, model, nullptr);
  auto tensors = model->named_for_export();
  for (auto& [name, t] : tensors) t = t.detach().to(torch::kFloat32);
  make_dirs(out_dir);
  save_safetensors((fs::path(out_dir) / "model.safetensors").string(), tensors,
                   {{"format", "pt"}, {"gpas_run_id", run_id(cfg)}});
  const auto& m = cfg.model;
  nlohmann::json j = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
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
      {"gpas_norm_scheme", m.norm},
      {"gpas", to_json(cfg)},
  };
  write_file_atomic((fs::path(out_dir) / "config.json").string(), j.dump(2) + "\n");
  return int(tensors.size());
}

RunConfig read_export_config(const std::string& dir) {
  std::string path = (fs::path(dir) / "config.json").string();
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.contains("gpas"))
    throw Error(path + ": not a gpas export config (no \"gpas\" object); pass --config");
  return from_json(j["gpas"]);
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
  torch::Tensor tokens;
  for (auto& [name, t] : toks)
    if (name == "tokens" || toks.size() == 1) tokens = t;
  if (!tokens.defined()) throw Error(tokens_path + ": no tensor named \"tokens\"");
  if (tokens.dim() != 2) throw Error(tokens_path + ": tokens must have shape (B, T)");
  tokens = tokens.to(torch::kInt64);
  if (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= cfg.model.vocab_size)
    throw Error(tokens_path + ": token ids must lie in [0, " + std::to_string(cfg.model.vocab_size) + ")");
  torch::NoGradGuard no_grad;
  auto logits = model(tokens).to(torch::kFloat32);  // (B, T, V)
  const int64_t B = tokens.size(0), T = tokens.size(1);
  auto tg = torch::full({B, T}, -1, torch::kInt64);
  tg.slice(1, 0, T - 1).copy_(tokens.slice(1, 1));
  auto loss = TransformerImpl::loss_sum(logits, tg) / double(B * (T - 1));
  save_safetensors(out, {{"logits", logits}, {"loss", loss.to(torch::kFloat32)}});
  return {loss.item<double>(), B, T, cfg.model.vocab_size};
}

}  // namespace gpas
