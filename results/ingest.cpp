// Journal ingestion: reads <run_dir>/journal.jsonl from where the last ingestion stopped and
// applies new lines in small BEGIN IMMEDIATE batches, skipping every seq already applied, so any
// number of processes may ingest the same run at once, and a killed one loses nothing.
// Leaves out reading the store (store_queries.cpp) and the orchestrator's writes (store.cpp).
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/config/config_yaml.h"
#include "results/schema.h"
#include "results/store.h"
#include "results/store_detail.h"

namespace gpas::results {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBatchLines = 500;  // journal lines per write transaction

struct Line {
  nlohmann::json j;
  int64_t end = 0;  // byte offset just after this line's '\n'
};

// Complete lines ('\n'-terminated) from offset on; a line still being written is left for later.
std::vector<Line> read_lines_from(const std::string& path, int64_t offset) {
  std::vector<Line> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  in.seekg(offset);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  while (true) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;
    Line l;
    l.end = offset + static_cast<int64_t>(nl + 1);
    if (nl > pos) {
      l.j = nlohmann::json::parse(data.begin() + pos, data.begin() + nl, nullptr, false);
      if (l.j.is_discarded() || !l.j.is_object()) l.j = nullptr;  // torn by a killed writer
    }
    out.push_back(std::move(l));
    pos = nl + 1;
  }
  return out;
}

int64_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

std::string text_of(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

int64_t int_of(const nlohmann::json& j, const char* key, int64_t dflt) {
  return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : dflt;
}

// A directory named as gpas names run directories: the run id, 12 lowercase hex digits.
bool is_run_id(const std::string& name) {
  return name.size() == 12 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Which run a directory holds: the journal's start line, else the directory's name (run dirs are
// <workdir>/runs/<run_id>/); config_out gets config.yaml for a run that has not started yet.
// A journal that names another run than the directory does (copied or moved in by hand) is
// refused: ingesting it would file its lines under a run this directory does not hold.
std::string identify_run(const std::string& dir, const std::string& journal,
                         nlohmann::json& config_out) {
  std::error_code ec;
  if (fs::exists(journal, ec) && !fs::is_regular_file(journal, ec))
    throw Error(journal + ": not a regular file (" +
                (fs::is_directory(journal, ec) ? "a directory" : "not a plain file") +
                "), so this run directory cannot be read; move it out of runs/ or repair it");
  std::ifstream in(journal);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("type", "") == "start" &&
        j.contains("run_id") && j["run_id"].is_string()) {
      std::string id = j["run_id"].get<std::string>();
      std::string name = fs::path(dir).filename().string();
      if (is_run_id(name) && name != id)
        throw Error(journal + ": the journal is run " + id + "'s, but its directory is named for run " +
                    name + " (a journal copied or moved here by hand?); not ingested: move it to runs/" +
                    id + "/ or remove it");
      return id;
    }
  }
  if (in.bad()) throw Error(journal + ": cannot read the journal");
  std::string yaml = (fs::path(dir) / "config.yaml").string();
  if (fs::exists(yaml)) {
    try {
      RunConfig cfg = load_run_config(yaml);
      config_out = to_json(cfg);
    } catch (const Error& e) {
      spdlog::warn("{}: {}", yaml, e.what());
    }
  }
  return fs::path(dir).filename().string();
}

// Checkpoints pruned by keep_checkpoints (or deleted by hand) leave the store too.
void forget_pruned(SQLite::Database& db, const std::string& id) {
  std::vector<std::string> gone;
  SQLite::Statement q(db, "SELECT path FROM artifacts WHERE run_id = ? AND kind = 'checkpoint'");
  q.bind(1, id);
  while (q.executeStep())
    if (!fs::exists(q.getColumn(0).getString())) gone.push_back(q.getColumn(0).getString());
  if (gone.empty()) return;
  write_transaction(db, [&] {
    SQLite::Statement d(db, "DELETE FROM artifacts WHERE run_id = ? AND kind = 'checkpoint' AND path = ?");
    for (const auto& p : gone) {
      d.bind(1, id);
      d.bind(2, p);
      d.exec();
      d.reset();
    }
  });
}

// The sweeps named by the orchestrator's record <run_dir>/sweep.json, every one it belongs to
// ("sweeps") with the latest ("sweep") last; {""} if none. A store rebuilt from the run dirs keeps
// each membership of a run shared by sweeps, and the latest as the run's sweep.
std::vector<std::string> sweeps_of_record(const fs::path& dir) {
  std::ifstream in(dir / "sweep.json");
  if (!in) return {""};
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object()) return {""};
  std::string last = j.contains("sweep") && j["sweep"].is_string() ? j["sweep"].get<std::string>() : "";
  std::vector<std::string> out;
  if (j.contains("sweeps") && j["sweeps"].is_array())
    for (const auto& m : j["sweeps"])
      if (m.is_string() && !m.get<std::string>().empty() && m.get<std::string>() != last)
        out.push_back(m.get<std::string>());
  out.push_back(last);
  return out;
}

}  // namespace

