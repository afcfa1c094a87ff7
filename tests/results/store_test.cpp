// The results store: schema creation, migration from version 1, idempotent ingestion of a
// journal (torn lines, resumed runs, replaced journals), run states, filters, read-only queries.
// Concurrency with real processes is in concurrency_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <SQLiteCpp/SQLiteCpp.h>

#include "core/common/error.h"
#include "results/schema.h"
#include "results/store.h"
#include "tests/results/fixture.h"

namespace gpas::results {
namespace {

using testing::config_of;
using testing::temp_dir;
using testing::write_run;

int64_t count(Store& s, const std::string& sql) { return s.db().execAndGet(sql).getInt64(); }

TEST(Store, CreatesSchemaInWalMode) {
  auto wd = temp_dir("schema");
  auto s = Store::open(db_path_for(wd));
  EXPECT_EQ(s->schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(s->db().execAndGet("PRAGMA journal_mode").getString(), "wal");
  for (const char* t : {"sweeps", "runs", "params", "metrics", "layer_stats", "artifacts"})
    EXPECT_EQ(count(*s, std::string("SELECT COUNT(*) FROM sqlite_master WHERE name='") + t + "'"), 1)
        << t;
  s.reset();
  auto again = Store::open(db_path_for(wd));  // opening twice migrates nothing
  EXPECT_EQ(again->schema_version(), Store::kSchemaVersion);
}

TEST(Store, MigratesFromVersionOne) {
  auto wd = temp_dir("migrate");
  std::string path = db_path_for(wd);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(db, 1);
    ASSERT_EQ(user_version(db), 1);
    db.exec("INSERT INTO runs(id, name, status) VALUES ('aaaaaaaaaaaa', 'old', 'completed')");
    db.exec("INSERT INTO metrics(run_id, step, key, value) VALUES ('aaaaaaaaaaaa', 10, 'eval/ppl', 30.5)");
  }
  {  // a read-only open refuses an old schema with advice instead of guessing
    try {
      Store::open(path, true);
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("gpas ingest"), std::string::npos) << e.what();
    }
  }
  auto s = Store::open(path);
  EXPECT_EQ(s->schema_version(), Store::kSchemaVersion);
  auto r = s->find_run("aaaa");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "old");
  EXPECT_EQ(r->run_dir, "");  // the new column, with its default
  EXPECT_EQ(s->final_metric("aaaaaaaaaaaa", "eval/ppl").value(), 30.5);
  EXPECT_EQ(count(*s, "SELECT COUNT(*) FROM sqlite_master WHERE name='params_by_key'"), 1);
}

TEST(Store, IngestsJournalIdempotently) {
  auto wd = temp_dir("ingest");
  std::string dir = write_run(wd, {config_of("71m", "pre", true, 3), 33.5});
  make_dirs(dir + "/checkpoints");
  std::ofstream(dir + "/checkpoints/step_100") << "weights";  // the journal's checkpoint, on disk
  auto s = Store::open(db_path_for(wd));
  auto first = s->ingest_run_dir(dir, "main");
  EXPECT_GT(first.lines, 100);
  auto again = s->ingest_run_dir(dir);
  EXPECT_EQ(again.lines, 0);
  auto runs = s->list_runs();
  ASSERT_EQ(runs.size(), 1u);
  const RunRow& r = runs[0];
  EXPECT_EQ(r.status, "completed");
  EXPECT_EQ(r.sweep, "main");  // "" on the second ingest kept it
  EXPECT_EQ(r.host, "testhost");
  EXPECT_EQ(r.last_step, 100);
  EXPECT_EQ(r.config["model"]["norm"], "pre");
  EXPECT_NEAR(s->final_metric(r.id, "eval/ppl").value(), 33.5, 1e-9);
  EXPECT_EQ(s->metric_series(r.id, "train/loss").size(), 10u);
  EXPECT_EQ(s->layer_series(r.id, "gate").size(), 4u * 5u);  // steps 20, 40, ..., 100
  EXPECT_EQ(s->artifacts(r.id).size(), 1u);
  EXPECT_EQ(count(*s, "SELECT COUNT(*) FROM params WHERE key='model.gpas.enabled' AND value='true'"), 1);
  EXPECT_EQ(s->list_runs({"", "", {{"train.seed", "3"}}}).size(), 1u);
  EXPECT_EQ(s->list_runs({"", "", {{"train.seed", "4"}}}).size(), 0u);
  // A number matches however it is written; text only as text (0 is not "false").
  EXPECT_EQ(s->list_runs({"", "", {{"train.seed", "3.0"}}}).size(), 1u);
  EXPECT_EQ(s->list_runs({"", "", {{"train.seed", "3e0"}}}).size(), 1u);
  EXPECT_EQ(s->list_runs({"", "", {{"model.gpas.enabled", "true"}}}).size(), 1u);
  EXPECT_EQ(s->list_runs({"", "", {{"model.gpas.enabled", "1"}}}).size(), 0u);
  EXPECT_EQ(s->list_runs({"", "", {{"model.gpas.learnable", "0"}}}).size(), 0u);
  EXPECT_EQ(s->list_runs({"other", "", {}}).size(), 0u);
  EXPECT_EQ(s->sweeps(), std::vector<std::string>{"main"});
  // The store reflects the disk: a checkpoint pruned from the run dir leaves it at the next ingest.
  std::filesystem::remove(dir + "/checkpoints/step_100");
  s->ingest_run_dir(dir);
  EXPECT_EQ(s->artifacts(r.id).size(), 0u);
}

