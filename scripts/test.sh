#!/usr/bin/env bash
# The whole test suite: install, build, then every test through ctest (GoogleTest binaries, CLI
# end-to-end scripts, the real single-node Slurm test when its daemons can start); then the CUDA
# build (LibTorch 2.6) and the tests labelled torch in a trixie chroot (scripts/cuda-check.sh;
# GPAS_CUDA_CHECK=0 leaves it out).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/build.sh
# The real single-node Slurm test needs its daemons installed (it starts them itself).
bash scripts/install-slurm.sh || echo "gpas: Slurm not installed; its test will say so and skip" >&2
(cd build && ctest -j "${GPAS_JOBS:-2}" --output-on-failure --timeout 900)
if [ "${GPAS_CUDA_CHECK:-1}" != 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd env GPAS_JOBS="${GPAS_JOBS:-2}" ${GPAS_CUDA_ROOT:+GPAS_CUDA_ROOT="$GPAS_CUDA_ROOT"} \
    bash scripts/cuda-check.sh
fi
