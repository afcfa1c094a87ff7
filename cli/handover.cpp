// hand_over and friends (handover.h). Torch-free: the front links no LibTorch, and a test checks it.
#include "cli/handover.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "sweeps/command_runner.h"

namespace gpas::cli {

std::string torch_binary() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ((ec ? std::filesystem::path(".") : exe.parent_path()) / "gpas-torch").string();
}

namespace {
// argv's n-th word (0-based) that is not an option, "" if none before the end or a "--".
std::string word_of(int argc, char** argv, int n) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") return "";
    if ((a.empty() || a[0] != '-') && n-- == 0) return a;
  }
  return "";
}
}  // namespace

std::string command_of(int argc, char** argv) { return word_of(argc, argv, 0); }
std::string subcommand_of(int argc, char** argv) { return word_of(argc, argv, 1); }

int hand_over(int argc, char** argv) {
  std::string torch = torch_binary();
  ::execv(torch.c_str(), argv);
  std::cerr << "gpas: error: `gpas " << command_of(argc, argv) << "` runs in gpas-torch, the half of gpas that links LibTorch, "
            << "and " << torch << " cannot be run (" << std::strerror(errno) << "); build it (`cmake --build "
            << "build`, which makes both) or put it back beside gpas\n";
  return kExitError;
}

int torch_cuda_devices() {
#ifndef GPAS_WITH_CUDA
  return 0;  // a LibTorch without CUDA sees none: no need to load it
#else
  std::string torch = torch_binary();
  sweeps::CommandResult r = sweeps::make_process_runner(120)->run({torch, "libtorch", "--json"});
  if (r.code != 0)
    throw Error("counting the CUDA devices: `" + torch + " libtorch --json` exited " + std::to_string(r.code) + ": " +
                r.err + "; give --gpus or --cpu");
  return nlohmann::json::parse(r.out).at("cuda_devices").get<int>();
#endif
}

}  // namespace gpas::cli
