// The store's schema as an ordered list of migrations (PRAGMA user_version = migrations applied),
// and the write-transaction helper every writer uses (BEGIN IMMEDIATE, retried while busy).
// Leaves out what the tables mean to reports (store.h) and how journals become rows (ingest.cpp).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace SQLite {
class Database;
}

namespace gpas::results {

struct Migration {
  int version;       // user_version after it has run
  std::string what;  // one line for people
  std::string sql;
};

const std::vector<Migration>& migrations();
int user_version(SQLite::Database& db);
// Applies the migrations above user_version up to target (-1 = all), one transaction each.
void migrate(SQLite::Database& db, int target = -1);

// Runs body inside BEGIN IMMEDIATE ... COMMIT; rolls back on an exception. A busy database
// (another writer, a checkpoint) is waited for by the busy timeout and retried with backoff.
void write_transaction(SQLite::Database& db, const std::function<void()>& body);

}  // namespace gpas::results
