// fork + execvp with three pipes and a poll loop, so a child that writes a lot to stderr while we
// still feed its stdin cannot deadlock us; SIGKILL at the time limit.
#include "results/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/common/error.h"

namespace gpas::results {

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          int timeout_s) {
  if (argv.empty()) throw Error("run_process: empty argument vector");
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
    throw Error("run_process: pipe failed: " + std::string(std::strerror(errno)));
  pid_t pid = ::fork();
  if (pid < 0) throw Error("run_process: fork failed: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::string msg = argv[0] + ": cannot run: " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill us
  ProcessResult r;
  size_t written = 0;
  int fd_in = in[1];
  if (input.empty()) {
    ::close(fd_in);
    fd_in = -1;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (err_open) fds[n++] = {err[0], POLLIN, 0};
    if (fd_in >= 0) fds[n++] = {fd_in, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, n, static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == fd_in) {
        ssize_t w = ::write(fd_in, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == input.size()) {
          ::close(fd_in);
          fd_in = -1;
        }
        continue;
      }
      ssize_t k = ::read(fds[i].fd, buf, sizeof(buf));
      if (k > 0) {
        (fds[i].fd == out[0] ? r.out : r.err).append(buf, static_cast<size_t>(k));
      } else if (k == 0 || errno != EINTR) {
        (fds[i].fd == out[0] ? out_open : err_open) = false;
      }
    }
  }
  if (fd_in >= 0) ::close(fd_in);
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) && !r.timed_out ? WEXITSTATUS(status) : -1;
  return r;
}

std::string find_program(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  std::vector<std::string> all;
  while (std::getline(dirs, dir, ':')) all.push_back(dir.empty() ? "." : dir);
  for (const auto& n : names)
    for (const auto& d : all) {
      std::string p = d + "/" + n;
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
  return "";
}

}  // namespace gpas::results
