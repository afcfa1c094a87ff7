// The store's reading side: runs with filters, one run's params, metric and layer series,
// artifacts, and the free SQL query of `gpas query` (one statement, refused if it would write).
// Leaves out every write (store.cpp, ingest.cpp).
#include <signal.h>
#include <sqlite3.h>

#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>

#include <SQLiteCpp/SQLiteCpp.h>

#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/common/fs.h"
#include "results/store.h"
#include "results/store_detail.h"

namespace gpas::results {

namespace {

const char* kRunColumns =
    "id, name, sweep, status, attempt, host, devices, pid, started, ended, last_step, "
    "git_commit, torch_version, error, run_dir, config";

RunRow row_of(SQLite::Statement& q) {
  RunRow r;
  r.id = q.getColumn(0).getString();
  r.name = q.getColumn(1).getString();
  r.sweep = q.getColumn(2).getString();
  r.status = q.getColumn(3).getString();
  r.attempt = q.getColumn(4).getInt64();
  r.host = q.getColumn(5).getString();
  r.devices = q.getColumn(6).getString();
  r.pid = q.getColumn(7).getInt64();
  r.started = q.getColumn(8).getString();
  r.ended = q.getColumn(9).getString();
  r.last_step = q.getColumn(10).getInt64();
  r.git_commit = q.getColumn(11).getString();
  r.torch_version = q.getColumn(12).getString();
  r.error = q.getColumn(13).getString();
  r.run_dir = q.getColumn(14).getString();
  if (!q.getColumn(15).isNull()) {
    r.config = nlohmann::json::parse(q.getColumn(15).getString(), nullptr, false);
    if (r.config.is_discarded()) r.config = nullptr;
  }
  return r;
}

// The store keeps what the journal said; whether a "running" run still runs is asked of the run
// lock (held by its trainer for its life), or, for run dirs older than the lock, of the pid.
void derive_liveness(RunRow& r) {
  if (r.status != "running" || r.run_dir.empty()) return;
  std::string lock = run_lock_path(r.run_dir);
  LockHolder h = lock_holder_of(lock);
  bool here = r.host == hostname();
  // A writer that is not a trainer (gpas eval, role in the lock) holding it means no trainer lives.
  bool trainer = h.held && h.role.empty();
  bool dead = !trainer && (h.held || (path_exists(lock) ? here : here && r.pid > 0 && ::kill(pid_t(r.pid), 0) != 0 && errno == ESRCH));
  if (dead) r.status = "interrupted";  // resumable: the next `gpas train` continues it
}

}  // namespace

std::vector<RunRow> Store::list_runs(const RunFilter& f) const {
  // "interrupted" is derived: stored as running, with no live trainer.
  const bool derived = f.status == "running" || f.status == "interrupted";
  if (!f.status.empty() && !is_run_status(f.status) && !derived) {
    std::string all;
    for (const auto& s : kRunStatuses) all += (all.empty() ? "" : ", ") + s;
    throw Error("unknown run status '" + f.status + "': use one of " + all + ", interrupted", kExitUsage);
  }
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE 1";
  if (!f.sweep.empty())  // a run shared by several sweeps is listed in each
    sql += " AND (sweep = ? OR EXISTS (SELECT 1 FROM run_sweeps m WHERE m.run_id = runs.id AND m.sweep = ?))";
  if (!f.status.empty()) sql += " AND status = ?";
  // A value that is a number also matches the same number written otherwise (lr=1e-3 finds the
  // stored 0.001); text compares as text.
  for (size_t i = 0; i < f.where.size(); ++i)
    sql += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = runs.id AND p.key = ? "
           "AND (p.value = ? OR (? AND p.value GLOB '[-+.0-9]*' AND CAST(p.value AS REAL) = ?)))";
  sql += " ORDER BY sweep, name, id";
  SQLite::Statement q(*db_, sql);
  int k = 1;
  if (!f.sweep.empty()) {
    q.bind(k++, f.sweep);
    q.bind(k++, f.sweep);
  }
  if (!f.status.empty()) q.bind(k++, derived ? "running" : f.status);
  for (const auto& [key, value] : f.where) {
    q.bind(k++, key);
    q.bind(k++, value);
    char* end = nullptr;
    const double number = value.empty() ? 0.0 : std::strtod(value.c_str(), &end);
    const bool numeric = !value.empty() && end && *end == '\0' && std::isfinite(number);
    q.bind(k++, numeric ? 1 : 0);
    q.bind(k++, number);
  }
  std::vector<RunRow> out;
  while (q.executeStep()) {
    RunRow r = row_of(q);
    derive_liveness(r);
    if (!derived || r.status == f.status) out.push_back(std::move(r));
  }
  return out;
}

std::optional<RunRow> Store::find_run(const std::string& id_or_name) const {
  SQLite::Statement q(*db_, std::string("SELECT ") + kRunColumns +
                                " FROM runs WHERE id = ? OR substr(id, 1, length(?)) = ? "
                                "OR name = ? ORDER BY id");
  q.bind(1, id_or_name);
  q.bind(2, id_or_name);
  q.bind(3, id_or_name);
  q.bind(4, id_or_name);
  std::vector<RunRow> found;
  while (q.executeStep()) {
    found.push_back(row_of(q));
    derive_liveness(found.back());
  }
  for (const auto& r : found)
    if (r.id == id_or_name) return r;
  if (found.empty()) return std::nullopt;
  if (found.size() > 1) {
    std::string ids;
    for (const auto& r : found) ids += " " + r.id + (r.name.empty() ? "" : " (" + r.name + ")");
    throw Error("'" + id_or_name + "' matches " + std::to_string(found.size()) +
                " runs:" + ids + "; give more of the id");
  }
  return found.front();
}

std::vector<std::pair<std::string, std::string>> Store::params(const std::string& run_id) const {
  SQLite::Statement q(*db_, "SELECT key, value FROM params WHERE run_id = ? ORDER BY key");
  q.bind(1, run_id);
  std::vector<std::pair<std::string, std::string>> out;
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
  return out;
}

std::vector<std::string> Store::sweeps() const {
  SQLite::Statement q(*db_, "SELECT name FROM sweeps UNION SELECT sweep FROM runs "
                            "WHERE sweep != '' ORDER BY 1");
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

std::vector<std::string> Store::metric_keys(const std::string& run_id) const {
  SQLite::Statement q(*db_, "SELECT DISTINCT key FROM metrics WHERE run_id = ? ORDER BY key");
  q.bind(1, run_id);
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

std::vector<Point> Store::metric_series(const std::string& run_id, const std::string& key) const {
  SQLite::Statement q(*db_, "SELECT step, value FROM metrics WHERE run_id = ? AND key = ? "
                            "AND value IS NOT NULL ORDER BY step");
  q.bind(1, run_id);
  q.bind(2, key);
  std::vector<Point> out;
  while (q.executeStep()) out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getDouble()});
  return out;
}

QueryResult Store::metric_history(const std::string& run_id, const std::vector<std::string>& keys) const {
  QueryResult out;
  out.columns = {"key", "step", "value"};
  for (const auto& key : keys.empty() ? metric_keys(run_id) : keys) {
    SQLite::Statement q(*db_, "SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step");
    q.bind(1, run_id);
    q.bind(2, key);
    while (q.executeStep())
      out.rows.push_back({key, q.getColumn(0).getInt64(),
                          q.getColumn(1).isNull() ? nlohmann::json() : nlohmann::json(q.getColumn(1).getDouble())});
  }
  return out;
}

std::optional<double> Store::final_metric(const std::string& run_id, const std::string& key) const {
  SQLite::Statement q(*db_, "SELECT value FROM metrics WHERE run_id = ? AND key = ? "
                            "ORDER BY step DESC LIMIT 1");
  q.bind(1, run_id);
  q.bind(2, key);
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  return q.getColumn(0).getDouble();
}

std::vector<std::string> Store::layer_kinds(const std::string& run_id) const {
  SQLite::Statement q(*db_, "SELECT DISTINCT kind FROM layer_stats WHERE run_id = ? ORDER BY kind");
  q.bind(1, run_id);
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

std::vector<LayerPoint> Store::layer_series(const std::string& run_id,
                                            const std::string& kind) const {
  SQLite::Statement q(*db_, "SELECT step, layer, value FROM layer_stats WHERE run_id = ? AND "
                            "kind = ? AND value IS NOT NULL ORDER BY layer, step");
  q.bind(1, run_id);
  q.bind(2, kind);
  std::vector<LayerPoint> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt(), q.getColumn(2).getDouble()});
  return out;
}

