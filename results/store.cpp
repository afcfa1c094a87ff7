// Opening the store (WAL, busy timeout, migrations; or strictly read-only) and the small writes
// the sweep orchestrator makes (sweeps, queued runs, run states). Journal ingestion is in
// ingest.cpp, the reading queries in store_queries.cpp.
#include "results/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include <SQLiteCpp/SQLiteCpp.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/schema.h"
#include "results/store_detail.h"

namespace gpas::results {

namespace fs = std::filesystem;

const std::vector<std::string> kRunStatuses = {"queued", "running",  "completed",
                                               "failed", "diverged", "cancelled"};

bool is_run_status(const std::string& s) {
  return std::find(kRunStatuses.begin(), kRunStatuses.end(), s) != kRunStatuses.end();
}

std::string db_path_for(const std::string& workdir) {
  return (fs::path(workdir.empty() ? "." : workdir) / "gpas.db").string();
}

static constexpr int kBusyTimeoutMs = 60000;

void add_membership(SQLite::Database& db, const std::string& run_id, const std::string& sweep) {
  if (sweep.empty()) return;
  SQLite::Statement m(db, "INSERT OR IGNORE INTO run_sweeps(run_id, sweep) VALUES (?, ?)");
  m.bind(1, run_id);
  m.bind(2, sweep);
  m.exec();
}

bool is_damaged_code(int code) { return (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB; }

bool is_store_write_code(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_READONLY: case SQLITE_CANTOPEN:
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_PERM:
      return true;
    default:
      return false;
  }
}

std::string rebuild_hint(const std::string& db_path) {
  std::string dir = fs::path(db_path).has_parent_path() ? fs::path(db_path).parent_path().string() : ".";
  return "; the store is only an index of the run journals: rebuild it with `gpas ingest --rebuild --workdir " +
         dir + "` (the damaged file is kept beside it)";
}

std::unique_ptr<Store> Store::open(const std::string& db_path, bool read_only) {
  std::unique_ptr<Store> s(new Store());
  s->path_ = db_path;
  s->read_only_ = read_only;
  try {
    if (read_only) {
      if (!fs::exists(db_path))
        throw Error(db_path + ": no results database here; run `gpas ingest --workdir DIR` first");
      std::error_code ec;
      if (fs::file_size(db_path, ec) == 0 && !ec)
        throw Error(db_path + ": the file is empty (0 bytes), not a results database" + rebuild_hint(db_path));
      s->db_ = std::make_unique<SQLite::Database>(db_path, SQLite::OPEN_READONLY, kBusyTimeoutMs);
      s->db_->exec("PRAGMA query_only = 1");
      int v = user_version(*s->db_);
      if (v < kSchemaVersion)
        throw Error(db_path + ": schema version " + std::to_string(v) + " is older than " +
                    std::to_string(kSchemaVersion) + "; run `gpas ingest` once to migrate it");
      if (v > kSchemaVersion)
        throw Error(db_path + ": schema version " + std::to_string(v) +
                    " is newer than this gpas knows; use a newer gpas");
      return s;
    }
    fs::path p(db_path);
    if (p.has_parent_path()) make_dirs(p.parent_path().string());
    s->db_ = std::make_unique<SQLite::Database>(
        db_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, kBusyTimeoutMs);
    // WAL: readers never block the writer; synchronous=NORMAL is durable against process crashes
    // (SIGKILL), which is what a results index needs (journals stay the truth).
    // Switching a new file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once,
    // without the busy handler, when another connection's lock could deadlock with it (several
    // processes opening a fresh store together): retry with backoff.
    std::string mode;
    for (int attempt = 0;; ++attempt) {
      try {
        mode = s->db_->execAndGet("PRAGMA journal_mode = WAL").getString();
        break;
      } catch (const SQLite::Exception& e) {
        const int rc = e.getErrorCode() & 0xff;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt >= 300) throw;
        ::usleep(static_cast<useconds_t>(1000 * (5 + 5 * std::min(attempt, 40))));
      }
    }
    if (mode != "wal")
      throw Error(db_path + ": cannot switch to WAL mode (got '" + mode +
                  "'); SQLite over a network filesystem is unsafe, keep gpas.db on a local disk");
    s->db_->exec("PRAGMA synchronous = NORMAL");
    s->db_->exec("PRAGMA foreign_keys = ON");
    migrate(*s->db_);
  } catch (const SQLite::Exception& e) {
    throw Error(db_path + ": " + e.what() + (is_damaged_code(e.getErrorCode()) ? rebuild_hint(db_path) : ""));
  }
  return s;
}

