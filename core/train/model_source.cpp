// Resolving and loading a model source (model_source.h).
#include "core/train/model_source.h"

#include <cmath>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/journal.h"
#include "core/config/config_yaml.h"
#include "core/config/schemes.h"
#include "core/data/batch.h"
#include "core/data/prepared.h"
#include "core/model/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/export.h"
#include "core/train/trainer.h"

namespace gpas {

namespace fs = std::filesystem;

static int64_t checkpoint_step(const std::string& path) {
  std::string n = fs::path(path).stem().string();  // step_00001000
  return n.rfind("step_", 0) == 0 ? std::stoll(n.substr(5)) : -1;
}

ModelSource resolve_model_source(const std::string& spec_in, const std::string& runs_dir) {
  std::string spec = spec_in;
  if (spec.rfind("run:", 0) == 0) spec = (fs::path(runs_dir) / spec.substr(4)).string();
  ModelSource s;
  if (fs::is_directory(spec) && path_exists((fs::path(spec) / "config.json").string())) {
    s.kind = "export";
    s.weights = (fs::path(spec) / "model.safetensors").string();
  } else if (fs::is_directory(spec)) {
    s.kind = "run";
    s.run_dir = spec;
    s.weights = latest_checkpoint(spec);
    if (s.weights.empty())
      throw Error(spec + ": a run directory without checkpoints (train it first)");
  } else if (fs::path(spec).extension() == ".safetensors") {
    s.kind = "export";
    s.weights = spec;
  } else if (fs::path(spec).extension() == ".pt") {
    s.kind = "checkpoint";
    s.weights = spec;
    fs::path dir = fs::path(spec).parent_path();
    if (dir.filename() == "checkpoints") s.run_dir = dir.parent_path().string();
  } else {
    throw Error(spec_in + ": not a run directory, checkpoint (.pt) or export (directory with "
                "config.json, or a .safetensors file)");
  }
  if (!path_exists(s.weights)) throw Error(s.weights + ": no such file");
  if (s.kind == "checkpoint") {  // named by the user: verified, never silently replaced
    if (std::string bad = verify_checkpoint(s.weights); !bad.empty())
      throw Error(s.weights + ": " + bad + "; name an earlier checkpoint, or the run directory to take "
                  "the newest one that verifies");
    if (!path_exists(checksum_path(s.weights)))
      spdlog::warn("{}: no .sha256 beside it (written by an older gpas, or removed): its integrity is "
                   "not checked", s.weights);
  }
  if (s.kind == "export") {
    const fs::path dir = fs::path(s.weights).parent_path();
    s.cfg = read_export_config(dir.string());
    // An export carries its tokenizer (gpas export writes it beside the weights).
    if (path_exists((dir / "tokenizer.model").string())) s.cfg.data.tokenizer = (dir / "tokenizer.model").string();
  } else {
    s.cfg = checkpoint_config(s.weights);
    s.step = checkpoint_step(s.weights);
    s.run_id = run_id(s.cfg);
  }
  if (!s.run_dir.empty() && s.kind != "export") {
    std::string yaml = (fs::path(s.run_dir) / "config.yaml").string();
    if (path_exists(yaml)) s.run_id = run_id_of_dir(s.run_dir, load_run_config(yaml));  // the id the run dir has
  }
  return s;
}

void load_source_weights(const ModelSource& src, Transformer& model) {
  if (src.kind == "export") {
    model->load_exported(load_safetensors(src.weights));
    return;
  }
  torch::serialize::InputArchive ar, weights;
  ar.load_from(src.weights);
  ar.read("model", weights);
  torch::NoGradGuard ng;
  for (auto& p : model->named_parameters()) {
    torch::Tensor t;
    if (!weights.try_read(p.key(), t))
      throw Error(src.weights + ": no tensor '" + p.key() + "' (a checkpoint of another model)");
    if (t.sizes() != p.value().sizes())
      throw Error(src.weights + ": tensor '" + p.key() + "' has shape " + c10::str(t.sizes()) +
                  ", the model expects " + c10::str(p.value().sizes()));
    p.value().copy_(t);
  }
}

static std::string arch_of(const ModelConfig& m) {
  return "hidden " + std::to_string(m.hidden) + ", intermediate " + std::to_string(m.intermediate) +
         ", heads " + std::to_string(m.heads) + ", layers " + std::to_string(m.layers) + ", vocab " +
         std::to_string(m.vocab_size) + ", norm " + m.norm +
         (m.post_layers >= 0 ? " (post_layers " + std::to_string(m.post_layers) + ")" : "") +
         ", qk_norm " + qk_norm_name(effective_qk_norm(m)) +
         ", gpas " + (m.gpas.enabled ? "on (" + m.gpas.site + ", " + m.gpas.activation + ")" : "off");
}

void load_init_weights(Transformer& model, const std::string& spec, const std::string& run_dir) {
  std::string runs = fs::path(run_dir + "/.").lexically_normal().parent_path().parent_path().string();
  ModelSource src = resolve_model_source(spec, runs);
  if (src.kind == "run" && !journal_tail((fs::path(src.run_dir) / "journal.jsonl").string()).finished())
    throw Error("train.init_from " + spec + ": run " + src.run_dir +
                " has not finished training; finetune it once it has");
  ModelConfig want = src.cfg.model, have = model->cfg;
  if (want.vocab_size == 0) want.vocab_size = have.vocab_size;
  if (arch_of(want) != arch_of(have))
    throw Error("train.init_from " + spec + ": the weights are of another model (" + arch_of(want) +
                ") than this run's (" + arch_of(have) + "); give the run the source's model settings");
  load_source_weights(src, model);
}

int64_t steps_for_epochs(const TrainConfig& t, int64_t examples) {
  if (examples < 0) throw Error("train.epochs: the data source has no fixed number of examples (use train.steps)");
  return std::max<int64_t>(1, int64_t(std::ceil(t.epochs * double(examples) / double(t.batch_size))));
}

std::string tokenizer_for(const RunConfig& cfg, const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (!cfg.data.tokenizer.empty()) return cfg.data.tokenizer;
  if (cfg.data.source == "prepared" || cfg.data.source == "brown")
    return open_prepared_data(cfg.data)->tokenizer_path();
  throw Error("no tokenizer known for this model (data.source " + cfg.data.source +
              "); pass --tokenizer PATH/TO/spiece.model");
}

}  // namespace gpas
