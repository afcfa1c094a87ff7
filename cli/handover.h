// The front's side of the split into two binaries (main.cpp): which argv goes to gpas-torch, where
// gpas-torch is, and the one fact about LibTorch that torch-free commands need from it (how many
// GPUs it sees). gpas-torch sits beside gpas: in the build tree (build/cli) and in an install alike.
#pragma once
#include <string>

namespace gpas::cli {

// <dir of this executable>/gpas-torch (/proc/self/exe: a symlink to gpas finds it too).
std::string torch_binary();
// The command argv names: its first word that is not an option ("" if none). The front has
// global flags only (-v, --help, --version), so `gpas -v train` and `gpas --help train` name train.
std::string command_of(int argc, char** argv);
// The subcommand argv names: the word after the command ("" if none); the LibTorch commands
// have no options of their own before it, so `gpas bench plan --jobs 10` names plan.
std::string subcommand_of(int argc, char** argv);
// Replaces this process with gpas-torch, argv unchanged (same pid: signals and sweep workers see no
// difference). Returns only when it cannot, with exit code 1, having said why and what to do.
int hand_over(int argc, char** argv);
// The CUDA devices LibTorch sees: 0 at once where gpas was built against a LibTorch without CUDA,
// else `gpas-torch libtorch --json` tells (half a second; `gpas sweep run` without --gpus or --cpu).
int torch_cuda_devices();

}  // namespace gpas::cli