IngestStats Store::rebuild(const std::string& workdir, std::string* moved_to) {
  std::string db = db_path_for(workdir);
  if (fs::exists(db)) {
    std::string aside = db + ".broken-" + now_iso8601();
    for (const char* ext : {"", "-wal", "-shm"}) {
      std::error_code ec;
      if (fs::exists(db + ext)) fs::rename(db + ext, aside + ext, ec);
      if (ec) throw Error(db + ext + ": cannot move it aside to " + aside + ext + " (" + ec.message() + ")");
    }
    if (moved_to) *moved_to = aside;
  }
  return open(db)->ingest_workdir(workdir);
}

Store::~Store() = default;

int Store::schema_version() const { return user_version(*db_); }

static void require_writable(const Store& s) {
  if (s.read_only()) throw Error(s.path() + ": the store was opened read-only");
}

void Store::upsert_sweep(const std::string& name, const nlohmann::json& spec) {
  require_writable(*this);
  if (name.empty()) throw Error("upsert_sweep: the sweep needs a name");
  std::string now = now_iso8601();
  write_transaction(*db_, [&] {
    SQLite::Statement q(*db_,
                        "INSERT INTO sweeps(name, spec, created, updated) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET updated = excluded.updated, "
                        "spec = COALESCE(excluded.spec, sweeps.spec)");
    q.bind(1, name);
    if (spec.is_null())
      q.bind(2);
    else
      q.bind(2, spec.dump());
    q.bind(3, now);
    q.bind(4, now);
    q.exec();
  });
}

// Flattens a nested JSON object into dotted keys; strings as they are, everything else as JSON
// text (the same form as gpas::flatten(RunConfig), so params can be filtered with key=value).
void flatten_json(const nlohmann::json& j, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten_json(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    return;
  }
  out.emplace_back(prefix, j.is_string() ? j.get<std::string>() : j.dump());
}

void write_params(SQLite::Database& db, const std::string& run_id, const nlohmann::json& config) {
  SQLite::Statement del(db, "DELETE FROM params WHERE run_id = ?");
  del.bind(1, run_id);
  del.exec();
  std::vector<std::pair<std::string, std::string>> kv;
  flatten_json(config, "", kv);
  SQLite::Statement ins(db, "INSERT OR REPLACE INTO params(run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [k, v] : kv) {
    ins.bind(1, run_id);
    ins.bind(2, k);
    ins.bind(3, v);
    ins.exec();
    ins.reset();
  }
}

