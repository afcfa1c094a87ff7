// The learning-rate schedule as a pure function of the step (llm.c's schedulers.h): linear warmup
// from 0, then cosine decay towards min_lr_ratio * lr, reached at step `steps` (one past the last:
// the reference's formula).
#pragma once
#include <cstdint>

#include "core/config/config.h"

namespace gpas {

double lr_at(int64_t step, const TrainConfig& cfg);  // step in [0, steps)

}  // namespace gpas
