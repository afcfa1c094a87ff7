// Reading sweep files (format: experiments/README.md) into a Sweep of resolved jobs. Every error
// names the sweep file and line. Running jobs and their states live elsewhere (scheduler.h,
// run_state.h).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "sweeps/job.h"

namespace gpas::sweeps {

// Reads and expands a sweep file. workdir: where runs live (a `@run(...)` reference becomes
// <workdir>/runs/<id>). sets: `key=value` overrides applied to every job, after everything else.
Sweep load_sweep(const std::string& path, const std::string& workdir,
                 const std::vector<std::string>& sets = {});
// load_sweep's jobs passed to emit one at a time, as they are made (expand_each), each with the
// sweep (name, options; its jobs empty), which is also returned. For a plan of a grid too large to
// hold (10^6 cells).
Sweep load_sweep_each(const std::string& path, const std::string& workdir, const std::vector<std::string>& sets,
                      const std::function<void(const Sweep&, Job&&)>& emit);
// The sweep's name (its `sweep:` key, else the file's stem) without expanding it.
std::string sweep_name_of(const std::string& path);
// Why a sweep name cannot be used ("" if it can): empty, "." or "..", '/', spaces, control
// characters or invalid UTF-8 (it names the sweep's lock and record files).
std::string sweep_name_problem(const std::string& name);
// The same from YAML text; `label` names it in errors, relative `extends:` paths use base_dir.
Sweep load_sweep_text(const std::string& yaml, const std::string& label, const std::string& base_dir,
                      const std::string& workdir, const std::vector<std::string>& sets = {});

}  // namespace gpas::sweeps