TEST(Store, TornLineWaitsAndResumedRunContinues) {
  auto wd = temp_dir("torn");
  RunConfig cfg = config_of("9m", "pre", false);
  std::string id = run_id(cfg);
  std::string dir = wd + "/runs/" + id;
  make_dirs(dir);
  {
    Journal j(dir + "/journal.jsonl");
    j.write({{"type", "start"}, {"run_id", id}, {"attempt", 1}, {"config", to_json(cfg)}});
    j.metric(1, "train/loss", 5.0);
  }
  {  // a writer in the middle of a line
    std::ofstream(dir + "/journal.jsonl", std::ios::app) << R"({"seq":2,"type":"metric","st)";
  }
  auto s = Store::open(db_path_for(wd));
  EXPECT_EQ(s->ingest_run_dir(dir).lines, 2);
  {  // ...finishes it, then more lines follow
    std::ofstream(dir + "/journal.jsonl", std::ios::app)
        << R"(ep":2,"key":"train/loss","value":4.0,"time":1.0})" << "\n";
    Journal j(dir + "/journal.jsonl");  // a resumed attempt continues the sequence
    j.write({{"type", "start"}, {"run_id", id}, {"attempt", 2}, {"config", to_json(cfg)}});
    j.metric(3, "train/loss", 3.0);
    j.status("completed", 3);
  }
  EXPECT_EQ(s->ingest_run_dir(dir).lines, 4);
  auto r = s->find_run(id);
  EXPECT_EQ(r->attempt, 2);
  EXPECT_EQ(r->status, "completed");
  EXPECT_EQ(s->metric_series(id, "train/loss").size(), 3u);

  // A journal replaced by a shorter, new one (the run started over) is re-read from its start.
  std::filesystem::remove(dir + "/journal.jsonl");
  {
    Journal j(dir + "/journal.jsonl");
    j.write({{"type", "start"}, {"run_id", id}, {"attempt", 1}, {"config", to_json(cfg)}});
  }
  EXPECT_EQ(s->ingest_run_dir(dir).lines, 1);
  EXPECT_EQ(s->find_run(id)->status, "running");
  EXPECT_EQ(s->metric_series(id, "train/loss").size(), 0u);
}