int Store::forget_stale_queued(const std::string& sweep, const std::vector<std::string>& job_ids) {
  require_writable(*this);
  const std::unordered_set<std::string> keep(job_ids.begin(), job_ids.end());
  // The workdir's runs/ (the store sits in the workdir): a stored run_dir may be relative to
  // wherever the orchestrator that queued it ran.
  const std::filesystem::path runs = std::filesystem::path(path_).parent_path() / "runs";
  auto present = [](const std::filesystem::path& p) {
    std::error_code ec;  // a directory, or one that cannot be looked at: the journal's business
    return std::filesystem::symlink_status(p, ec).type() != std::filesystem::file_type::not_found;
  };
  int forgotten = 0;
  write_transaction(*db_, [&] {
    std::vector<std::string> stale;
    {
      SQLite::Statement q(*db_,
                          "SELECT r.id, r.run_dir FROM runs r JOIN run_sweeps m ON m.run_id = r.id "
                          "WHERE m.sweep = ? AND r.status = 'queued' AND r.journal_bytes = 0 AND r.journal_seq < 0");
      q.bind(1, sweep);
      while (q.executeStep()) {
        const std::string id = q.getColumn(0).getString(), dir = q.getColumn(1).getString();
        if (keep.count(id) || (!dir.empty() && present(dir)) || present(runs / id)) continue;
        stale.push_back(id);
      }
    }
    // Each stale run leaves the sweep; its sweep column then names another sweep it is still in,
    // if any; a run in no sweep any more leaves the index.
    SQLite::Statement leave(*db_, "DELETE FROM run_sweeps WHERE run_id = :id AND sweep = :sweep");
    SQLite::Statement rename(*db_, "UPDATE runs SET sweep = COALESCE((SELECT sweep FROM run_sweeps WHERE "
                                   "run_id = :id ORDER BY sweep LIMIT 1), '') WHERE id = :id AND sweep = :sweep");
    SQLite::Statement drop(*db_, "DELETE FROM runs WHERE id = :id AND status = 'queued' AND journal_bytes = 0 "
                                 "AND journal_seq < 0 AND NOT EXISTS (SELECT 1 FROM run_sweeps WHERE run_id = :id)");
    leave.bind(":sweep", sweep);
    rename.bind(":sweep", sweep);
    for (const auto& id : stale) {
      for (auto* q : {&leave, &rename, &drop}) {
        q->bind(":id", id);
        q->exec();
        q->reset();
      }
    }
    forgotten = static_cast<int>(stale.size());
  });
  return forgotten;
}

void Store::register_run(const std::string& run_id, const std::string& run_dir,
                         const std::string& sweep, const nlohmann::json& config) {
  require_writable(*this);
  if (run_id.empty()) throw Error("register_run: empty run id");
  write_transaction(*db_, [&] {
    SQLite::Statement q(*db_,
                        "INSERT INTO runs(id, name, sweep, run_dir, config) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT(id) DO UPDATE SET "
                        "sweep = CASE WHEN excluded.sweep = '' THEN runs.sweep ELSE excluded.sweep END, "
                        "run_dir = CASE WHEN excluded.run_dir = '' THEN runs.run_dir "
                        "ELSE excluded.run_dir END, "
                        "config = COALESCE(runs.config, excluded.config), "
                        "name = CASE WHEN runs.name = '' THEN excluded.name ELSE runs.name END");
    q.bind(1, run_id);
    q.bind(2, config.is_object() ? config.value("name", "") : std::string());
    q.bind(3, sweep);
    q.bind(4, run_dir);
    if (config.is_null())
      q.bind(5);
    else
      q.bind(5, config.dump());
    q.exec();
    add_membership(*db_, run_id, sweep);
    if (config.is_object()) {
      SQLite::Statement has(*db_, "SELECT 1 FROM params WHERE run_id = ? LIMIT 1");
      has.bind(1, run_id);
      if (!has.executeStep()) write_params(*db_, run_id, config);
    }
  });
}

void Store::set_run_state(const std::string& run_id, const std::string& status,
                          const std::string& error) {
  require_writable(*this);
  if (!is_run_status(status))
    throw Error("set_run_state: unknown status '" + status +
                "' (queued|running|completed|failed|diverged|cancelled)");
  bool terminal = status != "queued" && status != "running";
  std::string now = now_iso8601();
  write_transaction(*db_, [&] {
    SQLite::Statement ins(*db_, "INSERT OR IGNORE INTO runs(id) VALUES (?)");
    ins.bind(1, run_id);
    ins.exec();
    SQLite::Statement q(*db_,
                        "UPDATE runs SET status = ?, error = ?, "
                        "ended = CASE WHEN ? THEN ? ELSE '' END WHERE id = ?");
    q.bind(1, status);
    q.bind(2, error);
    q.bind(3, terminal ? 1 : 0);
    q.bind(4, now);
    q.bind(5, run_id);
    q.exec();
  });
}

}  // namespace gpas::results
