// StoreIndex: RunIndex over results::Store, each call guarded so a busy or broken database only warns.
#include "sweeps/run_index.h"

#include <spdlog/spdlog.h>

#include "core/config/config_yaml.h"
#include "results/store.h"
#include "sweeps/run_state.h"

namespace gpas::sweeps {

namespace {

class StoreIndex : public RunIndex {
 public:
  explicit StoreIndex(std::string workdir) : workdir_(std::move(workdir)) {}

  void sweep(const Sweep& s) override {
    guard([&] {
      nlohmann::json spec = {{"file", s.file}, {"jobs", s.jobs.size()},
                             {"max_retries", s.options.max_retries},
                             {"heartbeat_timeout", s.options.heartbeat_timeout}};
      store().upsert_sweep(s.name, spec);
      std::vector<std::string> ids;
      ids.reserve(s.jobs.size());
      for (const auto& j : s.jobs) ids.push_back(j.id);
      if (int n = store().forget_stale_queued(s.name, ids))
        spdlog::info("sweep {}: {} queued run(s) of an earlier expansion, never started and not among its "
                     "jobs now, leave the index", s.name, n);
    });
  }
  // A run dir that exists records the membership too (run_state.h), so that `gpas ingest
  // --rebuild` lists a run shared by sweeps in each; one not made yet gets it at launch.
  void queued(const Sweep& s, const Job& j) override {
    guard([&] {
      record_membership(run_dir_of(s.workdir, j.id), s.name);
      store().register_run(j.id, run_dir_of(s.workdir, j.id), s.name, to_json(j.cfg));
    });
  }
  void ingest(const Sweep& s, const Job& j) override {
    guard([&] {
      record_membership(run_dir_of(s.workdir, j.id), s.name);
      store().ingest_run_dir(run_dir_of(s.workdir, j.id), s.name);
    });
  }
  void state(const Job& j, const std::string& status, const std::string& error) override {
    guard([&] { store().set_run_state(j.id, status, error); });
  }

 private:
  results::Store& store() {
    if (!store_) store_ = results::Store::open(results::db_path_for(workdir_));
    return *store_;
  }
  template <class F>
  void guard(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::warn("results store: {} (the run directories still hold everything)", e.what());
      store_.reset();
    }
  }
  std::string workdir_;
  std::unique_ptr<results::Store> store_;
};

}  // namespace

std::unique_ptr<RunIndex> open_store_index(const std::string& workdir) {
  return std::make_unique<StoreIndex>(workdir);
}

}  // namespace gpas::sweeps
