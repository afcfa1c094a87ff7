// The results store: one SQLite database per workdir (<workdir>/gpas.db) that indexes the run
// directories. Training never opens it; runs write <run_dir>/journal.jsonl and ingest_run_dir()
// copies new journal lines in, idempotently by (run_id, seq). Design notes: results/README.md.
// Reports, figures and the CLI read it through the queries below; no LibTorch here.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace SQLite {
class Database;
}

namespace gpas::results {

// Run statuses, in the order of a run's life.
extern const std::vector<std::string> kRunStatuses;  // queued running completed failed diverged cancelled
bool is_run_status(const std::string& s);

struct RunRow {
  std::string id;       // 12 hex digits: the hash of the resolved config (name excluded)
  std::string name;
  std::string sweep;    // "" when the run belongs to no sweep
  std::string status;   // one of kRunStatuses
  int64_t attempt = 0;
  std::string host;
  std::string devices;  // JSON text as the start line gave it
  int64_t pid = 0;
  std::string started;  // ISO 8601 UTC, "" if unknown
  std::string ended;
  int64_t last_step = -1;
  std::string git_commit;
  std::string torch_version;
  std::string error;
  std::string run_dir;
  nlohmann::json config;  // the resolved config (to_json form); null before the start line
};

struct RunFilter {
  std::string sweep;   // "" = all
  std::string status;  // "" = all
  std::vector<std::pair<std::string, std::string>> where;  // params key = value, all must hold
};

struct Point {
  int64_t step = 0;
  double value = 0;
};

struct LayerPoint {
  int64_t step = 0;
  int layer = 0;
  double value = 0;
};

struct Artifact {
  int64_t step = 0;
  std::string kind;
  std::string path;
  int64_t bytes = 0;
};

struct IngestStats {
  int64_t runs = 0;   // run directories looked at
  int64_t lines = 0;  // journal lines newly ingested
  std::vector<std::string> skipped;  // ingest_workdir: run dirs not ingested, each with why
};

// A read-only query's answer; cells keep SQLite's types (null, integer, real, text).
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;
};

class Store {
 public:
  static constexpr int kSchemaVersion = 4;

  // Opens (read-write: creating and migrating) the database. read_only: SQLITE_OPEN_READONLY and
  // PRAGMA query_only; the file must exist. Throws gpas::Error naming the path.
  static std::unique_ptr<Store> open(const std::string& db_path, bool read_only = false);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  int schema_version() const;

  // ---- writing (each call is one or more short BEGIN IMMEDIATE transactions) ----
  // Copies the journal lines of run_dir not yet in the store. sweep: "" keeps the run's sweep.
  IngestStats ingest_run_dir(const std::string& run_dir, const std::string& sweep = "");
  // Every <workdir>/runs/*/ that has a journal.jsonl or config.yaml, in name order.
  IngestStats ingest_workdir(const std::string& workdir);
  // ingest_workdir() for the run directories whose journal grew (or shrank) since it was last
  // ingested, and the ones the store does not know: what every view calls before it answers, so
  // views are true while runs are live. A stat per run when nothing changed.
  IngestStats sync_workdir(const std::string& workdir);
  // A sweep and its spec (any JSON: grid, backend, ...). Created if absent, spec replaced if given.
  void upsert_sweep(const std::string& name, const nlohmann::json& spec = nullptr);
  // A run known before it starts (status queued until its journal says otherwise).
  void register_run(const std::string& run_id, const std::string& run_dir,
                    const std::string& sweep, const nlohmann::json& config);
  // A sweep's jobs, as it expands now: a run this sweep queued earlier that is not among them
  // (the sweep file or gpas's run identity changed since), that never started (no journal) and
  // whose directory does not exist, leaves the sweep, and the index where no other sweep has it.
  // Returns how many runs left the sweep.
  int forget_stale_queued(const std::string& sweep, const std::vector<std::string>& job_ids);
  // The orchestrator's word on a run (queued, or failed/cancelled for a process that died without
  // writing a status line). A later journal status line overrides it.
  void set_run_state(const std::string& run_id, const std::string& status,
                     const std::string& error = "");

  // ---- reading ----
  std::vector<RunRow> list_runs(const RunFilter& filter = {}) const;  // ordered by sweep, name, id
  // By full id, unique id prefix, or unique name. nullopt if none; gpas::Error if ambiguous.
  std::optional<RunRow> find_run(const std::string& id_or_name) const;
  std::vector<std::pair<std::string, std::string>> params(const std::string& run_id) const;
  std::vector<std::string> sweeps() const;
  std::vector<std::string> metric_keys(const std::string& run_id) const;
  std::vector<Point> metric_series(const std::string& run_id, const std::string& key) const;
  std::optional<double> final_metric(const std::string& run_id, const std::string& key) const;
  // Every logged point of the keys (all of the run's keys when none are named), ordered by key
  // then step: columns key, step, value (null where the value was NaN or infinite).
  QueryResult metric_history(const std::string& run_id, const std::vector<std::string>& keys = {}) const;
  std::vector<std::string> layer_kinds(const std::string& run_id) const;
  std::vector<LayerPoint> layer_series(const std::string& run_id, const std::string& kind) const;
  std::vector<Artifact> artifacts(const std::string& run_id) const;
  // One SQL statement on a read-only store; a statement that would write throws gpas::Error, and
  // so does one still running after timeout_s seconds (0 = no limit).
  QueryResult query(const std::string& sql, double timeout_s = 0) const;
  // Moves a damaged <workdir>/gpas.db aside (to gpas.db.broken-<time>, with its -wal/-shm) and
  // builds a new one from the run directories' journals. Returns what was ingested.
  static IngestStats rebuild(const std::string& workdir, std::string* moved_to = nullptr);

  SQLite::Database& db() { return *db_; }

 private:
  Store() = default;
  std::unique_ptr<SQLite::Database> db_;
  std::string path_;
  bool read_only_ = false;
};

// <workdir>/gpas.db
std::string db_path_for(const std::string& workdir);

}  // namespace gpas::results
