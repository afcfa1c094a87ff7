// A run directory as the trainer holds it (torchtitan's CheckpointManager, plus the journal): the
// run lock (one writer), the identity check (config.yaml), the journal's tail and the journal,
// resume from the newest checkpoint that verifies, and each checkpoint written. Rank 0 (the lead)
// writes; every rank reads. Not here: the model, the data, the loop and what it logs (trainer.cpp).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/common/file_lock.h"
#include "core/common/journal.h"
#include "core/config/config.h"
#include "core/model/model.h"
#include "core/train/checkpoint.h"

namespace gpas {

class RunDir {
 public:
  // Makes the directory; the lead takes its lock and writes config.yaml where there is none.
  // Throws gpas::Error naming the holder when another process trains the run, or the run the
  // directory holds when its config.yaml is another run's.
  RunDir(const std::string& path, const RunConfig& cfg, bool lead);

  const std::string& path() const { return path_; }
  const std::string& run_id() const { return run_id_; }  // a directory made before keeps its id

  // The journal's tail when it ends completed or diverged (such a run is left as it is), else none.
  std::optional<JournalTail> finished() const;
  // Opens the journal (the lead's; a no-op journal on the other ranks). Call after finished():
  // a finished run's directory is not touched.
  Journal& open_journal();
  Journal& journal() { return *journal_; }

  // The lead removes temp files a killed writer left; then (unless fresh) every rank loads the
  // newest checkpoint that verifies (SHA-256) and reads into model, optimizer and state; newer
  // damaged ones are named (lead) and kept. Returns its path, "" if the run has none or fresh.
  std::string resume(Transformer& model, torch::optim::Optimizer& opt, TrainState& state, bool fresh);
  // "<path>: why" of each damaged checkpoint resume passed over.
  const std::vector<std::string>& skipped() const { return skipped_; }

  // After open_journal(), the lead's lines:
  // The journal's start line of this attempt (the attempt counts earlier start lines) and the
  // status running.
  void record_start(const RunConfig& cfg, const std::string& devices, int64_t step);
  // Checkpoint `state.step`, its artifact line, and pruning to the newest `keep`.
  void save(const RunConfig& cfg, Transformer& model, torch::optim::Optimizer& opt,
            const TrainState& state, int64_t keep);

 private:
  std::string path_;
  std::string run_id_;
  bool lead_;
  std::unique_ptr<FileLock> lock_;   // the lead's, held while this object lives
  std::unique_ptr<Journal> journal_;  // from open_journal()
  std::vector<std::string> skipped_;
};

}  // namespace gpas
