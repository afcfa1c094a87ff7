// SlurmBackend: sbatch arrays with per-task argument files (NUL-separated, read by `mapfile -d ''`,
// so no value ever passes through a shell parser), squeue/scontrol polling, scancel.
#include "sweeps/slurm_backend.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/fs.h"

namespace gpas::sweeps {

namespace fs = std::filesystem;

std::string SlurmBackend::batch_script() {
  return R"SH(#!/bin/bash
# Written by gpas sweep: one task of a job array runs one job. $1 = the task directory holding
# <task id>.argv (the worker's arguments, NUL-separated). USR1 (pre-timeout, --signal=B:USR1@T) is
# forwarded to the worker, which checkpoints and exits 130; then the task requeues itself and resumes.
# TERM (gpas sweep cancel) is forwarded without a requeue.
set -u
task_dir=$1
mapfile -d '' -t args < "$task_dir/$SLURM_ARRAY_TASK_ID.argv"
requeue=0
child=
forward() { requeue=$1; if [ -n "$child" ]; then kill -s "$2" "$child" 2>/dev/null; fi; }
trap 'forward 1 USR1' USR1
trap 'forward 0 TERM' TERM INT
echo "gpas: task $SLURM_ARRAY_JOB_ID[$SLURM_ARRAY_TASK_ID] on $(hostname), restart ${SLURM_RESTART_COUNT:-0}"
exits=
if [ "${SLURM_NTASKS:-1}" -gt 1 ]; then
  # Rank 0's host (the allocation's first) serves the rendezvous; ranks on every node connect.
  # Its address is Slurm's NodeAddr for it (the node name where none is set).
  first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
  MASTER_ADDR=$(scontrol show node -o "$first" 2>/dev/null | sed -n 's/.* NodeAddr=\([^ ]*\).*/\1/p')
  export MASTER_ADDR=${MASTER_ADDR:-$first}
  export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))
  # Each rank writes its exit status (its wrapper keeps signals for the worker: a trap, not an
  # ignore, so the worker still receives USR1/TERM).
  exits="$task_dir/exits.$SLURM_JOB_ID.${SLURM_RESTART_COUNT:-0}"
  mkdir -p "$exits"
  export GPAS_RANK_EXITS=$exits
  srun --kill-on-bad-exit=1 bash -c \
    'export RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS LOCAL_RANK=$SLURM_LOCALID
     trap : USR1 TERM INT
     "$@"; code=$?
     echo "$code ${SLURMD_NODENAME:-$(hostname)}" > "$GPAS_RANK_EXITS/rank.$SLURM_PROCID"
     exit $code' rank "${args[@]}" &
else
  "${args[@]}" &
fi
child=$!
code=0
while :; do
  wait "$child"
  code=$?
  kill -0 "$child" 2>/dev/null || break  # wait returned for a trapped signal: keep waiting
done
if [ -n "$exits" ]; then  # every rank's exit; a rank with none died without a word (killed)
  summary=
  for ((r = 0; r < SLURM_NTASKS; r++)); do
    if [ -f "$exits/rank.$r" ]; then
      read -r rc host < "$exits/rank.$r"
      summary+=" $r:$rc@$host"
      if [ "$code" = 0 ] && [ "$rc" != 0 ]; then code=$rc; fi
    else
      summary+=" $r:lost"
      if [ "$code" = 0 ]; then code=1; fi
    fi
  done
  echo "gpas: rank exits (rank:code@host):$summary"
fi
if [ "$requeue" = 1 ] && [ "$code" = 130 ]; then
  echo "gpas: checkpointed before the time limit; requeueing"
  scontrol requeue "$SLURM_JOB_ID"
  exit 0
fi
exit "$code"
)SH";
}

SlurmBackend::SlurmBackend(CommandRunner& runner, SlurmOptions o) : run_(runner), o_(std::move(o)) {}

