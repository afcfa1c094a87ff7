// Checks before a sweep launches anything: every job's data (a prepared directory, a tokenizer,
// the vocabulary against model.vocab_size), the GPUs named by --gpus, and options that need
// another backend. `sweep run` refuses to start on a problem; `sweep plan` prints them as warnings.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "cli/sweep_common.h"

namespace gpas::sweeps {
struct Job;
struct Sweep;
}

namespace gpas::cli {

// One line per problem, naming the option or the key and the jobs it affects; empty when fine.
std::vector<std::string> prelaunch_problems(const sweeps::Sweep& sweep, const SweepRunArgs& a);

// The same in two parts, for a sweep seen one job at a time: the options, and the data of each job
// (each distinct data config opened once; a problem names the first job and how many share it).
std::vector<std::string> option_problems(const SweepRunArgs& a);
class DataChecks {
 public:
  void add(const sweeps::Job& j);
  std::vector<std::string> problems() const;

 private:
  struct Seen {
    std::string first_job;
    int jobs = 0;
    std::string error;
  };
  std::map<std::string, Seen> seen_;
};

}  // namespace gpas::cli
