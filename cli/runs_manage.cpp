// `gpas runs delete RUN...` (store rows, journal and files together; refuses a live run),
// `gpas runs tag RUN TAG[=VALUE]... [--remove]` and `gpas runs note RUN TEXT`; with --sweep the
// target is a sweep instead of a run. Leaves out deleting whole sweeps (delete their runs).
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/common/file_lock.h"
#include "core/common/fs.h"
#include "results/run_admin.h"
#include "results/store.h"

namespace gpas::cli {

namespace {

struct ManageOptions {
  std::string workdir = ".";
  std::vector<std::string> runs;
  std::string target;
  std::vector<std::string> tags;
  std::string note;
  bool sweep = false, remove = false, dry_run = false, keep_files = false, json = false;
};

results::RunRow find_or_throw(const results::Store& store, const std::string& ref) {
  auto r = store.find_run(ref);
  if (!r) throw Error("no run '" + ref + "' in " + store.path() + " (see `gpas runs list`)");
  return *r;
}

// A run directory gpas made: it holds its journal or resolved config, nothing is removed else.
bool looks_like_run_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  return !dir.empty() && fs::is_directory(dir) &&
         (fs::exists(fs::path(dir) / "journal.jsonl") || fs::exists(fs::path(dir) / "config.yaml"));
}

void run_delete(const ManageOptions& o) {
  auto store = open_store(o.workdir, false);
  store->sync_workdir(o.workdir);  // the runs as their journals say now
  std::vector<results::RunRow> runs;
  for (const auto& ref : o.runs) runs.push_back(find_or_throw(*store, ref));
  for (const auto& r : runs)  // all refused before any is deleted
    if (r.status == "running")
      throw Error("run " + r.id + (r.name.empty() ? "" : " (" + r.name + ")") + " is running (" + r.host +
                  ", pid " + std::to_string(r.pid) + "); stop it first (`gpas sweep cancel`, or Ctrl-C "
                  "its `gpas train`), then delete it");
  // One writer per run: the files go while this holds each run's lock, so a trainer that started
  // since the store last looked stops the delete, and one that starts during it is refused.
  std::vector<std::unique_ptr<FileLock>> locks;
  if (!o.dry_run)
    for (const auto& r : runs)
      if (looks_like_run_dir(r.run_dir)) locks.push_back(take_run_lock(r.run_dir, "gpas runs delete", "delete it"));
  nlohmann::ordered_json done = nlohmann::ordered_json::array();
  // --keep-files moves a run directory out of runs/ (every view indexes what is in runs/): kept,
  // and back in every view once moved back.
  const std::filesystem::path kept = std::filesystem::path(o.workdir) / "deleted-runs";
  for (const auto& r : runs) {
    bool files = looks_like_run_dir(r.run_dir);
    std::string moved = files && o.keep_files ? (kept / r.id).string() : "";
    done.push_back({{"id", r.id}, {"name", r.name}, {"status", r.status}, {"run_dir", files ? r.run_dir : ""},
                    {"kept_in", moved}, {"deleted", !o.dry_run}});
    if (!o.json)
      std::cout << (o.dry_run ? "would delete " : "deleted ") << r.id << (r.name.empty() ? "" : " " + r.name) << " ("
                << r.status << ")"
                << (!files ? ": store rows" : o.keep_files ? ": store rows; " + r.run_dir + " moved to " + moved
                                                           : ": store rows and " + r.run_dir)
                << "\n";
    if (o.dry_run) continue;
    if (files && o.keep_files) {
      if (std::filesystem::exists(moved))
        throw Error(moved + " exists already (a run deleted before with --keep-files); move or remove it, then "
                            "run this again");
      make_dirs(kept.string());
      std::filesystem::rename(r.run_dir, moved);
    }
    results::delete_run_rows(*store, r.id);
    if (files && !o.keep_files) std::filesystem::remove_all(r.run_dir);
  }
  if (o.json) std::cout << done.dump(2) << "\n";
}

// TAG or KEY=VALUE
std::pair<std::string, std::string> split_tag(const std::string& t) {
  auto eq = t.find('=');
  std::string k = t.substr(0, eq), v = eq == std::string::npos ? "" : t.substr(eq + 1);
  if (k.empty() || k == "note")
    throw Error("tag '" + t + "': give a name (and =value); notes go through `gpas runs note`", kExitUsage);
  return {k, v};
}

std::string resolve_target(const results::Store& store, const ManageOptions& o) {
  if (!o.sweep) return find_or_throw(store, o.target).id;
  auto sweeps = store.sweeps();
  if (std::find(sweeps.begin(), sweeps.end(), o.target) == sweeps.end()) {
    std::string hint = suggest(o.target, sweeps);
    throw Error("no sweep '" + o.target + "' in " + store.path() + hint);
  }
  return o.target;
}

void run_tag(const ManageOptions& o) {
  auto store = open_store(o.workdir, false);
  store->sync_workdir(o.workdir);  // the runs as their journals say now
  std::string kind = o.sweep ? "sweep" : "run", id = resolve_target(*store, o);
  for (const auto& t : o.tags) {
    auto [k, v] = split_tag(t);
    if (o.remove) {
      if (!results::remove_tag(*store, kind, id, k))
        std::cerr << "gpas: warning: " << kind << " " << id << " has no tag '" << k << "'\n";
    } else {
      results::set_tag(*store, {kind, id, k, v});
    }
  }
  auto now = results::tags_of(*store, kind, id);
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& t : now) j[t.key] = t.value;
    std::cout << nlohmann::ordered_json{{"kind", kind}, {"target", id}, {"tags", j}}.dump() << "\n";
  } else {
    std::cout << kind << " " << id << ": " << (now.empty() ? "no tags" : results::tags_text(now)) << "\n";
  }
}

