// `gpas ingest [--workdir W]`: re-indexes every run directory under W/runs into W/gpas.db, and
// setup_results(), which registers all the result subcommands (ingest, query, runs, report).
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "results/store.h"

namespace gpas::cli {

std::unique_ptr<results::Store> open_store(const std::string& workdir, bool read_only) {
  return results::Store::open(results::db_path_for(workdir), read_only);
}

namespace {

// Why a write to the index failed, with what to do: SQLite says only "disk I/O error" or "database
// or disk is full" where the filesystem is full.
std::string write_failure(const std::string& db, const std::string& what) {
  std::string dir = std::filesystem::path(db).parent_path().string();
  struct statvfs v {};
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &v) == 0 && v.f_bsize > 0) {
    unsigned long long free_bytes = static_cast<unsigned long long>(v.f_bavail) * v.f_frsize;
    if (free_bytes < (1ull << 20))
      return what + " (the filesystem holding " + db + " is full: " + std::to_string(free_bytes) +
             " bytes free; free some space, then `gpas ingest`)";
  }
  return what;
}

}  // namespace

std::unique_ptr<results::Store> open_view(const std::string& workdir) {
  std::string db = results::db_path_for(workdir);
  std::error_code ec;
  bool runs = std::filesystem::is_directory(std::filesystem::path(workdir) / "runs", ec);
  // No store and no runs, or a zero-byte gpas.db (truncated: its tags and notes are gone, which a
  // silent fresh index would hide): the read-only open says what it is and what to do.
  if (!std::filesystem::exists(db, ec) ? !runs : std::filesystem::file_size(db, ec) == 0)
    return open_store(workdir, true);
  std::string sync_error;
  try {
    open_store(workdir, false)->sync_workdir(workdir);
  } catch (const std::exception& e) {
    sync_error = write_failure(db, e.what());
  }
  // A store that cannot be read at all: its own error (damaged, newer schema) and advice, after
  // why it could not be written where that is the cause.
  std::unique_ptr<results::Store> store;
  try {
    store = open_store(workdir, true);
  } catch (const Error& e) {
    if (sync_error.empty()) throw;
    throw Error(sync_error + "; and the index cannot be read as it is: " + e.what());
  }
  if (!sync_error.empty())
    std::cerr << "gpas: warning: the index was not brought up to date from the run journals (" << sync_error
              << "); showing it as last written\n";
  return store;
}

std::vector<std::string> store_names(const results::Store& store, const std::string& sql) {
  std::vector<std::string> out;
  for (const auto& row : store.query(sql).rows)
    if (!row.empty() && row[0].is_string()) out.push_back(row[0].get<std::string>());
  return out;
}

void require_known(const std::string& what, const std::string& name, const std::vector<std::string>& valid) {
  if (valid.empty() || std::find(valid.begin(), valid.end(), name) != valid.end()) return;
  std::string all;
  for (const auto& v : valid) all += (all.empty() ? "" : ", ") + v;
  std::string hint = suggest(name, valid);
  throw Error("unknown " + what + " '" + name + "'" +
                  (hint.rfind("; did you mean", 0) == 0 ? hint + " (known: " + all + ")" : "; known: " + all),
              kExitUsage);
}

std::vector<std::pair<std::string, std::string>> parse_where(const results::Store& store,
                                                             const std::vector<std::string>& where) {
  std::vector<std::pair<std::string, std::string>> out;
  auto keys = where.empty() ? std::vector<std::string>{}
                            : store_names(store, "SELECT DISTINCT key FROM params ORDER BY key");
  for (const auto& w : where) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--where " + w + ": expected key=value, e.g. --where model.norm=pre", kExitUsage);
    require_known("config key in --where", w.substr(0, eq), keys);
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

std::string explain_no_match(const results::Store& store,
                             const std::vector<std::pair<std::string, std::string>>& where) {
  for (const auto& [k, v] : where) {
    std::string key = k;
    for (size_t p = key.find('\''); p != std::string::npos; p = key.find('\'', p + 2)) key.insert(p, "'");
    auto values = store_names(store, "SELECT DISTINCT value FROM params WHERE key = '" + key + "' ORDER BY value");
    if (std::find(values.begin(), values.end(), v) == values.end()) {
      std::string all;
      for (const auto& x : values) all += (all.empty() ? "" : ", ") + x;
      return "no run has " + k + "=" + v + " (values in the store: " + all + ")";
    }
  }
  return "no run matches all of the conditions together";
}

void index_run_dir(const std::string& workdir, const std::string& run_dir) {
  open_store(workdir, false)->ingest_run_dir(run_dir);
}

namespace {

struct IngestOptions {
  std::string workdir = ".";
  std::string run_dir;
  std::string sweep;
  bool json = false;
  bool rebuild = false;
};

// The run directories ingest_workdir skipped (each named, with why, in its warnings) make the
// command fail at the end, after the others are indexed.
void fail_on_skipped(const results::IngestStats& s) {
  if (s.skipped.empty()) return;
  throw Error(std::to_string(s.skipped.size()) + " run director" + (s.skipped.size() == 1 ? "y was" : "ies were") +
              " skipped, each named above with why (the other " + std::to_string(s.runs) +
              " are indexed); repair or move them out of runs/, then run `gpas ingest` again");
}

void run_ingest(const IngestOptions& o) {
  if (o.rebuild) {  // a damaged gpas.db: set it aside and index the journals again
    if (!o.run_dir.empty()) throw Error("--rebuild re-indexes the whole workdir; drop --run-dir", kExitUsage);
    std::string aside;
    results::IngestStats s = results::Store::rebuild(o.workdir, &aside);
    std::cout << "rebuilt " << results::db_path_for(o.workdir) << " from " << s.runs << " run directories ("
              << s.lines << " journal lines)" << (aside.empty() ? "" : "; the old file is " + aside) << "\n";
    fail_on_skipped(s);
    return;
  }
  auto store = open_store(o.workdir, false);
  results::IngestStats s = o.run_dir.empty() ? store->ingest_workdir(o.workdir)
                                             : store->ingest_run_dir(o.run_dir, o.sweep);
  if (o.json) {
    std::cout << nlohmann::json{{"runs", s.runs}, {"lines", s.lines}, {"db", store->path()},
                                {"skipped", s.skipped}}.dump() << "\n";
  } else {
    std::cout << "ingested " << s.lines << " new journal lines from " << s.runs
              << " run director" << (s.runs == 1 ? "y" : "ies") << " into " << store->path() << "\n";
  }
  fail_on_skipped(s);
}

}  // namespace

void setup_ingest(CLI::App& app) {
  auto o = std::make_shared<IngestOptions>();
  auto* cmd = app.add_subcommand("ingest", "Index the run journals of a workdir into its gpas.db "
                                           "(idempotent; safe while runs are writing)");
  add_workdir(cmd, o->workdir);
  add_json(cmd, o->json);
  cmd->add_option("--run-dir", o->run_dir, "ingest this one run directory only");
  cmd->add_option("--sweep", o->sweep, "with --run-dir: the sweep the run belongs to");
  cmd->add_flag("--rebuild", o->rebuild, "move a damaged gpas.db aside and rebuild it from the run journals");
  cmd->callback([o] { run_ingest(*o); });
}

void setup_results(CLI::App& app) {
  setup_ingest(app);
  setup_query(app);
  setup_runs(app);
  setup_report(app);
}

}  // namespace gpas::cli
