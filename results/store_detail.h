// Helpers shared by the store's own .cpp files (not part of the public API): params flattening,
// time formatting, and binding JSON numbers that may be null (NaN/Inf in a journal).
// Leaves out anything a report or the CLI would call; those use store.h.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/error.h"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace gpas::results {

// Dotted keys; strings as they are, everything else as JSON text (like gpas::flatten).
void flatten_json(const nlohmann::json& j, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& out);
// Replaces the params rows of a run by the flattened config. Call inside a write transaction.
void write_params(SQLite::Database& db, const std::string& run_id, const nlohmann::json& config);
// Seconds since the epoch -> "2025-01-31T12:00:00Z"; "" for a missing time.
std::string iso_from_seconds(const nlohmann::json& t);
// Records that run_id belongs to sweep (a run may be in many). Call inside a write transaction.
void add_membership(SQLite::Database& db, const std::string& run_id, const std::string& sweep);
// For a damaged database (SQLITE_CORRUPT, SQLITE_NOTADB): what to run to rebuild it.
std::string rebuild_hint(const std::string& db_path);
bool is_damaged_code(int sqlite_code);
// The store itself cannot be written (disk full, I/O error, read-only, locked past the timeout):
// no run directory is to blame, so ingesting the others is pointless.
struct StoreWriteError : Error {
  using Error::Error;
};
bool is_store_write_code(int sqlite_code);
// Binds a JSON number, or NULL for null/non-numbers.
void bind_number(SQLite::Statement& q, int index, const nlohmann::json& v);

}  // namespace gpas::results
