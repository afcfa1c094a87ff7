// The learning-rate schedule as a pure function of the step (llm.c's schedulers.h): linear warmup
// from 0, then cosine decay to min_lr_ratio * lr at the last step.
#pragma once
#include <cstdint>

#include "core/config/config.h"

namespace gpas {

double lr_at(int64_t step, const TrainConfig& cfg);  // step in [0, steps)

}  // namespace gpas
