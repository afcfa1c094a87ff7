// Tags and notes on runs and sweeps (the `tags` table, schema version 3) and removing a run's
// rows from the store. Leaves out the run's files and whether it is live (cli/runs_manage.cpp).
#pragma once
#include <string>
#include <vector>

#include "results/store.h"

namespace gpas::results {

struct Tag {
  std::string kind;    // run | sweep
  std::string target;  // run id or sweep name
  std::string key;     // a tag ("baseline"), or "note"
  std::string value;   // "" for a plain tag; key=value tags and notes carry text
};

void set_tag(Store& store, const Tag& tag);
bool remove_tag(Store& store, const std::string& kind, const std::string& target, const std::string& key);
// kind/target "" = every kind / target; ordered by kind, target, key.
std::vector<Tag> tags_of(const Store& store, const std::string& kind = "", const std::string& target = "");
// "baseline, owner=alice" (the note left out).
std::string tags_text(const std::vector<Tag>& tags);

// Every row of the run (params, metrics, layer stats, artifacts, tags, the run). Returns false
// if the store has no such run.
bool delete_run_rows(Store& store, const std::string& run_id);

// 'text' with quotes doubled, for SQL literals built by hand.
std::string sql_quote(const std::string& s);

}  // namespace gpas::results
