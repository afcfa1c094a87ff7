#include "core/train/runtime.h"

#include <sched.h>

#include <cstdlib>
#include <thread>

#include <torch/torch.h>

namespace gpas {

std::string torch_version() {
#ifdef TORCH_VERSION
  return TORCH_VERSION;
#else
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
#endif
}

bool cuda_available() { return torch::cuda::is_available(); }
int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }

int setup_threads() {
  int n = 0;
  if (const char* env = std::getenv("GPAS_THREADS")) n = std::atoi(env);
  if (n <= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                      : static_cast<int>(std::thread::hardware_concurrency());
  }
  if (n <= 0) n = 1;
  torch::set_num_threads(n);
  return n;
}

}  // namespace gpas
