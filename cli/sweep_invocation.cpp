// Recording and reusing a sweep's `sweep run` options (see sweep_invocation.h).
#include "cli/sweep_invocation.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/fs.h"

namespace gpas::cli {

namespace {

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string invocation_path(const std::string& workdir, const std::string& sweep) {
  return (std::filesystem::path(workdir.empty() ? "." : workdir) / "sweeps" / (sweep + ".run.json")).string();
}

void save_invocation(const std::string& sweep, const SweepRunArgs& a) {
  nlohmann::json j = {{"sets", a.sets},
                      {"device", {{"cpu", a.cpu}, {"gpus", a.gpus}, {"gpus_per_job", a.gpus_per_job}}},
                      {"backend", {{"backend", a.backend}, {"partition", a.partition}, {"time", a.time},
                                   {"account", a.account}, {"signal_lead", a.signal_lead},
                                   {"cpus_per_task", a.cpus_per_task}, {"gpus_per_node", a.gpus_per_node},
                                   {"max_parallel", a.max_parallel}}},
                      {"max_retries", a.max_retries},
                      {"heartbeat_timeout", a.heartbeat_timeout}};
  write_file_atomic(invocation_path(a.workdir, sweep), j.dump(2) + "\n");
}

bool apply_invocation(const std::string& sweep, SweepRunArgs& a,
                      const std::function<bool(const char*)>& given) {
  std::string path = invocation_path(a.workdir, sweep);
  if (!path_exists(path)) return false;
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (!j.is_object()) throw Error(path + ": not a sweep invocation record (JSON); delete it and give the options again");
  try {
    if (!given("--set")) a.sets = j.value("sets", a.sets);
    const auto& d = j.value("device", nlohmann::json::object());
    if (!given("--cpu") && !given("--gpus") && !given("--gpus-per-job")) {
      a.cpu = d.value("cpu", a.cpu);
      a.gpus = d.value("gpus", a.gpus);
      a.gpus_per_job = d.value("gpus_per_job", a.gpus_per_job);
    }
    const auto& b = j.value("backend", nlohmann::json::object());
    bool backend_given = false;
    for (const char* o : {"--backend", "--partition", "--time", "--account", "--signal-lead", "--cpus-per-task",
                          "--gpus-per-node", "--max-parallel"})
      backend_given |= given(o);
    if (!backend_given) {
      a.backend = b.value("backend", a.backend);
      a.partition = b.value("partition", a.partition);
      a.time = b.value("time", a.time);
      a.account = b.value("account", a.account);
      a.signal_lead = b.value("signal_lead", a.signal_lead);
      a.cpus_per_task = b.value("cpus_per_task", a.cpus_per_task);
      a.gpus_per_node = b.value("gpus_per_node", a.gpus_per_node);
      a.max_parallel = b.value("max_parallel", a.max_parallel);
    }
    if (!given("--max-retries")) a.max_retries = j.value("max_retries", a.max_retries);
    if (!given("--heartbeat-timeout")) a.heartbeat_timeout = j.value("heartbeat_timeout", a.heartbeat_timeout);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": a value has the wrong type (" + e.what() + "); delete the file and give the options again");
  }
  return true;
}

std::string sweep_command(const std::string& verb, const std::string& file, const std::string& workdir) {
  std::string cmd = "gpas sweep " + verb + " " + shell_quote(file);
  if (!workdir.empty() && workdir != ".") cmd += " --workdir " + shell_quote(workdir);
  return cmd;
}

}  // namespace gpas::cli
