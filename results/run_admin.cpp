// Tags and run deletion on the store: each write one short BEGIN IMMEDIATE transaction.
#include "results/run_admin.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "results/schema.h"

namespace gpas::results {

std::string sql_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

void set_tag(Store& store, const Tag& t) {
  write_transaction(store.db(), [&] {
    SQLite::Statement q(store.db(), "INSERT INTO tags(kind, target, key, value) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT(kind, target, key) DO UPDATE SET value = excluded.value");
    q.bind(1, t.kind);
    q.bind(2, t.target);
    q.bind(3, t.key);
    q.bind(4, t.value);
    q.exec();
  });
}

bool remove_tag(Store& store, const std::string& kind, const std::string& target, const std::string& key) {
  int n = 0;
  write_transaction(store.db(), [&] {
    SQLite::Statement q(store.db(), "DELETE FROM tags WHERE kind = ? AND target = ? AND key = ?");
    q.bind(1, kind);
    q.bind(2, target);
    q.bind(3, key);
    n = q.exec();
  });
  return n > 0;
}

std::vector<Tag> tags_of(const Store& store, const std::string& kind, const std::string& target) {
  std::string sql = "SELECT kind, target, key, value FROM tags WHERE 1";
  if (!kind.empty()) sql += " AND kind = " + sql_quote(kind);
  if (!target.empty()) sql += " AND target = " + sql_quote(target);
  std::vector<Tag> out;
  for (const auto& r : store.query(sql + " ORDER BY kind, target, key").rows)
    out.push_back({r[0].get<std::string>(), r[1].get<std::string>(), r[2].get<std::string>(),
                   r[3].get<std::string>()});
  return out;
}

std::string tags_text(const std::vector<Tag>& tags) {
  std::string s;
  for (const auto& t : tags)
    if (t.key != "note") s += (s.empty() ? "" : ", ") + t.key + (t.value.empty() ? "" : "=" + t.value);
  return s;
}

bool delete_run_rows(Store& store, const std::string& run_id) {
  int n = 0;
  write_transaction(store.db(), [&] {
    for (const char* table : {"params", "metrics", "layer_stats", "artifacts"}) {
      SQLite::Statement q(store.db(), std::string("DELETE FROM ") + table + " WHERE run_id = ?");
      q.bind(1, run_id);
      q.exec();
    }
    SQLite::Statement t(store.db(), "DELETE FROM tags WHERE kind = 'run' AND target = ?");
    t.bind(1, run_id);
    t.exec();
    SQLite::Statement r(store.db(), "DELETE FROM runs WHERE id = ?");
    r.bind(1, run_id);
    n = r.exec();
  });
  return n > 0;
}

}  // namespace gpas::results