void run_note(const ManageOptions& o) {
  auto store = open_store(o.workdir, false);
  store->sync_workdir(o.workdir);  // the runs as their journals say now
  std::string kind = o.sweep ? "sweep" : "run", id = resolve_target(*store, o);
  if (o.note.empty()) results::remove_tag(*store, kind, id, "note");
  else results::set_tag(*store, {kind, id, "note", o.note});
  std::cout << kind << " " << id << ": " << (o.note.empty() ? "note removed" : "note set") << "\n";
}

}  // namespace

void setup_runs_manage(CLI::App& runs) {
  auto d = std::make_shared<ManageOptions>();
  auto* del = runs.add_subcommand("delete", "Delete runs: their store rows and run directories "
                                            "(journal, checkpoints); refuses a running run");
  del->add_option("run", d->runs, "run ids, unique id prefixes or names")->required();
  del->add_flag("--dry-run", d->dry_run, "say what would be deleted, delete nothing");
  del->add_flag("--keep-files", d->keep_files, "keep the run directory: move it to <workdir>/deleted-runs/ (out of every view; moving it back into runs/ restores the run)");
  add_json(del, d->json, "what was (or with --dry-run would be) deleted, as JSON");
  add_workdir(del, d->workdir);
  del->callback([d] { run_delete(*d); });

  auto t = std::make_shared<ManageOptions>();
  auto* tag = runs.add_subcommand("tag", "Tag a run (or with --sweep a sweep): TAG or KEY=VALUE; "
                                         "`gpas runs list --tag TAG` finds them");
  tag->add_option("target", t->target, "run id, prefix or name (a sweep name with --sweep)")->required();
  tag->add_option("tags", t->tags, "tags to set (or remove)")->required();
  tag->add_flag("--sweep", t->sweep, "the target is a sweep");
  tag->add_flag("--remove", t->remove, "remove these tags instead");
  add_json(tag, t->json, "the target's tags as JSON");
  add_workdir(tag, t->workdir);
  tag->callback([t] { run_tag(*t); });

  auto n = std::make_shared<ManageOptions>();
  auto* note = runs.add_subcommand("note", "Attach a note to a run (or with --sweep a sweep); "
                                           "\"\" removes it; `gpas runs show` prints it");
  note->add_option("target", n->target, "run id, prefix or name (a sweep name with --sweep)")->required();
  note->add_option("text", n->note, "the note")->required();
  note->add_flag("--sweep", n->sweep, "the target is a sweep");
  add_workdir(note, n->workdir);
  note->callback([n] { run_note(*n); });
}

}  // namespace gpas::cli
