// The progress bar: redrawn at most 10 times a second with '\r', finished with a newline.
#include "core/data/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/common/fs.h"

namespace gpas {

ProgressBar::ProgressBar(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && ::isatty(2)),
      start_(now_seconds()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(uint64_t done, const std::string& note) {
  if (!enabled_ || finished_) return;
  double now = now_seconds();
  if (now - last_ < 0.1 && done < total_) return;
  last_ = now;
  double frac = total_ > 0 ? std::min(1.0, double(done) / double(total_)) : 0.0;
  const int width = 30;
  int filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.resize(width, '.');
  double el = now - start_;
  double eta = frac > 0.001 ? el * (1 - frac) / frac : 0;
  std::fprintf(stderr, "\r%s [%s] %5.1f%% %s  %.0fs elapsed, ~%.0fs left   ", label_.c_str(),
               bar.c_str(), 100 * frac, note.c_str(), el, eta);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\n");
}

}  // namespace gpas
