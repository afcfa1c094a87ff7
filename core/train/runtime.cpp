#include "core/train/runtime.h"
#include "core/common/launch_env.h"

#include <malloc.h>

#include <cstdlib>

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

// glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh mmap and
// unmaps it on free, so each training step faults in its activations and logits page by page
// again: on the 9m bench that was 6x the step time (perf: page faults above sgemm). Keeping freed
// memory in the heap makes the steady state fault-free, at the price of peak memory staying
// resident (9m bench: 2.9 -> 3.8 GB max RSS). MALLOC_* variables set by the user win; GPAS_MALLOC=system
// keeps glibc's defaults.
static void keep_freed_memory() {
  const char* mode = std::getenv("GPAS_MALLOC");
  if ((mode && std::string(mode) == "system") || std::getenv("MALLOC_MMAP_MAX_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);  // never trim the heap top
}

int setup_threads() {
  static const bool once = (keep_freed_memory(), true);
  (void)once;
  int n = 0;
  n = launch_env().threads;
  if (n <= 0) n = available_cpus();
  torch::set_num_threads(n);
  return n;
}

bool nccl_available() {
#ifdef USE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

}  // namespace gpas