std::vector<std::string> SlurmBackend::sbatch_argv(int n, int k, const std::string& task_dir,
                                                   const std::string& script) const {
  std::string array = "--array=0-" + std::to_string(n - 1);
  if (o_.throttle > 0) array += "%" + std::to_string(o_.throttle);
  std::vector<std::string> a = {"sbatch", "--parsable", array, "--job-name=gpas-sweep", "--requeue",
                                "--open-mode=append", "--signal=B:USR1@" + std::to_string(o_.signal_lead),
                                "--output=" + task_dir + "/%A_%a.log", "--chdir=" + fs::current_path().string()};
  const int per_node = o_.gpus_per_node;
  if (per_node > 0 && k > per_node) {
    // Several nodes, full ones: ranks = nodes x GPUs per node, one rank per GPU (on the CPU:
    // per_node ranks on each node).
    if (k % per_node != 0)
      throw Error("a job of " + std::to_string(k) + " ranks does not fill nodes of " +
                      std::to_string(per_node) + " GPUs (--gpus-per-node); use a multiple of " +
                      std::to_string(per_node) + " GPUs per job",
                  kExitUsage);
    a.push_back("--nodes=" + std::to_string(k / per_node));
    a.push_back("--ntasks-per-node=" + std::to_string(per_node));
    if (!o_.cpu) a.push_back("--gpus-per-node=" + std::to_string(per_node));
  } else {
    a.push_back("--nodes=1");  // the ranks of a job fit one node
    if (!o_.cpu) a.push_back("--gres=gpu:" + std::to_string(k));
    if (k > 1) a.push_back("--ntasks=" + std::to_string(k));
  }
  if (o_.cpus_per_task > 0) a.push_back("--cpus-per-task=" + std::to_string(o_.cpus_per_task));
  if (!o_.partition.empty()) a.push_back("--partition=" + o_.partition);
  if (!o_.time.empty()) a.push_back("--time=" + o_.time);
  if (!o_.account.empty()) a.push_back("--account=" + o_.account);
  a.push_back(script);
  a.push_back(task_dir);
  return a;
}

std::vector<std::string> SlurmBackend::submit(const std::vector<Launch>& launches) {
  if (launches.empty()) return {};
  // One array per rank count (an array shares one resource request).
  std::map<int, std::vector<size_t>> by_ranks;
  for (size_t i = 0; i < launches.size(); ++i) by_ranks[launches[i].ranks].push_back(i);
  std::vector<std::string> handles(launches.size());
  for (const auto& [k, idx] : by_ranks) {
    std::string task_dir = (fs::path(o_.state_dir) / ("array-" + std::to_string(static_cast<long>(now_seconds())) +
                                                       "-" + std::to_string(arrays_++)))
                               .string();
    make_dirs(task_dir);
    task_dir = fs::absolute(task_dir).string();
    std::string script = task_dir + "/batch.sh";
    write_file_atomic(script, batch_script());
    for (size_t t = 0; t < idx.size(); ++t) {
      std::string argv;
      for (const auto& a : launches[idx[t]].argv) argv += a + std::string(1, '\0');
      write_file_atomic(task_dir + "/" + std::to_string(t) + ".argv", argv);
    }
    CommandResult r = run_.run(sbatch_argv(static_cast<int>(idx.size()), k, task_dir, script));
    std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
    if (r.code != 0 || id.empty())
      throw Error("sbatch failed (exit " + std::to_string(r.code) + "): " + r.err + r.out);
    for (size_t t = 0; t < idx.size(); ++t) handles[idx[t]] = id + "_" + std::to_string(t);
    // Remember the array and its jobs: for `gpas sweep cancel` when no orchestrator is alive, and
    // for a rerun to adopt its live tasks rather than submit the jobs twice.
    if (!o_.record.empty()) {
      nlohmann::json rec = nlohmann::json::array();
      if (path_exists(o_.record)) try {
          rec = nlohmann::json::parse(read_file(o_.record));
        } catch (const std::exception&) {
        }
      nlohmann::json jobs = nlohmann::json::array();
      for (size_t i : idx) jobs.push_back(launches[i].job_id);
      rec.push_back({{"array", id}, {"jobs", jobs}});
      write_file_atomic(o_.record, rec.dump() + "\n");
    }
  }
  return handles;
}

namespace {
bool is_queued(const std::string& state) {
  static const std::vector<std::string> kQueued = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD",
                                                   "REQUEUE_FED", "SUSPENDED", "RESV_DEL_HOLD", "STOPPED"};
  return std::find(kQueued.begin(), kQueued.end(), state) != kQueued.end();
}
bool is_running(const std::string& state) {
  return state == "RUNNING" || state == "COMPLETING" || state == "SIGNALING" || state == "STAGE_OUT";
}
}  // namespace

std::string scontrol_field(const std::string& text, const std::string& key) {
  size_t p = 0;
  while ((p = text.find(key + "=", p)) != std::string::npos) {
    if (p == 0 || text[p - 1] == ' ' || text[p - 1] == '\n') {
      size_t b = p + key.size() + 1;
      return text.substr(b, text.find_first_of(" \n", b) - b);
    }
    p += key.size();
  }
  return "";
}

void SlurmBackend::refresh(const std::string& array) {
  double t = now_seconds();
  if (refreshed_.count(array) && t - refreshed_[array] < 1.0) return;
  refreshed_[array] = t;
  CommandResult r = run_.run({"squeue", "-h", "-r", "-t", "all", "-j", array, "-o", "%i %T"});
  if (r.code != 0) return;  // keep the last known states; Slurm may be busy
  auto& m = states_[array];
  m.clear();
  std::istringstream in(r.out);
  std::string id, state;
  while (in >> id >> state) m[id] = state;
}