// A sweep expanded again forgets the runs it queued before that are not among its jobs now, never
// started and have no directory; a job still in the sweep, a run with a directory, a run the
// orchestrator marked failed and a run another sweep also queued are kept (the last leaves this
// sweep only, even where its sweep column named this one).
TEST(Store, ASweepForgetsQueuedRunsOfAnEarlierExpansion) {
  auto wd = temp_dir("stale_queued");
  auto s = Store::open(db_path_for(wd));
  s->upsert_sweep("grid");
  s->upsert_sweep("other");
  s->register_run("dddddddddddd", wd + "/runs/dddddddddddd", "other", nullptr);
  for (const char* id : {"aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc", "dddddddddddd", "eeeeeeeeeeee"})
    s->register_run(id, wd + "/runs/" + id, "grid", nullptr);
  make_dirs(wd + "/runs/cccccccccccc");  // started meanwhile, or being made: kept
  s->set_run_state("eeeeeeeeeeee", "failed", "exit code 1");  // not queued: kept
  EXPECT_EQ(s->forget_stale_queued("grid", {"aaaaaaaaaaaa"}), 2);  // b, and d from this sweep
  EXPECT_TRUE(s->find_run("aaaaaaaaaaaa"));
  EXPECT_FALSE(s->find_run("bbbbbbbbbbbb"));
  EXPECT_TRUE(s->find_run("cccccccccccc"));
  ASSERT_TRUE(s->find_run("dddddddddddd"));  // queued by "other" too: it stays there
  EXPECT_EQ(s->list_runs({"grid", "", {}}).size(), 3u);  // a, c, e
  EXPECT_EQ(s->list_runs({"other", "", {}}).size(), 1u);
  EXPECT_EQ(s->find_run("dddddddddddd")->sweep, "other");
  EXPECT_EQ(s->forget_stale_queued("grid", {"aaaaaaaaaaaa"}), 0);
}

TEST(Store, OrchestratorStatesAndQueuedRuns) {
  auto wd = temp_dir("states");
  auto s = Store::open(db_path_for(wd));
  RunConfig cfg = config_of("9m", "mix", true);
  s->upsert_sweep("grid", {{"sizes", {"9m"}}});
  s->register_run(run_id(cfg), wd + "/runs/x", "grid", to_json(cfg));
  auto r = s->find_run(cfg.name);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "queued");
  EXPECT_EQ(r->sweep, "grid");
  s->set_run_state(r->id, "failed", "exit code 137 (killed)");
  r = s->find_run(r->id);
  EXPECT_EQ(r->status, "failed");
  EXPECT_EQ(r->error, "exit code 137 (killed)");
  EXPECT_FALSE(r->ended.empty());
  EXPECT_THROW(s->set_run_state(r->id, "exploded"), Error);
  EXPECT_FALSE(s->find_run("ffffffffffff"));
  EXPECT_EQ(s->list_runs({"", "failed", {}}).size(), 1u);
  try {  // a misspelt status filter is an error naming the allowed ones, not an empty list
    s->list_runs({"", "runing", {}});
    ADD_FAILURE() << "an unknown status should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'runing': use one of queued, running, completed"), std::string::npos)
        << e.what();
  }

  // A run directory with only config.yaml (queued, not started) is indexed with its params.
  RunConfig other = config_of("9m", "lns", false);
  std::string dir = wd + "/runs/" + run_id(other);
  make_dirs(dir);
  write_file_atomic(dir + "/config.yaml", to_yaml(other));
  s->ingest_workdir(wd);
  auto q = s->find_run(run_id(other));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, "queued");
  EXPECT_EQ(q->config["model"]["norm"], "lns");
}

TEST(Store, ReadOnlyQueryRefusesWrites) {
  auto wd = temp_dir("readonly");
  EXPECT_THROW(Store::open(db_path_for(wd), true), Error);  // nothing to read yet
  write_run(wd, {config_of("71m", "pre", false), 34.0});
  Store::open(db_path_for(wd))->ingest_workdir(wd);
  auto s = Store::open(db_path_for(wd), true);
  auto r = s->query("SELECT key, COUNT(*) AS n FROM metrics GROUP BY key ORDER BY key");
  EXPECT_EQ(r.columns, (std::vector<std::string>{"key", "n"}));
  ASSERT_EQ(r.rows.size(), 6u);
  EXPECT_EQ(r.rows[0][0], "eval/loss");
  EXPECT_EQ(r.rows[0][1], 2);
  for (const char* sql : {"DELETE FROM runs", "UPDATE runs SET status='failed'",
                          "INSERT INTO sweeps(name, created, updated) VALUES ('x','','')",
                          "DROP TABLE metrics", "CREATE TABLE t(x)", "PRAGMA user_version = 7"}) {
    try {
      s->query(sql);
      ADD_FAILURE() << "not refused: " << sql;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("read-only"), std::string::npos) << sql << ": " << e.what();
    }
  }
  EXPECT_THROW(s->query("SELECT 1; DELETE FROM runs"), Error);
  EXPECT_THROW(s->ingest_workdir(wd), Error);
  EXPECT_EQ(s->list_runs().size(), 1u);
}

