#include "core/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace gpas {

double lr_at(int64_t step, const TrainConfig& c) {
  if (c.warmup_steps > 0 && step < c.warmup_steps)
    return c.lr * double(step) / double(c.warmup_steps);
  // The reference's (GaLore's) progress: (step - warmup) / (steps - warmup), so the last step
  // (steps - 1) is one step short of min_lr.
  const int64_t decay_steps = std::max<int64_t>(1, c.steps - c.warmup_steps);
  const double progress = std::clamp(double(step - c.warmup_steps) / double(decay_steps), 0.0, 1.0);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));  // 1 -> 0
  return c.lr * (c.min_lr_ratio + (1.0 - c.min_lr_ratio) * cosine);
}

}  // namespace gpas
