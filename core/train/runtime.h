// Facts about the LibTorch runtime for code that must not include LibTorch (`gpas libtorch`,
// the results store's run rows): version, CUDA, thread setup.
#pragma once
#include <string>

#include "core/common/cpus.h"  // available_cpus

namespace gpas {

std::string torch_version();  // "1.13.1", "2.5.1+cu124", ...
bool cuda_available();
int cuda_device_count();
bool nccl_available();  // this LibTorch has c10d's NCCL process group
// LibTorch's intra-op threads = cores available to this process (Debian's build defaults to 1).
// GPAS_THREADS overrides. Returns the count set. Also keeps freed memory in the heap (see
// runtime.cpp; GPAS_MALLOC=system opts out).
int setup_threads();

}  // namespace gpas
