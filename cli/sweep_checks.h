// Checks before a sweep launches anything: every job's data (a prepared directory, a tokenizer,
// the vocabulary against model.vocab_size), the GPUs named by --gpus, and options that need
// another backend. `sweep run` refuses to start on a problem; `sweep plan` prints them as warnings.
#pragma once
#include <string>
#include <vector>

#include "cli/sweep_common.h"

namespace gpas::sweeps {
struct Sweep;
}

namespace gpas::cli {

// One line per problem, naming the option or the key and the jobs it affects; empty when fine.
std::vector<std::string> prelaunch_problems(const sweeps::Sweep& sweep, const SweepRunArgs& a);

}  // namespace gpas::cli
