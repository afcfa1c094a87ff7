#include "core/train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/config_yaml.h"

namespace gpas {

namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "step_%08lld.pt", static_cast<long long>(step));
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  std::vector<std::string> out;
  fs::path dir = fs::path(run_dir) / "checkpoints";
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind("step_", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".pt")
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());  // zero-padded step numbers sort by step
  return out;
}

void prune_checkpoints(const std::string& run_dir, int64_t keep) {
  auto all = list_checkpoints(run_dir);
  for (size_t i = 0; i + keep < all.size(); ++i) fs::remove(all[i]);
}

void save_checkpoint(const std::string& path, const RunConfig& cfg, Transformer& model,
                     torch::optim::Optimizer* opt, const TrainState& state) {
  torch::serialize::OutputArchive ar;
  ar.write("config", c10::IValue(to_json(cfg).dump()));
  ar.write("step", c10::IValue(state.step));
  ar.write("tokens_seen", c10::IValue(state.tokens_seen));
  ar.write("train_loss", c10::IValue(state.train_loss));
  ar.write("data", c10::IValue(state.data.dump()));
  ar.write("rng", at::detail::getDefaultCPUGenerator().get_state());
  torch::serialize::OutputArchive weights;
  for (const auto& p : model->named_parameters()) weights.write(p.key(), p.value().detach());
  ar.write("model", weights);
  if (opt) {
    torch::serialize::OutputArchive optim;
    opt->save(optim);
    ar.write("optimizer", optim);
  }
  make_dirs(fs::path(path).parent_path().string());
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ar.save_to(tmp);
  commit_file(tmp, path);
}

static torch::serialize::InputArchive open_archive(const std::string& path) {
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
  } catch (const c10::Error& e) {
    throw Error(path + ": not a readable gpas checkpoint (" + e.what_without_backtrace() + ")");
  }
  return ar;
}

TrainState load_checkpoint(const std::string& path, Transformer& model,
                           torch::optim::Optimizer* opt) {
  auto ar = open_archive(path);
  TrainState s;
  c10::IValue v;
  ar.read("step", v);
  s.step = v.toInt();
  ar.read("tokens_seen", v);
  s.tokens_seen = v.toInt();
  ar.read("train_loss", v);
  s.train_loss = v.toDouble();
  ar.read("data", v);
  s.data = nlohmann::json::parse(v.toStringRef());
  torch::Tensor rng;
  ar.read("rng", rng);
  auto gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(rng);
  torch::serialize::InputArchive weights;
  ar.read("model", weights);
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    torch::Tensor t;
    weights.read(p.key(), t);
    p.value().copy_(t);
  }
  if (opt) {
    torch::serialize::InputArchive optim;
    ar.read("optimizer", optim);
    opt->load(optim);
  }
  return s;
}

RunConfig checkpoint_config(const std::string& path) {
  auto ar = open_archive(path);
  c10::IValue v;
  ar.read("config", v);
  return from_json(nlohmann::json::parse(v.toStringRef()));
}

}  // namespace gpas
