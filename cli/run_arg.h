// The MODEL / RUN argument shared by eval, finetune and analyze: a path (run directory,
// checkpoint, export) as it is, or a run id, id prefix or name known to <workdir>/gpas.db; and
// the guard that refuses to append to the journal of a run that is still training.
#pragma once
#include <string>

namespace gpas::cli {

// A path that exists is returned unchanged; otherwise the store's run directory for that run.
std::string resolve_run_arg(const std::string& arg, const std::string& workdir);
// Throws gpas::Error when run_dir has a writer: its run lock is held (a trainer, an eval), or a
// trainer elsewhere has a journal fresher than 10 minutes. `what` names the action ("evaluate
// it"). A check before long work; the writes themselves hold the lock (take_run_lock, file_lock.h).
void refuse_live_run(const std::string& run_dir, const std::string& what);

}  // namespace gpas::cli
