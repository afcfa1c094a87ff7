// Local worker processes: fork + exec (no shell), one process group per rank, PDEATHSIG.
#include "sweeps/local_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/common/error.h"
#include "core/common/fs.h"

namespace gpas::sweeps {

std::string describe_exit(int code) {
  if (code == -1) return "exit status unknown";
  if (code > 128 && code < 160 && code != 130) {
    int sig = code - 128;
    return "killed by signal " + std::to_string(sig) + " (" + std::string(strsignal(sig)) + ")";
  }
  return "exit " + std::to_string(code);
}

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 29500;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 29500;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

LocalBackend::~LocalBackend() {
  // Reap what is left so no zombie outlives us; the children got (or will get) SIGTERM.
  for (auto& [h, p] : procs_)
    for (pid_t pid : p.pids)
      if (pid > 0) ::waitpid(pid, nullptr, WNOHANG);
}

pid_t LocalBackend::spawn(const Launch& l, int rank, int port) {
  make_dirs(l.run_dir);
  std::string log = l.run_dir + (rank == 0 ? "/worker.log" : "/worker.rank" + std::to_string(rank) + ".log");
  std::vector<std::string> env;
  if (l.ranks > 1) {
    env = {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(l.ranks),
           "LOCAL_RANK=" + std::to_string(rank), "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port)};
  }
  if (cpu_ || l.gpus.empty()) {
    env.push_back("CUDA_VISIBLE_DEVICES=");
    if (cpu_threads_ > 0 && !std::getenv("GPAS_THREADS")) env.push_back("GPAS_THREADS=" + std::to_string(cpu_threads_));
  } else {
    std::string dev;
    for (int g : l.gpus) dev += (dev.empty() ? "" : ",") + std::to_string(g);
    env.push_back("CUDA_VISIBLE_DEVICES=" + dev);
  }
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : l.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(log + ": cannot open the worker log");
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw Error("fork failed: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);                      // Ctrl-C at the terminal reaches the orchestrator only
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);   // the orchestrator died: checkpoint and stop
    if (::getppid() != parent) ::_exit(130);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execvp(argv[0], argv.data());
    const char msg[] = "gpas sweep: cannot execute the worker\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(fd);
  ::setpgid(pid, pid);
  return pid;
}

std::vector<std::string> LocalBackend::submit(const std::vector<Launch>& launches) {
  std::vector<std::string> handles;
  for (const auto& l : launches) {
    Proc p;
    int port = l.ranks > 1 ? free_tcp_port() : 0;
    for (int r = 0; r < l.ranks; ++r) {
      p.pids.push_back(spawn(l, r, port));
      p.codes.push_back(0);
    }
    std::string h = "local-" + std::to_string(next_++);
    procs_[h] = p;
    handles.push_back(h);
  }
  return handles;
}

PollResult LocalBackend::poll(const std::string& handle) {
  auto it = procs_.find(handle);
  if (it == procs_.end()) return {Phase::Exited, -1, "unknown handle"};
  Proc& p = it->second;
  bool any_running = false;
  for (size_t r = 0; r < p.pids.size(); ++r) {
    if (p.pids[r] == 0) continue;
    int st = 0;
    pid_t w = ::waitpid(p.pids[r], &st, WNOHANG);
    if (w == 0) {
      any_running = true;
      continue;
    }
    p.codes[r] = w < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    p.pids[r] = 0;
  }
  if (any_running) {
    // A rank that ended badly leaves its peers waiting in a collective: stop them.
    bool bad = false;
    for (size_t r = 0; r < p.pids.size(); ++r) bad |= p.pids[r] == 0 && p.codes[r] != 0;
    if (bad && !p.peers_stopped) {
      cancel(handle, false);
      p.peers_stopped = true;
    }
    return {Phase::Running, 0, ""};
  }
  int code = 0;
  for (int c : p.codes)
    if (c != 0 && code == 0) code = c;
  if (p.codes[0] != 0) code = p.codes[0];
  procs_.erase(it);
  return {Phase::Exited, code, describe_exit(code)};
}

void LocalBackend::cancel(const std::string& handle, bool force) {
  auto it = procs_.find(handle);
  if (it == procs_.end()) return;
  for (pid_t pid : it->second.pids)
    if (pid > 0) ::kill(-pid, force ? SIGKILL : SIGTERM);  // its process group
}

}  // namespace gpas::sweeps
