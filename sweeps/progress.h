// How a running sweep looks to a person: one summary line (done/running/pending, elapsed, ETA)
// and a line per job that is running, waiting or has news. Redrawing a terminal is the CLI's job.
#pragma once
#include <string>

#include "sweeps/scheduler.h"

namespace gpas::sweeps {

std::string format_duration(double seconds);  // "42s", "3m05s", "2h10m", "?" for < 0
std::string summary_line(const Progress& p);
// Summary plus job lines; `all`: every job, otherwise only running / noteworthy ones.
std::string render_progress(const Progress& p, bool all);

}  // namespace gpas::sweeps
