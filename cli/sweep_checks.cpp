// prelaunch_problems (sweep_checks.h). The data checks open each distinct data config once, as a
// worker would (gpas_data); the Brown corpus is left out (opening it may fetch it).
#include "cli/sweep_checks.h"

#include <map>
#include <sstream>

#include "cli/handover.h"
#include "core/common/error.h"
#include "core/data/batch.h"
#include "sweeps/job.h"

namespace gpas::cli {

std::vector<std::string> prelaunch_problems(const sweeps::Sweep& sweep, const SweepRunArgs& a) {
  DataChecks data;
  for (const auto& j : sweep.jobs) data.add(j);
  std::vector<std::string> out = option_problems(a), more = data.problems();
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::vector<std::string> option_problems(const SweepRunArgs& a) {
  std::vector<std::string> out;
  if (a.backend != "slurm")
    for (const auto& [opt, v] : std::vector<std::pair<std::string, std::string>>{
             {"--partition", a.partition}, {"--time", a.time}, {"--account", a.account}})
      if (!v.empty()) out.push_back(opt + " " + v + ": a Slurm option; add --backend slurm, or drop it");
  if (a.backend == "local" && !a.cpu && !a.gpus.empty()) {
    int n = torch_cuda_devices();
    std::stringstream ss(a.gpus);
    for (std::string g; std::getline(ss, g, ',');)
      if (g.empty() || g.find_first_not_of("0123456789") != std::string::npos || std::stoi(g) >= n)
        out.push_back("--gpus " + a.gpus + ": there is no CUDA device " + g + " here (LibTorch sees " +
                      std::to_string(n) + (n == 0 ? "; use --cpu" : "") + ")");
  }
  return out;
}

void DataChecks::add(const sweeps::Job& j) {
  const DataConfig& d = j.cfg.data;
  if (d.source != "prepared" && d.source != "instruct") return;
  std::string key = d.source + "\n" + d.path + "\n" + d.tokenizer + "\n" + std::to_string(j.cfg.model.vocab_size);
  auto [it, fresh] = seen_.try_emplace(key, Seen{j.name, 0, ""});
  ++it->second.jobs;
  if (!fresh) return;
  try {
    int64_t vocab = data_vocab_size(d);
    if (j.cfg.model.vocab_size != 0 && j.cfg.model.vocab_size < vocab)
      it->second.error = "model.vocab_size " + std::to_string(j.cfg.model.vocab_size) + " is smaller than the " +
                         std::to_string(vocab) + " token ids of the data";
  } catch (const std::exception& e) {
    it->second.error = e.what();
  }
}

std::vector<std::string> DataChecks::problems() const {
  std::vector<std::string> out;
  for (const auto& [key, s] : seen_)
    if (!s.error.empty())
      out.push_back("job " + s.first_job + (s.jobs > 1 ? " and " + std::to_string(s.jobs - 1) + " more" : "") +
                    ": " + s.error);
  return out;
}

}  // namespace gpas::cli
