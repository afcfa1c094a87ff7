// FileLock and the run lock with a real second process: a writer that is not the trainer
// (gpas eval, analyze) is refused naming the holder's pid, host and role, and a SIGKILLed holder
// leaves no stale lock. The CLI's refusals are in tests/cli/runs_state_test.sh.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/common/fs.h"

namespace gpas {
namespace {

// A child that holds run_dir's lock as `role` until killed; returns its pid once it holds it.
pid_t hold_in_child(const std::string& run_dir, const std::string& role) {
  int p[2];
  if (::pipe(p) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    auto lock = FileLock::try_take(run_lock_path(run_dir), role);
    char ok = lock ? '1' : '0';
    if (::write(p[1], &ok, 1) != 1) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(p[1]);
  char ok = 0;
  bool held = ::read(p[0], &ok, 1) == 1 && ok == '1';
  ::close(p[0]);
  return held ? pid : -1;
}

void kill_child(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::string fresh_dir(const std::string& name) {
  std::string d = ::testing::TempDir() + "file_lock_test_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

TEST(RunLock, AWriterIsRefusedWhileATrainerHoldsItNamingPidAndHost) {
  std::string dir = fresh_dir("trainer");
  pid_t trainer = hold_in_child(dir, "");
  ASSERT_GT(trainer, 0);
  LockHolder h = lock_holder_of(run_lock_path(dir));
  EXPECT_TRUE(h.held);
  EXPECT_EQ(h.pid, trainer);
  EXPECT_EQ(h.host, hostname());
  EXPECT_EQ(h.role, "");
  try {
    take_run_lock(dir, "gpas eval", "evaluate it");
    ADD_FAILURE() << "the run lock was taken beside a live trainer";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 1);
    EXPECT_EQ(std::string(e.what()), dir + ": the run is being trained by pid " + std::to_string(trainer) +
                                         " on host " + hostname() +
                                         "; evaluate it when it has ended, or stop it (kill -TERM " +
                                         std::to_string(trainer) + ")");
  }
  kill_child(trainer);  // the kernel drops the lock: no stale lock after SIGKILL
  auto lock = take_run_lock(dir, "gpas eval", "evaluate it");
  ASSERT_TRUE(lock);
  LockHolder me = lock_holder_of(run_lock_path(dir));
  EXPECT_TRUE(me.held);
  EXPECT_EQ(me.pid, ::getpid());
  EXPECT_EQ(me.role, "gpas eval");
  lock.reset();
  EXPECT_FALSE(lock_holder_of(run_lock_path(dir)).held);
}

TEST(RunLock, ATrainerSeesWhichWriterHoldsIt) {
  std::string dir = fresh_dir("eval");
  pid_t eval = hold_in_child(dir, "gpas eval");
  ASSERT_GT(eval, 0);
  EXPECT_EQ(FileLock::try_take(run_lock_path(dir)), nullptr);  // the trainer's own try
  LockHolder h = lock_holder_of(run_lock_path(dir));
  EXPECT_EQ(holder_action(h), "written by gpas eval, pid " + std::to_string(eval) + " on host " + hostname());
  kill_child(eval);
  EXPECT_NE(FileLock::try_take(run_lock_path(dir)), nullptr);
}

}  // namespace
}  // namespace gpas
