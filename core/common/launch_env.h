// The process's launch environment, read in one place: what a launcher (gpas sweep, srun,
// torchrun) sets for a rank, and gpas's own knobs for distributed runs and threads. Read afresh
// on each call (tests and launchers set them per process); a malformed value is an error naming
// the variable. The rendezvous variables are read only where a process group is made, so a stray
// MASTER_PORT does not stop a single-process run. Torch-free.
#pragma once
#include <string>

namespace gpas {

// What every run reads.
struct LaunchEnv {
  int world = 1;                      // WORLD_SIZE
  int rank = 0;                       // RANK (-1: unset while WORLD_SIZE > 1, an error where a group is made)
  int local_rank = -1;                // LOCAL_RANK (-1: unset): this rank's GPU where all are visible
  std::string dist_backend = "auto";  // GPAS_DIST_BACKEND: auto | gloo | nccl
  int threads = 0;                    // GPAS_THREADS (0: every CPU this process may use)
  bool lead() const { return rank <= 0; }  // rank 0 writes the journal and checkpoints
};
LaunchEnv launch_env();

// What making a process group reads.
struct RendezvousEnv {
  std::string master_addr = "127.0.0.1";  // MASTER_ADDR
  int master_port = 29500;                // MASTER_PORT
  int timeout_s = 600;                    // GPAS_DIST_TIMEOUT_S: how long a collective waits
  double bucket_mib = 25;                 // GPAS_BUCKET_MB: gradient bucket size
  std::string gloo_ifname;                // GLOO_SOCKET_IFNAME
};
RendezvousEnv rendezvous_env();

}  // namespace gpas
