// gpas export: a checkpoint to model.safetensors + config.json with HF LLaMA parameter names.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/train/export.h"

namespace gpas::cli {

void setup_export(CLI::App& app) {
  auto ckpt = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "export", "Write a checkpoint's weights as model.safetensors + config.json (HF LLaMA names)");
  cmd->add_option("checkpoint", *ckpt, "a checkpoint, e.g. runs/<id>/checkpoints/step_00001000.pt")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", *out, "output directory")->required();
  cmd->footer("Train from such weights with --set train.init_from=DIR/model.safetensors.");
  cmd->callback([ckpt, out] {
    int n = export_checkpoint(*ckpt, *out);
    std::printf("wrote %d tensors to %s/model.safetensors and %s/config.json\n", n, out->c_str(),
                out->c_str());
  });
}

}  // namespace gpas::cli
