// Many real processes at once on one store: journal writers, ingesters and an orchestrator-like
// registrar, some SIGKILLed mid-flight. Afterwards: integrity_check ok, every committed row still
// there, no duplicate (run, step, key), and the store matches the journals exactly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <filesystem>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

#include "core/common/error.h"
#include "results/store.h"
#include "tests/results/fixture.h"

namespace gpas::results {
namespace {

using testing::config_of;
using testing::temp_dir;

template <class F>
pid_t spawn(F&& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 0;
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", ::getpid(), e.what());
      rc = 1;
    }
    ::_exit(rc);
  }
  return pid;
}

void write_journal(const std::string& wd, int which) {
  RunConfig cfg = config_of("9m", "pre", which % 2 == 1, which);
  std::string id = run_id(cfg);
  std::string dir = wd + "/runs/" + id;
  make_dirs(dir);
  Journal j(dir + "/journal.jsonl");
  j.write({{"type", "start"}, {"run_id", id}, {"attempt", 1}, {"config", to_json(cfg)}});
  for (int step = 0; step < 600; ++step) {
    j.metric(step, "train/loss", 5.0 - step * 1e-3);
    j.metric(step, "train/lr", 1e-3);
    if (step % 50 == 0)
      for (int l = 0; l < 4; ++l) j.layer(step, l, "gate", 0.01 * l);
    if (step % 8 == 0) ::usleep(1000);
  }
  j.status("completed", 600);
}

// Distinct (step, key) metrics in the complete lines of a journal.
size_t journal_metrics(const std::string& path) {
  std::set<std::pair<int64_t, std::string>> keys;
  for (const auto& j : read_journal(path))
    if (j.value("type", "") == "metric") keys.insert({j["step"].get<int64_t>(), j["key"]});
  return keys.size();
}

TEST(StoreConcurrency, ManyProcessesSomeKilled) {
  auto wd = temp_dir("concurrency");
  std::string db = db_path_for(wd);
  std::string stop = wd + "/stop";
  std::string committed = wd + "/committed.log";
  std::mt19937 rng(1234);
  const int kWriters = 6, kIngesters = 6;

  std::vector<pid_t> writers, ingesters;
  for (int w = 0; w < kWriters; ++w) writers.push_back(spawn([&, w] { write_journal(wd, w); }));
  for (int i = 0; i < kIngesters; ++i)
    ingesters.push_back(spawn([&, i] {
      auto store = Store::open(db);
      while (!path_exists(stop)) {
        if (i % 2 == 0) store = Store::open(db);  // re-opening races the migrations too
        store->ingest_workdir(wd);
        ::usleep(2000);
      }
      store->ingest_workdir(wd);
    }));
  // An orchestrator-like writer: each run it registers is logged only after the commit returned.
  pid_t registrar = spawn([&] {
    auto store = Store::open(db);
    store->upsert_sweep("stress");
    std::ofstream log(committed, std::ios::app);
    for (int n = 0; n < 400; ++n) {
      char id[16];
      std::snprintf(id, sizeof(id), "q%011d", n);
      store->register_run(id, "", "stress", nullptr);
      if (n % 3 == 0) store->set_run_state(id, "cancelled", "test");
      log << id << "\n" << std::flush;
    }
  });

  // Kill two writers, half the ingesters and the registrar at random moments.
  std::vector<std::pair<int, pid_t>> kills;  // (ms, pid)
  std::uniform_int_distribution<int> when(50, 700);
  kills.push_back({when(rng), writers[0]});
  kills.push_back({when(rng), writers[3]});
  for (int i = 0; i < kIngesters; i += 2) kills.push_back({when(rng), ingesters[i]});
  kills.push_back({when(rng), registrar});
  std::sort(kills.begin(), kills.end());

  // Meanwhile a reader watches: a row count it has seen must never go down.
  std::map<std::string, int64_t> seen;
  // The registrar is killed only once it has logged a commit (opening and migrating the store can
  // take longer than its random moment on a loaded machine), so the last check is never vacuous.
  auto registrar_logged = [&] {
    std::error_code ec;
    return std::filesystem::file_size(committed, ec) > 0 && !ec;
  };
  auto start = std::chrono::steady_clock::now();
  size_t next_kill = 0;
  std::set<pid_t> killed;
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(900)) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start).count();
    while (next_kill < kills.size() && kills[next_kill].first <= ms) {
      if (kills[next_kill].second == registrar && !registrar_logged()) break;  // a little later
      ::kill(kills[next_kill].second, SIGKILL);
      killed.insert(kills[next_kill].second);
      ++next_kill;
    }
    if (path_exists(db)) {
      try {
        auto ro = Store::open(db, true);
        auto r = ro->query("SELECT run_id, COUNT(*) FROM metrics GROUP BY run_id");
        for (const auto& row : r.rows) {
          int64_t n = row[1].get<int64_t>();
          EXPECT_GE(n, seen[row[0]]) << "rows of run " << row[0] << " went away";
          seen[row[0]] = n;
        }
      } catch (const Error&) {  // not created or not migrated yet
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
  }
  for (; next_kill < kills.size(); ++next_kill) {
    if (kills[next_kill].second == registrar)
      for (int i = 0; i < 2000 && !registrar_logged(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(kills[next_kill].second, SIGKILL);
    killed.insert(kills[next_kill].second);
  }
  auto reap = [&](pid_t pid) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (killed.count(pid))
      EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
    else
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "pid " << pid;
  };
  for (pid_t p : writers) reap(p);
  std::ofstream(stop) << "stop\n";
  for (pid_t p : ingesters) reap(p);
  reap(registrar);

  auto store = Store::open(db);
  store->ingest_workdir(wd);
  EXPECT_EQ(store->db().execAndGet("PRAGMA integrity_check").getString(), "ok");
  EXPECT_EQ(store->db().execAndGet("SELECT COUNT(*) FROM (SELECT 1 FROM metrics GROUP BY "
                                   "run_id, step, key HAVING COUNT(*) > 1)").getInt64(), 0);
  auto runs = store->list_runs({"", "", {{"model.size", "9m"}}});
  ASSERT_EQ(runs.size(), static_cast<size_t>(kWriters));
  for (const auto& r : runs) {
    size_t expect = journal_metrics(r.run_dir + "/journal.jsonl");
    EXPECT_EQ(store->metric_series(r.id, "train/loss").size() +
                  store->metric_series(r.id, "train/lr").size(), expect) << r.id;
    EXPECT_GE(static_cast<int64_t>(expect), seen[r.id]);
  }
  std::ifstream log(committed);
  std::string id;
  int logged = 0;
  while (std::getline(log, id)) {
    if (id.size() != 12) continue;  // the registrar was killed mid-line
    ++logged;
    EXPECT_TRUE(store->find_run(id)) << id << " was committed, then lost";
  }
  EXPECT_GT(logged, 0);
}

}  // namespace
}  // namespace gpas::results