std::vector<Artifact> Store::artifacts(const std::string& run_id) const {
  SQLite::Statement q(*db_, "SELECT step, kind, path, bytes FROM artifacts WHERE run_id = ? "
                            "ORDER BY step, kind, path");
  q.bind(1, run_id);
  std::vector<Artifact> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                   q.getColumn(2).getString(), q.getColumn(3).getInt64()});
  return out;
}

namespace {
// sqlite3_progress_handler: a non-zero answer interrupts the statement.
int past_deadline(void* deadline) { return now_seconds() > *static_cast<double*>(deadline); }

// sqlite3_stmt_readonly() is true for statements that change the connection rather than the file
// (PRAGMA writable_schema=ON, PRAGMA query_only=0, SAVEPOINT, BEGIN, ATTACH): the authorizer
// refuses those while `gpas query` prepares, and says which.
struct Refusal {
  std::string what;
};
int authorize(void* out, int action, const char* a3, const char* a4, const char*, const char*) {
  auto* r = static_cast<Refusal*>(out);
  switch (action) {
    case SQLITE_TRANSACTION: r->what = "a transaction statement"; return SQLITE_DENY;
    case SQLITE_SAVEPOINT: r->what = "SAVEPOINT/RELEASE"; return SQLITE_DENY;
    case SQLITE_ATTACH: r->what = "ATTACH"; return SQLITE_DENY;
    case SQLITE_DETACH: r->what = "DETACH"; return SQLITE_DENY;
    case SQLITE_PRAGMA: {
      // A pragma with an argument sets something, but for those that only read about a table.
      static const std::set<std::string> kReaders = {
          "table_info", "table_xinfo", "index_info", "index_xinfo", "index_list", "foreign_key_list",
          "foreign_key_check", "integrity_check", "quick_check", "table_list"};
      std::string name = a3 ? a3 : "";
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (a4 == nullptr || kReaders.count(name)) return SQLITE_OK;
      r->what = "PRAGMA " + name + " with a value";
      return SQLITE_DENY;
    }
    default: return SQLITE_OK;
  }
}
}  // namespace

