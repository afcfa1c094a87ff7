// gpas libtorch: what LibTorch sees in this process (its version, CUDA devices, NCCL). It runs in
// gpas-torch; the front's `gpas --version` does not load LibTorch and asks here for none of it,
// and `gpas sweep run` asks (--json) only where LibTorch has CUDA, to count the GPUs.
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/conventions.h"
#include "core/train/runtime.h"

namespace gpas::cli {

std::string libtorch_facts() {
  return "libtorch " + torch_version() + "\ncuda " +
         (cuda_available() ? "available (" + std::to_string(cuda_device_count()) + " devices)"
                           : std::string("not available")) +
         "\nnccl " + (nccl_available() ? "yes" : "no");
}

void setup_libtorch(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* c = app.add_subcommand("libtorch", "What LibTorch sees here: its version, CUDA devices, NCCL");
  add_json(c, *json);
  c->callback([json] {
    if (*json)
      std::cout << nlohmann::json{{"libtorch", torch_version()},
                                  {"cuda_devices", cuda_available() ? cuda_device_count() : 0},
                                  {"nccl", nccl_available()}}
                       .dump()
                << "\n";
    else
      std::cout << libtorch_facts() << "\n";
  });
}

}  // namespace gpas::cli
