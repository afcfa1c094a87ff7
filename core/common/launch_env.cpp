#include "core/common/launch_env.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/common/error.h"

namespace gpas {

namespace {

const char* value_of(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int int_of(const char* name, int fallback, long lo, long hi) {
  const char* v = value_of(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  if (*end != 0 || errno != 0 || x < lo || x > hi)
    throw Error(std::string(name) + "='" + v + "': expected a whole number from " + std::to_string(lo) + " to " +
                std::to_string(hi));
  return static_cast<int>(x);
}

}  // namespace

LaunchEnv launch_env() {
  LaunchEnv e;
  e.world = int_of("WORLD_SIZE", 1, 1, 1 << 20);
  e.rank = int_of("RANK", e.world <= 1 ? 0 : -1, 0, 1 << 20);
  e.local_rank = int_of("LOCAL_RANK", -1, 0, 1 << 20);
  if (const char* b = value_of("GPAS_DIST_BACKEND")) e.dist_backend = b;
  if (e.dist_backend != "auto" && e.dist_backend != "gloo" && e.dist_backend != "nccl")
    throw Error("GPAS_DIST_BACKEND: '" + e.dist_backend + "' is not one of auto, gloo, nccl");
  e.threads = int_of("GPAS_THREADS", 0, 0, 1 << 16);
  return e;
}

RendezvousEnv rendezvous_env() {
  RendezvousEnv e;
  if (const char* a = value_of("MASTER_ADDR")) e.master_addr = a;
  e.master_port = int_of("MASTER_PORT", 29500, 1, 65535);
  e.timeout_s = int_of("GPAS_DIST_TIMEOUT_S", 600, 1, 1 << 30);
  if (const char* mb = value_of("GPAS_BUCKET_MB")) {
    char* end = nullptr;
    e.bucket_mib = std::strtod(mb, &end);
    if (*end != 0 || !(e.bucket_mib > 0) || !std::isfinite(e.bucket_mib))
      throw Error("GPAS_BUCKET_MB: '" + std::string(mb) + "' is not a positive size in MiB");
  }
  if (const char* i = value_of("GLOO_SOCKET_IFNAME")) e.gloo_ifname = i;
  return e;
}

}  // namespace gpas
