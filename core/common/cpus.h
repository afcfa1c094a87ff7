// How many cores this process may use, for code with and without LibTorch (the trainer's threads,
// the sweep orchestrator's share per CPU job). Leaves out setting any thread count.
#pragma once

namespace gpas {

// The cores this process may run on (its affinity mask; hardware_concurrency if unknown; >= 1).
int available_cpus();

}  // namespace gpas
