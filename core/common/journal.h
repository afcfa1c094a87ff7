// The run journal: one JSON object per line in <run_dir>/journal.jsonl, appended by the process
// that trains. It is the only thing a training process writes about its progress; the results
// store ingests it into SQLite (idempotently, by (run_id, seq)), so training never needs the
// database and works the same on a local disk and on a cluster's shared filesystem.
//
// Each metric line also goes to a TensorBoard event file, <dir of the journal>/tb/events.out.tfevents.*
// (tfevents.h), opened at the first metric or start line of this Journal object (a resumed run opens
// a new one beside the old: TensorBoard reads every file of the directory), with the start line's
// config as hparams; flushed when the journal line is.
//
// Line types (all have "seq", "type", "time"):
//   start      run_id, attempt, host, pid, devices, git_commit, torch_version, config (object)
//   metric     step, key, value            (train/loss, train/lr, train/grad_norm, train/tokens_per_s,
//                                           eval/loss, eval/ppl, ...)
//   layer      step, layer, kind, value    (gate, act_var, grad_norm, attn_wnorm, ffn_wnorm, importance ...)
//   artifact   step, kind, path, bytes     (checkpoint, export, figure)
//   heartbeat  step
//   status     status (running|completed|failed|diverged|cancelled), step, error
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpas {

class EventWriter;

class Journal {
 public:
  Journal();  // disabled: every call is a no-op
  explicit Journal(const std::string& path);  // "" = disabled
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  bool enabled() const { return f_ != nullptr; }
  const std::string& path() const { return path_; }

  void metric(int64_t step, const std::string& key, double value);
  void layer(int64_t step, int layer, const std::string& kind, double value);
  void artifact(int64_t step, const std::string& kind, const std::string& path, int64_t bytes);
  void heartbeat(int64_t step);
  void status(const std::string& status, int64_t step, const std::string& error = "");
  void write(nlohmann::json obj);  // adds seq, time; flushes (and fsyncs status lines)

 private:
  void tee_to_tensorboard(const nlohmann::json& line, const std::string& type);  // under mu_

  std::FILE* f_ = nullptr;
  std::string path_;
  int64_t seq_ = 0;
  std::mutex mu_;
  std::unique_ptr<EventWriter> tb_;  // opened at the first line it takes; null until then or if it failed
  bool tb_failed_ = false;           // said once, then the run goes on without it
};

// Reads a journal; a torn line (a writer killed mid-write) is skipped, not an error. A line whose
// known fields have the wrong JSON type throws gpas::Error naming path:line and the key.
std::vector<nlohmann::json> read_journal(const std::string& path);

// The journal's last status line and last summary line (null where there is none).
struct JournalTail {
  nlohmann::json status, summary;
  // The last status is final: completed or diverged (a rerun leaves such a run as it is).
  bool finished() const;
  static double num_of(const nlohmann::json& j, const char* key);  // NaN if absent
  static int64_t int_of(const nlohmann::json& j, const char* key, int64_t dflt);
};
JournalTail journal_tail(const std::string& path);

}  // namespace gpas
