// `gpas export-runs --tensorboard DIR [-w W] [RUN...]`: TensorBoard event files for runs made
// before runs wrote their own (<run_dir>/tb/, journal.h), from their journals: DIR/<run id>/ gets
// one event file per attempt (a start line begins a new one, as a resumed run's live writer does),
// every metric line a scalar, each start line's config the hparams. A run's old event files in
// DIR/<run id>/ are replaced, so exporting again gives the same files. Leaves out layer lines.
#include <filesystem>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/journal.h"
#include "core/common/tfevents.h"
#include "results/store.h"

namespace gpas::cli {

namespace {

namespace fs = std::filesystem;

struct ExportRunsOptions {
  std::string tensorboard;
  std::string workdir = ".";
  std::vector<std::string> runs;
  bool json = false;
};

struct Exported {
  std::string run_id, run_dir, out;
  int64_t scalars = 0, files = 0;
};

// RUN as a run directory (a path holding journal.jsonl) or a run id, id prefix or name in the store.
std::vector<std::string> run_dirs(const ExportRunsOptions& o) {
  std::vector<std::string> dirs, refs;
  for (const auto& r : o.runs) {
    if (fs::is_directory(r) && fs::exists(fs::path(r) / "journal.jsonl")) dirs.push_back(r);
    else refs.push_back(r);
  }
  if (!o.runs.empty() && refs.empty()) return dirs;
  auto store = open_store(o.workdir, false);
  store->sync_workdir(o.workdir);
  if (o.runs.empty())
    for (const auto& r : store->list_runs()) dirs.push_back(r.run_dir);
  for (const auto& ref : refs) {
    auto r = store->find_run(ref);
    if (!r)
      throw Error(ref + ": neither a run directory (with a journal.jsonl) nor a run in " + store->path() +
                  " (see `gpas runs list`)");
    dirs.push_back(r->run_dir);
  }
  if (dirs.empty()) throw Error("no runs in " + store->path() + ": nothing to export");
  return dirs;
}

Exported export_run(const std::string& run_dir, const std::string& root) {
  Exported e;
  e.run_dir = run_dir;
  const auto lines = read_journal((fs::path(run_dir) / "journal.jsonl").string());
  e.run_id = fs::path(run_dir + "/.").lexically_normal().parent_path().filename().string();
  for (const auto& j : lines)
    if (j.value("type", "") == "start" && j.contains("run_id")) {
      e.run_id = j["run_id"].get<std::string>();
      break;
    }
  if (e.run_id.empty() || e.run_id == "." || e.run_id == "..")
    throw Error(run_dir + ": cannot tell its run id (no start line in its journal)");
  e.out = (fs::path(root) / e.run_id).string();
  // Replace what an earlier export wrote (event files only: anything else there is not ours).
  if (fs::is_directory(e.out))
    for (const auto& f : fs::directory_iterator(e.out))
      if (f.path().filename().string().rfind("events.out.tfevents.", 0) == 0) fs::remove(f.path());
  std::unique_ptr<EventWriter> w;
  bool has_start = false;
  std::string host = hostname();
  for (const auto& j : lines) {
    const std::string type = j.value("type", "");
    if (type != "metric" && type != "start") continue;
    if (type == "start") host = j.value("host", host);
    if (!w || (type == "start" && has_start)) {  // the first file, or the next attempt's
      if (w) w->flush();
      const double t = j.contains("time") && j["time"].is_number() ? j["time"].get<double>() : 0.0;
      w = std::make_unique<EventWriter>(e.out, t, host);
      has_start = false;
      ++e.files;
    }
    has_start = has_start || type == "start";
    if (w->journal_line(j) && type == "metric") ++e.scalars;
  }
  if (w) w->flush();
  return e;
}

void run_export_runs(const ExportRunsOptions& o) {
  nlohmann::ordered_json done = nlohmann::ordered_json::array();
  for (const auto& dir : run_dirs(o)) {
    Exported e = export_run(dir, o.tensorboard);
    done.push_back({{"run_id", e.run_id}, {"run_dir", e.run_dir}, {"out", e.out},
                    {"scalars", e.scalars}, {"files", e.files}});
    if (!o.json)
      std::cout << e.run_id << ": " << e.scalars << " scalars in " << e.files << " event file"
                << (e.files == 1 ? "" : "s") << " -> " << e.out << "\n";
  }
  if (o.json) std::cout << done.dump(2) << "\n";
  else std::cout << "view them: tensorboard --logdir " << o.tensorboard << "\n";
}

}  // namespace

void setup_export_runs(CLI::App& app) {
  auto o = std::make_shared<ExportRunsOptions>();
  auto* cmd = app.add_subcommand(
      "export-runs", "Write TensorBoard event files for runs made before (from their journals; "
                     "new runs write <run_dir>/tb/ themselves)");
  cmd->add_option("--tensorboard", o->tensorboard,
                  "directory to write into: DIR/<run id>/events.out.tfevents.* (earlier exports there "
                  "are replaced)")
      ->required();
  cmd->add_option("runs", o->runs, "run directories, or run ids, id prefixes or names (default: every run "
                                   "in the workdir)");
  add_workdir(cmd, o->workdir);
  add_json(cmd, o->json);
  cmd->callback([o] { run_export_runs(*o); });
}

}  // namespace gpas::cli
