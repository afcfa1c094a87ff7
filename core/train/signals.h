// Graceful stop: SIGINT, SIGTERM and SIGUSR1 (Slurm's pre-timeout warning) set a flag that the
// trainer checks between steps; it then checkpoints and ends the run as `cancelled`.
#pragma once

namespace gpas {

void install_stop_handlers();
bool stop_requested();
int stop_signal();      // the signal that asked, 0 if none

}  // namespace gpas
