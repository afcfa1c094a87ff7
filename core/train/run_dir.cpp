#include "core/train/run_dir.h"

#include <unistd.h>

#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/common/build_info.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/config_yaml.h"
#include "core/train/runtime.h"

namespace gpas {

namespace fs = std::filesystem;

RunDir::RunDir(const std::string& path, const RunConfig& cfg, bool lead)
    : path_(path), run_id_(run_id_of_dir(path, cfg)), lead_(lead) {
  make_dirs(path_);
  // One writer per run dir (rank 0 writes): a second trainer is refused, naming the holder.
  if (lead_ && !(lock_ = FileLock::try_take(run_lock_path(path_))))
    throw Error(path_ + ": run " + run_id_ + " is being " + holder_action(lock_holder_of(run_lock_path(path_))) +
                "; wait for it to end or stop it (kill -TERM <pid>), then run this again");
  // The identity of a run dir is its config: refuse to mix two runs in one directory.
  const std::string cfg_path = (fs::path(path_) / "config.yaml").string();
  if (path_exists(cfg_path)) {
    std::string other = gpas::run_id(load_run_config(cfg_path));
    if (other != gpas::run_id(cfg))
      throw Error(path_ + ": holds run " + other + ", not " + gpas::run_id(cfg) +
                  " (this config); use another --run-dir or delete it");
  } else if (lead_) {
    write_file_atomic(cfg_path, to_yaml(cfg));
  }
}

std::optional<JournalTail> RunDir::finished() const {
  // Every rank reads the same tail, so every rank returns alike.
  JournalTail end = journal_tail((fs::path(path_) / "journal.jsonl").string());
  if (!end.finished()) return std::nullopt;
  return end;
}

Journal& RunDir::open_journal() {
  journal_ = std::make_unique<Journal>(lead_ ? (fs::path(path_) / "journal.jsonl").string() : "");
  return *journal_;
}

std::string RunDir::resume(Transformer& model, torch::optim::Optimizer& opt, TrainState& state, bool fresh) {
  if (lead_) remove_checkpoint_temps(path_);
  std::string ckpt = fresh ? "" : load_newest_checkpoint(path_, model, &opt, state, skipped_);
  for (const auto& s : skipped_)
    if (lead_) spdlog::warn("skipping a damaged checkpoint: {}", s);
  return ckpt;
}

void RunDir::record_start(const RunConfig& cfg, const std::string& devices, int64_t step) {
  if (!lead_) return;
  int attempt = 1;
  int threads_before = 0;  // of the last attempt, where it trained in one process on the CPU
  for (const auto& j : read_journal(journal_->path()))
    if (j.value("type", "") == "start") {
      ++attempt;
      threads_before = j.value("devices", "") == "cpu x1" ? j.value("threads", 0) : 0;
    }
  const int threads = torch::get_num_threads();
  // In one CPU process a step's rows are sharded by thread (step.h): the thread count is in the bits.
  if (step > 0 && devices == "cpu x1" && threads_before > 0 && threads_before != threads)
    spdlog::warn("run {} trained on {} CPU threads and resumes on {}: each step's rows are split "
                 "by thread, so from here it is not bit for bit the run {} threads would continue "
                 "(GPAS_THREADS={} resumes it exactly)", run_id_, threads_before, threads,
                 threads_before, threads_before);
  journal_->write({{"type", "start"}, {"run_id", run_id_}, {"name", cfg.name},
                   {"attempt", attempt}, {"host", hostname()}, {"pid", ::getpid()},
                   {"devices", devices}, {"threads", threads},
                   {"git_commit", git_commit()}, {"torch_version", torch_version()},
                   {"resumed_from_step", step}, {"skipped_checkpoints", skipped_},
                   {"config", to_json(cfg)}});
  journal_->status("running", step);
}

void RunDir::save(const RunConfig& cfg, Transformer& model, torch::optim::Optimizer& opt,
                  const TrainState& state, int64_t keep) {
  if (!lead_) return;
  std::string path = checkpoint_path(path_, state.step);
  save_checkpoint(path, cfg, model, &opt, state);
  journal_->artifact(state.step, "checkpoint", path, int64_t(fs::file_size(path)));
  prune_checkpoints(path_, keep);
}

}  // namespace gpas
