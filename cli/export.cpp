// gpas export: a checkpoint to model.safetensors + config.json with HF LLaMA parameter names;
// --fold-gates folds Pre-LN/LNS GPAS gates into the weights (a plain LlamaForCausalLM).
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "core/train/export.h"

namespace gpas::cli {

void setup_export(CLI::App& app) {
  auto ckpt = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto fold = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "export", "Write a checkpoint's weights as model.safetensors + config.json (HF LLaMA names)");
  cmd->add_option("checkpoint", *ckpt, "a checkpoint, e.g. runs/<id>/checkpoints/step_00001000.pt")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", *out, "output directory")->required();
  cmd->add_flag("--fold-gates", *fold,
                "Pre-LN/LNS + GPAS: fold the gates' inference-time constants into o_proj/down_proj "
                "and the norms, leaving a plain LlamaForCausalLM (no gpas tensors)");
  cmd->add_flag("--json", *json, "one JSON object: tensors, paths, plain_llama (and the fold check)");
  cmd->footer(
      "Train from such weights with --set train.init_from=DIR/model.safetensors.\n"
      "--fold-gates prints the largest logit difference between the folded and the unfolded\n"
      "model on a check batch (fp32); RMSNorm's eps is the only source of difference.");
  cmd->callback([ckpt, out, fold, json] {
    ExportOptions o;
    o.fold_gates = *fold;
    ExportResult r = export_checkpoint(*ckpt, *out, o);
    if (r.hf_architecture.empty())
      spdlog::warn("{}: not a plain LLaMA, and no transformers class computes it: {}", *out,
                   r.not_plain_reason);
    else if (!r.plain_llama)
      spdlog::info("{}: loads as transformers' {}", *out, r.hf_architecture);
    if (r.tokenizer.empty())
      spdlog::warn("{}: no tokenizer.model written ({})", *out, r.tokenizer_note);
    if (*json) {
      nlohmann::json j = {{"tensors", r.tensors}, {"weights", *out + "/model.safetensors"},
                          {"config", *out + "/config.json"}, {"plain_llama", r.plain_llama},
                          {"hf_architecture", r.hf_architecture}, {"tokenizer", r.tokenizer}};
      if (!r.plain_llama) j["not_plain_reason"] = r.not_plain_reason;
      if (*fold) j["max_abs_logit_diff"] = r.max_abs_logit_diff, j["min_scale"] = r.min_scale;
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("wrote %d tensors to %s/model.safetensors and %s/config.json\n", r.tensors,
                out->c_str(), out->c_str());
    if (*fold)
      std::printf("folded GPAS gates: plain LlamaForCausalLM; max |logit difference| vs the "
                  "unfolded model %.3g (fp32, check batch 2x64), smallest stream scale %.3g\n",
                  r.max_abs_logit_diff, r.min_scale);
  });
}

}  // namespace gpas::cli
