// The real CommandRunner: fork + execvp with stdout and stderr read through pipes (poll()).
#include "sweeps/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gpas::sweeps {

namespace {

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

class ProcessRunner : public CommandRunner {
 public:
  explicit ProcessRunner(double timeout_s) : timeout_s_(timeout_s) {}
  CommandResult run(const std::vector<std::string>& args) override {
    CommandResult r;
    int out[2], err[2];
    if (args.empty() || ::pipe2(out, O_CLOEXEC) != 0) return r;
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return r;
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);  // its own group: a timeout kills whatever it started too
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) {
      ::close(out[0]);
      ::close(err[0]);
      return r;
    }
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    std::string* bufs[2] = {&r.out, &r.err};
    int open_fds = 2;
    char buf[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
    bool timed_out = false;
    while (open_fds > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (timeout_s_ > 0 && left.count() <= 0) {
        timed_out = true;
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        for (auto& f : fds)
          if (f.fd >= 0) ::close(f.fd), f.fd = -1;
        break;
      }
      int wait_ms = timeout_s_ > 0 ? static_cast<int>(std::min<int64_t>(left.count(), 1000)) : -1;
      if (::poll(fds, 2, wait_ms) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          bufs[i]->append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (timed_out) {
      r.code = 124;
      r.err += (r.err.empty() || r.err.back() == '\n' ? "" : "\n") + args[0] + ": no answer after " +
               fmt_seconds(timeout_s_) + " s, killed";
    }
    return r;
  }

 private:
  double timeout_s_;
};

}  // namespace

std::unique_ptr<CommandRunner> make_process_runner(double timeout_s) {
  return std::make_unique<ProcessRunner>(timeout_s);
}

}  // namespace gpas::sweeps
