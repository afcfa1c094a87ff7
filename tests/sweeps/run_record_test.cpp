// <run_dir>/sweep.json under writers in several processes at once: orchestrators of sweeps that
// share a cell each add their membership and write the record; none may lose another's update.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/common/fs.h"
#include "sweeps/run_state.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

TEST(RunRecord, ConcurrentWritersInManyProcessesLoseNoMembership) {
  std::string dir = testing::temp_dir("record") + "/runs/abc";
  make_dirs(dir);
  const int procs = 8, each = 25;
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      for (int i = 0; i < each; ++i) {
        std::string sweep = "s" + std::to_string(p) + "_" + std::to_string(i);
        if (i % 2) {
          record_membership(dir, sweep);
        } else {  // what an orchestrator's launch does: read, one more attempt, write
          RunRecord r = read_record(dir);
          r.sweep = sweep;
          write_record(dir, r);
        }
      }
      ::_exit(0);
    }
    ASSERT_GT(pid, 0);
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(k, &status, 0), k);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  RunRecord r = read_record(dir);
  EXPECT_EQ(r.sweeps.size(), static_cast<size_t>(procs * each));
}

}  // namespace
}  // namespace gpas::sweeps
