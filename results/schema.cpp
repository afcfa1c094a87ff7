// Migrations of the results store and the one write-transaction helper. Version 1 is the first
// schema; version 2 adds the ingestion bookkeeping (run_dir, journal position, heartbeat) and
// the indexes that reports filter by. A new column or table is a new entry at the end.
#include "results/schema.h"

#include <sqlite3.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "core/common/error.h"

namespace gpas::results {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "sweeps, runs, params, metrics, layer_stats, artifacts",
       R"sql(
CREATE TABLE sweeps (
  name     TEXT PRIMARY KEY,
  spec     TEXT,              -- JSON given by the sweep orchestrator
  created  TEXT NOT NULL,
  updated  TEXT NOT NULL
);
CREATE TABLE runs (
  id            TEXT PRIMARY KEY,   -- hash of the resolved config (name excluded)
  name          TEXT NOT NULL DEFAULT '',
  sweep         TEXT NOT NULL DEFAULT '',
  status        TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued','running','completed','failed','diverged','cancelled')),
  attempt       INTEGER NOT NULL DEFAULT 0,
  host          TEXT NOT NULL DEFAULT '',
  devices       TEXT NOT NULL DEFAULT '',
  pid           INTEGER NOT NULL DEFAULT 0,
  started       TEXT NOT NULL DEFAULT '',
  ended         TEXT NOT NULL DEFAULT '',
  last_step     INTEGER NOT NULL DEFAULT -1,
  git_commit    TEXT NOT NULL DEFAULT '',
  torch_version TEXT NOT NULL DEFAULT '',
  error         TEXT NOT NULL DEFAULT '',
  config        TEXT              -- resolved config, JSON
);
CREATE TABLE params (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE metrics (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step   INTEGER NOT NULL,
  key    TEXT NOT NULL,
  value  REAL,                      -- NULL: NaN or Inf in the journal
  time   REAL,
  PRIMARY KEY (run_id, step, key)
) WITHOUT ROWID;
CREATE TABLE layer_stats (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step   INTEGER NOT NULL,
  layer  INTEGER NOT NULL,
  kind   TEXT NOT NULL,
  value  REAL,
  PRIMARY KEY (run_id, kind, step, layer)
) WITHOUT ROWID;
CREATE TABLE artifacts (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind   TEXT NOT NULL,
  path   TEXT NOT NULL,
  step   INTEGER NOT NULL,
  bytes  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, kind, path)
) WITHOUT ROWID;
)sql"},
      {2, "ingestion bookkeeping on runs; indexes for filtering",
       R"sql(
ALTER TABLE runs ADD COLUMN run_dir TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN journal_seq INTEGER NOT NULL DEFAULT -1;
ALTER TABLE runs ADD COLUMN journal_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN heartbeat TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_by_sweep ON runs(sweep, status);
CREATE INDEX params_by_key ON params(key, value);
CREATE INDEX metrics_by_key ON metrics(key, run_id);
)sql"},
      {3, "tags and notes on runs and sweeps (gpas runs tag / note)",
       R"sql(
CREATE TABLE tags (
  kind   TEXT NOT NULL,              -- run | sweep
  target TEXT NOT NULL,              -- run id or sweep name
  key    TEXT NOT NULL,              -- the tag, or "note"
  value  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (kind, target, key)
) WITHOUT ROWID;
)sql"},
      {4, "a run in many sweeps: run_sweeps membership (runs.sweep stays the latest sweep)",
       R"sql(
CREATE TABLE run_sweeps (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  sweep  TEXT NOT NULL,
  PRIMARY KEY (run_id, sweep)
) WITHOUT ROWID;
CREATE INDEX run_sweeps_by_sweep ON run_sweeps(sweep, run_id);
INSERT OR IGNORE INTO run_sweeps(run_id, sweep) SELECT id, sweep FROM runs WHERE sweep != '';
)sql"},
  };
  return kMigrations;
}

int user_version(SQLite::Database& db) {
  return db.execAndGet("PRAGMA user_version").getInt();
}

void migrate(SQLite::Database& db, int target) {
  const auto& all = migrations();
  if (target < 0) target = all.back().version;
  for (const auto& m : all) {
    if (m.version > target) break;
    // Re-read inside the transaction: another process may have migrated meanwhile.
    write_transaction(db, [&] {
      if (user_version(db) >= m.version) return;
      db.exec(m.sql);
      db.exec("PRAGMA user_version = " + std::to_string(m.version));
    });
  }
  int v = user_version(db);
  if (v > all.back().version)
    throw Error(db.getFilename() + ": schema version " + std::to_string(v) +
                " is newer than this gpas knows (" + std::to_string(all.back().version) +
                "); use a newer gpas");
}

void write_transaction(SQLite::Database& db, const std::function<void()>& body) {
  // The busy timeout (set at open) already waits for other writers; these retries cover the
  // rarer SQLITE_BUSY that SQLite returns without waiting (e.g. during WAL recovery).
  const int kAttempts = 50;
  for (int attempt = 0;; ++attempt) {
    int rc = db.tryExec("BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) break;
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
      throw Error(db.getFilename() + ": cannot begin a write transaction: " + db.getErrorMsg());
    if (attempt + 1 >= kAttempts)
      throw Error(db.getFilename() + ": database stayed locked; another process holds it");
    ::usleep(static_cast<useconds_t>(1000 * (10 + 20 * attempt)));
  }
  try {
    body();
    db.exec("COMMIT");
  } catch (...) {
    db.tryExec("ROLLBACK");
    throw;
  }
}

}  // namespace gpas::results
