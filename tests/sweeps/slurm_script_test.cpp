// Jobs that span nodes on Slurm: the sbatch request (nodes x GPUs per node), and the generated
// batch script run for real by bash, with stand-ins for srun and scontrol that start the ranks of
// a 2-node x 2-GPU allocation: each rank sees RANK, WORLD_SIZE, LOCAL_RANK and the first node's
// address (its NodeAddr) as MASTER_ADDR, and every rank's exit is collected (a failing rank fails
// the job, a rank that leaves no status is reported lost).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "sweeps/command_runner.h"
#include "sweeps/slurm_backend.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

class NoRunner : public CommandRunner {
 public:
  CommandResult run(const std::vector<std::string>&) override { return {0, "", ""}; }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(SlurmNodes, AJobWithMoreGpusThanANodeSpansFullNodes) {
  NoRunner r;
  SlurmOptions o;
  o.gpus_per_node = 4;
  SlurmBackend b(r, o);
  auto a = b.sbatch_argv(3, 8, "/t", "/t/batch.sh");
  EXPECT_TRUE(has(a, "--nodes=2"));
  EXPECT_TRUE(has(a, "--ntasks-per-node=4"));
  EXPECT_TRUE(has(a, "--gpus-per-node=4"));
  for (const auto& x : a) {
    EXPECT_EQ(x.find("--gres"), std::string::npos) << x;
    EXPECT_NE(x, "--nodes=1");
  }
  // A job that fits one node stays on one.
  auto one = b.sbatch_argv(1, 4, "/t", "/t/batch.sh");
  EXPECT_TRUE(has(one, "--nodes=1"));
  EXPECT_TRUE(has(one, "--gres=gpu:4"));
  EXPECT_TRUE(has(one, "--ntasks=4"));
  // Half a node more is refused, saying what fits.
  try {
    b.sbatch_argv(1, 6, "/t", "/t/batch.sh");
    FAIL() << "6 ranks on nodes of 4 GPUs must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 4"), std::string::npos) << e.what();
  }
}

struct ScriptRun {
  int code = -1;
  std::string log;
  std::string dir;
};

// Runs the batch script of task 0 with fake srun/scontrol on PATH; `worker` is the job's command.
ScriptRun run_batch_script(const std::string& tag, const std::string& worker) {
  ScriptRun res;
  res.dir = testing::temp_dir(tag);
  const std::string bin = res.dir + "/bin", task = res.dir + "/task";
  make_dirs(bin);
  make_dirs(task);
  // srun: 2 nodes x 2 tasks, each rank a child with Slurm's variables, exit = the highest.
  testing::write(bin + "/srun", R"SH(#!/bin/bash
while [ "${1#--}" != "$1" ]; do shift; done
pids=()
for r in 0 1 2 3; do
  SLURM_PROCID=$r SLURM_LOCALID=$((r % 2)) SLURM_NODEID=$((r / 2)) "$@" &
  pids+=($!)
done
code=0
for p in "${pids[@]}"; do wait "$p"; c=$?; [ "$c" -gt "$code" ] && code=$c; done
exit $code
)SH");
  // scontrol: the allocation's hosts, and nodeA's address (NodeAddr) as `show node -o` prints it.
  testing::write(bin + "/scontrol", "#!/bin/bash\n[ \"$1 $2\" = \"show hostnames\" ] && printf 'nodeA\\nnodeB\\n'\n"
                                    "[ \"$1 $2 $3 $4\" = \"show node -o nodeA\" ] && "
                                    "echo 'NodeName=nodeA Arch=x86_64 NodeAddr=10.0.0.7 NodeHostName=nodeA Port=0'\nexit 0\n");
  testing::write(res.dir + "/worker.sh", worker);
  ::chmod((bin + "/srun").c_str(), 0755);
  ::chmod((bin + "/scontrol").c_str(), 0755);
  std::string argv = "bash";
  argv += '\0';
  argv += res.dir + "/worker.sh";
  argv += '\0';
  testing::write(task + "/0.argv", argv);
  testing::write(task + "/batch.sh", SlurmBackend::batch_script());
  std::string cmd = "cd '" + res.dir + "' && PATH='" + bin + "':$PATH SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_JOB_ID=77 "
                    "SLURM_JOB_ID=78 SLURM_NTASKS=4 SLURM_JOB_NODELIST='node[A-B]' OUT='" + res.dir +
                    "' bash '" + task + "/batch.sh' '" + task + "' > '" + res.dir + "/log' 2>&1";
  int st = std::system(cmd.c_str());
  res.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  res.log = read_file(res.dir + "/log");
  return res;
}

TEST(SlurmNodes, TheBatchScriptStartsEveryRankAndCollectsTheirExits) {
  auto r = run_batch_script("script-ok",
                            "echo \"$RANK $WORLD_SIZE $LOCAL_RANK $MASTER_ADDR\" > \"$OUT/rank.$RANK.env\"\n");
  EXPECT_EQ(r.code, 0) << r.log;
  for (int rank = 0; rank < 4; ++rank) {
    std::string env = read_file(r.dir + "/rank." + std::to_string(rank) + ".env");
    EXPECT_EQ(env, std::to_string(rank) + " 4 " + std::to_string(rank % 2) + " 10.0.0.7\n") << rank;
  }
  EXPECT_NE(r.log.find("rank exits (rank:code@host): 0:0@"), std::string::npos) << r.log;
}

TEST(SlurmNodes, OneFailingRankFailsTheJobWithItsCode) {
  auto r = run_batch_script("script-fail", "[ \"$RANK\" = 2 ] && exit 3\nexit 0\n");
  EXPECT_EQ(r.code, 3) << r.log;
  EXPECT_NE(r.log.find(" 2:3@"), std::string::npos) << r.log;
}

TEST(SlurmNodes, ARankThatLeavesNoStatusIsReportedLost) {
  // Rank 1 is killed outright (its wrapper dies with it and writes nothing).
  auto r = run_batch_script("script-lost", "[ \"$RANK\" = 1 ] && kill -9 $PPID\nexit 0\n");
  EXPECT_NE(r.code, 0) << r.log;
  EXPECT_NE(r.log.find(" 1:lost"), std::string::npos) << r.log;
}

}  // namespace
}  // namespace gpas::sweeps