PollResult SlurmBackend::poll(const std::string& handle) {
  std::string array = handle.substr(0, handle.find('_'));
  refresh(array);
  std::string state;
  auto it = states_[array].find(handle);
  if (it != states_[array].end()) state = it->second;
  if (is_queued(state)) return {Phase::Queued, 0, state};
  if (is_running(state)) return {Phase::Running, 0, state};
  // Finished (or no longer listed): the exit code from scontrol while Slurm still remembers.
  CommandResult r = run_.run({"scontrol", "show", "job", "-o", handle});
  if (r.code == 0) {
    std::string js = scontrol_field(r.out, "JobState");
    if (state.empty() && !js.empty()) {
      if (is_queued(js)) return {Phase::Queued, 0, js};
      if (js == "RUNNING" || js == "COMPLETING") return {Phase::Running, 0, js};
    }
    std::string ec = scontrol_field(r.out, "ExitCode");
    int code = -1;
    if (!ec.empty()) {
      int a = std::atoi(ec.c_str());
      int sig = ec.find(':') != std::string::npos ? std::atoi(ec.c_str() + ec.find(':') + 1) : 0;
      code = sig > 0 ? 128 + sig : a;
    }
    return {Phase::Exited, code, "slurm " + (js.empty() ? state : js) + ", " + describe_exit(code)};
  }
  return {Phase::Exited, -1, "slurm no longer knows " + handle};
}

void SlurmBackend::cancel(const std::string& handle, bool force) {
  if (force) {
    run_.run({"scancel", "--signal=KILL", "--full", handle});
    run_.run({"scancel", handle});
  } else {
    // A signal does not remove a queued task: cancel it if still pending, then TERM it if it
    // started meanwhile (in this order no task slips between the two).
    run_.run({"scancel", "--state=PENDING", handle});
    run_.run({"scancel", "--signal=TERM", "--full", handle});
  }
  refreshed_.erase(handle.substr(0, handle.find('_')));
}

std::vector<std::pair<std::string, std::string>> SlurmBackend::adopt() {
  if (o_.record.empty()) return {};
  std::map<std::string, std::vector<std::string>> arrays;
  for (const auto& a : read_slurm_record(o_.record)) arrays[a.id] = a.jobs;
  if (arrays.empty()) return {};
  // By job name rather than -j: `squeue -j ID` fails on one id that Slurm has already forgotten.
  CommandResult r = run_.run({"squeue", "-h", "-r", "-n", "gpas-sweep", "-o", "%i %T"});
  if (r.code != 0)
    throw Error("squeue failed (exit " + std::to_string(r.code) + "): " + r.err + r.out +
                "; cannot tell which tasks of an earlier `gpas sweep run` are still queued, so nothing was "
                "submitted (" + o_.record + " lists them)");
  std::vector<std::pair<std::string, std::string>> live;
  std::istringstream in(r.out);
  std::string handle, state;
  while (in >> handle >> state) {
    size_t us = handle.find('_');
    if (us == std::string::npos || !(is_queued(state) || is_running(state))) continue;
    auto it = arrays.find(handle.substr(0, us));
    if (it == arrays.end()) continue;  // another sweep's
    size_t task = std::strtoul(handle.c_str() + us + 1, nullptr, 10);
    live.emplace_back(task < it->second.size() ? it->second[task] : "", handle);
  }
  return live;
}

std::string slurm_record_path(const std::string& workdir, const std::string& sweep) {
  return (fs::path(workdir.empty() ? "." : workdir) / "sweeps" / (sweep + ".slurm.json")).string();
}

std::vector<SlurmArray> read_slurm_record(const std::string& path) {
  std::vector<SlurmArray> out;
  if (!path_exists(path)) return out;
  try {
    for (const auto& e : nlohmann::json::parse(read_file(path))) {
      if (e.is_string()) {  // the first format: array ids only
        out.push_back({e.get<std::string>(), {}});
        continue;
      }
      SlurmArray a{e.at("array").get<std::string>(), {}};
      for (const auto& j : e.value("jobs", nlohmann::json::array())) a.jobs.push_back(j.get<std::string>());
      out.push_back(a);
    }
  } catch (const std::exception& e) {
    throw Error(path + ": " + e.what() + " (the record of this sweep's Slurm arrays)");
  }
  return out;
}

int cancel_recorded_slurm_jobs(const std::string& workdir, const std::string& sweep) {
  auto arrays = read_slurm_record(slurm_record_path(workdir, sweep));
  if (arrays.empty()) return 0;
  auto runner = make_process_runner();
  SlurmBackend slurm(*runner, {});
  for (const auto& a : arrays) slurm.cancel(a.id, false);  // queued tasks go, running ones checkpoint
  return static_cast<int>(arrays.size());
}

}  // namespace gpas::sweeps
