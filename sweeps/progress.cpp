// Progress text for `gpas sweep run`.
#include "sweeps/progress.h"

#include <cmath>
#include <cstdio>

namespace gpas::sweeps {

std::string format_duration(double s) {
  if (s < 0 || !std::isfinite(s)) return "?";
  char b[32];
  long t = static_cast<long>(s + 0.5);
  if (t < 60) std::snprintf(b, sizeof b, "%lds", t);
  else if (t < 3600) std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  return b;
}

std::string summary_line(const Progress& p) {
  char b[256];
  std::snprintf(b, sizeof b, "[%d/%zu done] %d running, %d pending%s | elapsed %s | ETA %s%s%s", p.done,
                p.jobs.size(), p.running, p.pending,
                p.failed ? (", " + std::to_string(p.failed) + " failed").c_str() : "",
                format_duration(p.elapsed).c_str(), format_duration(p.eta).c_str(),
                p.eta_planned ? " (planned)" : "",
                p.stopping ? " | stopping: workers checkpoint" : "");
  return b;
}

std::string render_progress(const Progress& p, bool all) {
  std::string out = summary_line(p) + "\n";
  for (const auto& j : p.jobs) {
    bool show = all || j.state == State::Running || !j.note.empty();
    if (!show) continue;
    std::string step = j.step >= 0 ? std::to_string(j.step) + "/" + std::to_string(j.job->cfg.train.steps) : "";
    char b[512];
    std::snprintf(b, sizeof b, "  %-10s %-12s %-12s %-8s %s%s\n", to_string(j.state).c_str(), j.job->id.c_str(),
                  step.c_str(), j.devices.c_str(), j.job->name.c_str(),
                  j.note.empty() ? "" : ("  (" + j.note + ")").c_str());
    out += b;
  }
  return out;
}

}  // namespace gpas::sweeps
