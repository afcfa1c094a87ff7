// Runs jobs as child processes on this machine: one process per rank with RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT (multi-rank jobs) and CUDA_VISIBLE_DEVICES, output appended
// to <run_dir>/worker.log (worker.rank<r>.log for other ranks). Children die with the orchestrator
// (SIGTERM via PR_SET_PDEATHSIG), so a killed orchestrator leaves no worker running unwatched.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

#include "sweeps/backend.h"

namespace gpas::sweeps {

class LocalBackend : public JobBackend {
 public:
  // cpu_threads > 0: CPU workers get GPAS_THREADS=cpu_threads (unless the user set GPAS_THREADS),
  // so that jobs run side by side share the cores instead of each taking all of them.
  explicit LocalBackend(bool cpu, int cpu_threads = 0) : cpu_(cpu), cpu_threads_(cpu_threads) {}
  ~LocalBackend() override;
  std::string name() const override { return "local"; }
  std::vector<std::string> submit(const std::vector<Launch>& launches) override;
  PollResult poll(const std::string& handle) override;
  void cancel(const std::string& handle, bool force) override;

 private:
  struct Proc {
    std::vector<pid_t> pids;     // per rank; 0 once reaped
    std::vector<int> codes;      // per rank exit codes
    bool peers_stopped = false;  // a rank failed: the others were told to stop
  };
  pid_t spawn(const Launch& l, int rank, int port);
  bool cpu_;
  int cpu_threads_;
  int next_ = 0;
  std::map<std::string, Proc> procs_;
};

int free_tcp_port();  // a port the kernel just handed out on 127.0.0.1

}  // namespace gpas::sweeps