// sqlite3_stmt_readonly() says yes to statements that change the connection rather than the
// file; these answered 0 rows and exit 0. Pragmas that read stay allowed.
TEST(Store, QueryRefusesConnectionChanges) {
  auto wd = temp_dir("readonly_pragma");
  write_run(wd, {config_of("71m", "pre", false), 34.0});
  Store::open(db_path_for(wd))->ingest_workdir(wd);
  auto s = Store::open(db_path_for(wd), true);
  for (const char* sql : {"PRAGMA writable_schema=ON", "PRAGMA query_only=0", "pragma QUERY_ONLY = false",
                          "SAVEPOINT x", "RELEASE x", "BEGIN", "COMMIT", "ATTACH ':memory:' AS m",
                          "PRAGMA main.journal_mode=DELETE"}) {
    try {
      s->query(sql);
      ADD_FAILURE() << "not refused: " << sql;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("query: refused:"), std::string::npos) << sql << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("read-only"), std::string::npos) << sql << ": " << e.what();
    }
  }
  EXPECT_EQ(s->query("PRAGMA table_info(runs)").rows.empty(), false);
  EXPECT_EQ(s->query("SELECT name FROM pragma_table_info('metrics')").rows.size(), 5u);
  EXPECT_EQ(s->query("PRAGMA user_version").rows.size(), 1u);
  EXPECT_EQ(s->query("SELECT COUNT(*) FROM runs").rows[0][0], 1);
}

// One unreadable run directory (journal.jsonl a directory) used to stop the whole ingest with
// "basic_filebuf::underflow error" and no path; a journal copied into another run's directory was
// filed under the run it names. Both are skipped, named, and the others indexed.
TEST(Store, IngestSkipsUnreadableAndMisplacedRunsNamingThem) {
  auto wd = temp_dir("skip");
  std::vector<std::string> dirs;
  for (int seed = 0; seed < 5; ++seed) dirs.push_back(write_run(wd, {config_of("9m", "pre", false, seed), 30.0}));
  std::sort(dirs.begin(), dirs.end());
  std::filesystem::remove(dirs[1] + "/journal.jsonl");
  std::filesystem::create_directories(dirs[1] + "/journal.jsonl");
  std::string copy = wd + "/runs/0123456789ab";  // another run's name, this journal
  std::filesystem::create_directories(copy);
  std::filesystem::copy_file(dirs[3] + "/journal.jsonl", copy + "/journal.jsonl");
  std::string named = wd + "/runs/my-run";  // a --run-dir of the user's choosing is fine
  std::filesystem::create_directories(named);
  std::filesystem::copy_file(dirs[4] + "/journal.jsonl", named + "/journal.jsonl");
  std::filesystem::remove_all(dirs[4]);

  auto s = Store::open(db_path_for(wd));
  IngestStats st = s->ingest_workdir(wd);
  EXPECT_EQ(st.runs, 4);  // dirs 0, 2, 3 and my-run
  ASSERT_EQ(st.skipped.size(), 2u);
  std::stable_partition(st.skipped.begin(), st.skipped.end(), [&](const std::string& a) { return a.rfind(copy, 0) == 0; });
  EXPECT_EQ(st.skipped[0].rfind(copy + "/journal.jsonl: the journal is run ", 0), 0u) << st.skipped[0];
  EXPECT_NE(st.skipped[0].find("named for run 0123456789ab"), std::string::npos) << st.skipped[0];
  EXPECT_EQ(st.skipped[1].rfind(dirs[1] + "/journal.jsonl: not a regular file (a directory)", 0), 0u)
      << st.skipped[1];
  EXPECT_EQ(count(*s, "SELECT COUNT(*) FROM runs"), 4);
  EXPECT_FALSE(s->find_run("0123456789ab"));
  auto r = s->find_run(std::filesystem::path(dirs[3]).filename().string());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->run_dir, std::filesystem::weakly_canonical(dirs[3]).string());  // not the copy's
  EXPECT_THROW(s->ingest_run_dir(copy), Error);
}

}  // namespace
}  // namespace gpas::results