std::string iso_from_seconds(const nlohmann::json& t) {
  if (!t.is_number()) return "";
  std::time_t secs = static_cast<std::time_t>(t.get<double>());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void bind_number(SQLite::Statement& q, int index, const nlohmann::json& v) {
  if (v.is_number())
    q.bind(index, v.get<double>());
  else
    q.bind(index);
}

// Applies one batch of lines in one transaction; returns how many were new.
static int64_t apply_batch(SQLite::Database& db, const std::string& id, const fs::path& dir,
                           const std::vector<Line>& lines, size_t begin, size_t end) {
  int64_t applied = 0;
  write_transaction(db, [&] {
    SQLite::Statement cur(db, "SELECT journal_seq, last_step FROM runs WHERE id = ?");
    cur.bind(1, id);
    if (!cur.executeStep()) throw Error("ingest: run " + id + " vanished from the store");
    int64_t seq_done = cur.getColumn(0).getInt64();
    int64_t last_step = cur.getColumn(1).getInt64();
    SQLite::Statement metric(db, "INSERT OR REPLACE INTO metrics(run_id, step, key, value, time) "
                                 "VALUES (?, ?, ?, ?, ?)");
    SQLite::Statement layer(db, "INSERT OR REPLACE INTO layer_stats(run_id, step, layer, kind, "
                                "value) VALUES (?, ?, ?, ?, ?)");
    for (size_t i = begin; i < end; ++i) {
      const auto& j = lines[i].j;
      if (!j.is_object()) continue;
      int64_t seq = int_of(j, "seq", -1);
      if (seq <= seq_done) continue;  // already applied, by us earlier or by another process
      seq_done = seq;
      ++applied;
      std::string type = j.value("type", "");
      int64_t step = int_of(j, "step", -1);
      last_step = std::max(last_step, step);
      if (type == "metric") {
        metric.bind(1, id);
        metric.bind(2, step);
        metric.bind(3, text_of(j, "key"));
        bind_number(metric, 4, j.value("value", nlohmann::json()));
        bind_number(metric, 5, j.value("time", nlohmann::json()));
        metric.exec();
        metric.reset();
      } else if (type == "layer") {
        layer.bind(1, id);
        layer.bind(2, step);
        layer.bind(3, int_of(j, "layer", -1));
        layer.bind(4, text_of(j, "kind"));
        bind_number(layer, 5, j.value("value", nlohmann::json()));
        layer.exec();
        layer.reset();
      } else if (type == "artifact") {
        SQLite::Statement q(db, "INSERT OR REPLACE INTO artifacts(run_id, kind, path, step, bytes) "
                                "VALUES (?, ?, ?, ?, ?)");
        // A checkpoint's path as the trainer gave it may be relative to its working directory:
        // the store keeps it absolute, inside the run dir as it is now.
        std::string path = text_of(j, "path");
        if (text_of(j, "kind") == "checkpoint" && !path.empty())
          path = (dir / "checkpoints" / fs::path(path).filename()).string();
        q.bind(1, id);
        q.bind(2, text_of(j, "kind"));
        q.bind(3, path);
        q.bind(4, step);
        q.bind(5, int_of(j, "bytes", 0));
        q.exec();
      } else if (type == "heartbeat") {
        SQLite::Statement q(db, "UPDATE runs SET heartbeat = ? WHERE id = ?");
        q.bind(1, iso_from_seconds(j.value("time", nlohmann::json())));
        q.bind(2, id);
        q.exec();
      } else if (type == "status") {
        std::string status = j.value("status", "");
        if (!is_run_status(status)) continue;
        bool terminal = status != "queued" && status != "running";
        SQLite::Statement q(db, "UPDATE runs SET status = ?, error = ?, ended = ? WHERE id = ?");
        q.bind(1, status);
        q.bind(2, text_of(j, "error"));
        q.bind(3, terminal ? iso_from_seconds(j.value("time", nlohmann::json())) : "");
        q.bind(4, id);
        q.exec();
      } else if (type == "start") {
        const nlohmann::json& cfg = j.contains("config") ? j["config"] : nlohmann::json();
        SQLite::Statement q(db,
                            "UPDATE runs SET name = ?, attempt = ?, host = ?, pid = ?, devices = ?, "
                            "git_commit = ?, torch_version = ?, config = ?, started = ?, "
                            "status = 'running', ended = '', error = '' WHERE id = ?");
        q.bind(1, cfg.is_object() ? cfg.value("name", "") : std::string());
        q.bind(2, int_of(j, "attempt", 1));
        q.bind(3, text_of(j, "host"));
        q.bind(4, int_of(j, "pid", 0));
        q.bind(5, text_of(j, "devices"));
        q.bind(6, text_of(j, "git_commit"));
        q.bind(7, text_of(j, "torch_version"));
        if (cfg.is_object())
          q.bind(8, cfg.dump());
        else
          q.bind(8);
        q.bind(9, iso_from_seconds(j.value("time", nlohmann::json())));
        q.bind(10, id);
        q.exec();
        if (cfg.is_object()) write_params(db, id, cfg);
      }
    }
    SQLite::Statement up(db, "UPDATE runs SET journal_seq = ?, last_step = ?, "
                             "journal_bytes = MAX(journal_bytes, ?) WHERE id = ?");
    up.bind(1, seq_done);
    up.bind(2, last_step);
    up.bind(3, lines[end - 1].end);
    up.bind(4, id);
    up.exec();
  });
  return applied;
}

IngestStats Store::ingest_run_dir(const std::string& run_dir, const std::string& sweep) {
  if (read_only_) throw Error(path_ + ": the store was opened read-only");
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(fs::absolute(run_dir), ec);
  if (ec || !fs::is_directory(dir)) throw Error(run_dir + ": not a run directory");
  std::string journal = (dir / "journal.jsonl").string();
  nlohmann::json yaml_config;
  std::string id = identify_run(dir.string(), journal, yaml_config);
  IngestStats stats;
  stats.runs = 1;
  int64_t offset = 0;
  try {
    write_transaction(*db_, [&] {
      if (!sweep.empty()) {
        SQLite::Statement s(*db_, "INSERT OR IGNORE INTO sweeps(name, created, updated) "
                                  "VALUES (?, ?, ?)");
        s.bind(1, sweep);
        s.bind(2, now_iso8601());
        s.bind(3, now_iso8601());
        s.exec();
      }
      SQLite::Statement q(*db_,
                          "INSERT INTO runs(id, sweep, run_dir) VALUES (?, ?, ?) "
                          "ON CONFLICT(id) DO UPDATE SET run_dir = excluded.run_dir, sweep = "
                          "CASE WHEN excluded.sweep = '' THEN runs.sweep ELSE excluded.sweep END");
      q.bind(1, id);
      q.bind(2, sweep);
      q.bind(3, dir.string());
      q.exec();
      add_membership(*db_, id, sweep);
      SQLite::Statement pos(*db_, "SELECT journal_bytes, config IS NULL FROM runs WHERE id = ?");
      pos.bind(1, id);
      pos.executeStep();
      offset = pos.getColumn(0).getInt64();
      bool no_config = pos.getColumn(1).getInt() != 0;
      if (no_config && yaml_config.is_object()) {  // queued: known from config.yaml only
        SQLite::Statement c(*db_, "UPDATE runs SET config = ?, name = ? WHERE id = ?");
        c.bind(1, yaml_config.dump());
        c.bind(2, yaml_config.value("name", ""));
        c.bind(3, id);
        c.exec();
        write_params(*db_, id, yaml_config);
      }
      int64_t size = file_size(journal);
      if (size >= 0 && size < offset) {  // a new journal replaced the old one: start over
        for (const char* t : {"metrics", "layer_stats", "artifacts"}) {
          SQLite::Statement d(*db_, std::string("DELETE FROM ") + t + " WHERE run_id = ?");
          d.bind(1, id);
          d.exec();
        }
        SQLite::Statement r(*db_, "UPDATE runs SET journal_seq = -1, journal_bytes = 0, "
                                  "last_step = -1 WHERE id = ?");
        r.bind(1, id);
        r.exec();
        offset = 0;
      }
    });
    std::vector<Line> lines = read_lines_from(journal, offset);
    for (size_t b = 0; b < lines.size(); b += kBatchLines)
      stats.lines += apply_batch(*db_, id, dir, lines, b, std::min(lines.size(), b + kBatchLines));
    forget_pruned(*db_, id);
  } catch (const SQLite::Exception& e) {
    if (is_store_write_code(e.getErrorCode())) throw StoreWriteError(path_ + ": " + e.what());
    throw Error(path_ + ": ingesting " + dir.string() + ": " + e.what());
  }
  return stats;
}

namespace {

// <workdir>/runs/*/ that hold a journal or a config.yaml, in name order.
std::vector<fs::path> run_dirs_of(const std::string& workdir) {
  std::vector<fs::path> dirs;
  fs::path runs = fs::path(workdir.empty() ? "." : workdir) / "runs";
  std::error_code ec;
  if (!fs::is_directory(runs, ec)) return dirs;
  // An entry that cannot be looked into (permissions) is left out here, not the whole listing.
  for (const auto& e : fs::directory_iterator(runs, ec)) {
    std::error_code e1, e2, e3;
    if (e.is_directory(e1) &&
        (fs::exists(e.path() / "journal.jsonl", e2) || fs::exists(e.path() / "config.yaml", e3)))
      dirs.push_back(e.path());
    else if (e1 || e2 || e3)
      spdlog::warn("ingest: skipped {}: {}", e.path().string(), (e1 ? e1 : e2 ? e2 : e3).message());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// One run directory that cannot be read is skipped, named; the others are still ingested.
void ingest_dirs(Store& store, const std::vector<fs::path>& dirs, IngestStats& total) {
  for (const auto& d : dirs) {
    std::string why;
    try {
      int64_t lines = 0;  // the first call reads the journal, the others only add memberships
      for (const auto& sweep : sweeps_of_record(d)) lines += store.ingest_run_dir(d.string(), sweep).lines;
      total.runs += 1;
      total.lines += lines;
      continue;
    } catch (const StoreWriteError&) {
      throw;
    } catch (const Error& e) {
      why = e.what();
    } catch (const std::exception& e) {  // an I/O error from the standard library names no file
      why = d.string() + ": " + e.what();
    }
    spdlog::warn("ingest: skipped {}", why);
    total.skipped.push_back(why);
  }
}

}  // namespace

IngestStats Store::ingest_workdir(const std::string& workdir) {
  if (read_only_) throw Error(path_ + ": the store was opened read-only");
  IngestStats total;
  ingest_dirs(*this, run_dirs_of(workdir), total);
  return total;
}

IngestStats Store::sync_workdir(const std::string& workdir) {
  if (read_only_) throw Error(path_ + ": the store was opened read-only");
  struct Known {
    int64_t bytes;
    bool has_config;
    std::string run_dir;
    bool from_journal;  // its row was made from a journal (not only registered by an orchestrator)
  };
  std::unordered_map<std::string, Known> known;  // by run id, which is the directory's name
  {
    SQLite::Statement q(*db_, "SELECT id, journal_bytes, config IS NOT NULL, run_dir, journal_seq FROM runs");
    while (q.executeStep())
      known.emplace(q.getColumn(0).getString(),
                    Known{q.getColumn(1).getInt64(), q.getColumn(2).getInt() != 0, q.getColumn(3).getString(),
                          q.getColumn(1).getInt64() > 0 || q.getColumn(4).getInt64() >= 0});
  }
  std::vector<fs::path> dirs = run_dirs_of(workdir), stale;
  std::error_code ec;  // <workdir>/runs, as the index stores its run dirs
  const fs::path runs = fs::weakly_canonical(fs::absolute(fs::path(workdir.empty() ? "." : workdir) / "runs"), ec);
  for (const auto& d : dirs) {
    auto it = known.find(d.filename().string());
    bool fresh = it != known.end() && it->second.run_dir == (runs / d.filename()).string();
    if (fresh) {
      int64_t size = file_size((d / "journal.jsonl").string());
      // Up to date: every byte of the journal applied (a partial last line is read again, cheaply)
      // and config.yaml's config known for a run that has not started.
      std::error_code ec2;
      fresh = size < 0 ? it->second.has_config || !fs::exists(d / "config.yaml", ec2) : size == it->second.bytes;
    }
    if (!fresh) stale.push_back(d);
  }
  IngestStats total;
  total.runs = static_cast<int64_t>(dirs.size() - stale.size());
  ingest_dirs(*this, stale, total);
  // A run of this workdir whose directory is gone (removed by hand) leaves the views: its rows go,
  // its tags and notes stay (the user's words; they come back with the directory). Only a run
  // indexed from its journal, where runs/ is there and the directory is positively absent: a job an
  // orchestrator queued has no directory until it starts, and one that cannot be read is kept.
  if (!ec && fs::is_directory(runs, ec)) {
    std::unordered_set<std::string> listed;
    for (const auto& d : dirs) listed.insert(d.filename().string());
    std::vector<std::string> gone;
    for (const auto& [id, k] : known) {
      if (!k.from_journal || listed.count(id) || k.run_dir != (runs / id).string()) continue;
      std::error_code e;
      if (fs::symlink_status(runs / id, e).type() == fs::file_type::not_found) gone.push_back(id);
    }
    std::sort(gone.begin(), gone.end());
    if (!gone.empty()) {
      write_transaction(*db_, [&] {
        for (const auto& id : gone) {  // params, metrics, layer_stats, artifacts, run_sweeps cascade
          SQLite::Statement q(*db_, "DELETE FROM runs WHERE id = ?");
          q.bind(1, id);
          q.exec();
        }
      });
      spdlog::warn("{} run(s) of {} were removed from disk since the index last saw them (e.g. {}): they "
                   "leave the index; their tags and notes are kept", gone.size(), runs.string(), gone.front());
    }
  }
  return total;
}

}  // namespace gpas::results