QueryResult Store::query(const std::string& sql, double timeout_s) const {
  sqlite3* h = db_->getHandle();
  double deadline = now_seconds() + timeout_s;
  if (timeout_s > 0) sqlite3_progress_handler(h, 10000, past_deadline, &deadline);
  std::unique_ptr<sqlite3, void (*)(sqlite3*)> unset(h, [](sqlite3* d) { sqlite3_progress_handler(d, 0, nullptr, nullptr); });
  sqlite3_stmt* st = nullptr;
  const char* tail = nullptr;
  Refusal refusal;
  sqlite3_set_authorizer(h, authorize, &refusal);
  int prepared = sqlite3_prepare_v2(h, sql.c_str(), static_cast<int>(sql.size() + 1), &st, &tail);
  sqlite3_set_authorizer(h, nullptr, nullptr);
  if (prepared != SQLITE_OK && !refusal.what.empty())
    throw Error("query: refused: " + refusal.what + " changes the database or its connection, and "
                "`gpas query` is read-only (one SELECT, WITH, EXPLAIN or PRAGMA that reads)");
  if (prepared != SQLITE_OK) throw Error("query: " + std::string(sqlite3_errmsg(h)));
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
  if (!st) throw Error("query: the SQL text holds no statement");
  for (const char* p = tail; p && *p; ++p)
    if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';')
      throw Error("query: give one SQL statement at a time (found more after the first)");
  if (!sqlite3_stmt_readonly(st))
    throw Error("query: refused: this statement would modify the database, and `gpas query` is "
                "read-only. The store is rebuilt from the run journals by `gpas ingest`; "
                "to change it by hand, use sqlite3 on a copy.");
  QueryResult r;
  int n = sqlite3_column_count(st);
  for (int i = 0; i < n; ++i) r.columns.push_back(sqlite3_column_name(st, i));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<nlohmann::json> row;
    for (int i = 0; i < n; ++i) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL: row.emplace_back(nullptr); break;
        case SQLITE_INTEGER: row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(st, i))); break;
        case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(st, i)); break;
        case SQLITE_BLOB: row.emplace_back("<blob " + std::to_string(sqlite3_column_bytes(st, i)) + " bytes>"); break;
        default: row.emplace_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i))));
      }
    }
    r.rows.push_back(std::move(row));
  }
  if ((rc & 0xff) == SQLITE_READONLY)
    throw Error("query: refused: the statement tried to write, and `gpas query` is read-only");
  if ((rc & 0xff) == SQLITE_INTERRUPT) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", timeout_s);
    throw Error(std::string("query: stopped after ") + buf + " s (--timeout " + buf +
                "): narrow the statement (a LIMIT, a WHERE), or give a longer --timeout (0 = none)");
  }
  if (rc != SQLITE_DONE)
    throw Error("query: " + std::string(sqlite3_errmsg(h)) + (is_damaged_code(rc) ? rebuild_hint(path_) : ""));
  return r;
}

}  // namespace gpas::results
