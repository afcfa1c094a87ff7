#!/usr/bin/env bash
# Configures and builds gpas against the system's LibTorch with CUDA (after scripts/cuda-deps.sh),
# checks that c10d's NCCL backend is compiled in; exit 3 if gpas's own files gave any warning.
# The Dockerfile's build step and scripts/cuda-check.sh's (in its chroot) are this script.
# Usage: scripts/cuda-build.sh [BUILD_DIR]   (default: build-cuda/ in the tree; GPAS_JOBS, default 2;
# GPAS_TORCH_TESTS_ONLY=1 builds only the torch-labelled test binary, for `ctest -L torch`)
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$src/build-cuda}"
jobs="${GPAS_JOBS:-2}"
mkdir -p "$build"

torch_tests_only=OFF
[ "${GPAS_TORCH_TESTS_ONLY:-0}" = 0 ] || torch_tests_only=ON
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGPAS_TORCH_TESTS_ONLY=$torch_tests_only \
  > "$build/configure.log" 2>&1 \
  || { cat "$build/configure.log" >&2; echo "gpas: configure failed ($build/configure.log)" >&2; exit 1; }
# LibTorch's torch_cuda target brings -DUSE_C10D_NCCL (distributed.cpp's NCCL code compiles on it).
# GPAS_REQUIRE_NCCL=0 (scripts/sid-check.sh, a CPU LibTorch) builds without.
[ "${GPAS_REQUIRE_NCCL:-1}" = 0 ] || grep -q -- '-DUSE_C10D_NCCL' "$build/compile_commands.json" || {
  echo "gpas: $build compiles without -DUSE_C10D_NCCL: is this LibTorch built with CUDA and NCCL?" \
       "($build/configure.log)" >&2
  exit 1
}

set +e
cmake --build "$build" -j "$jobs" 2>&1 | tee "$build/build.log"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || { echo "gpas: the build failed ($build/build.log)" >&2; exit "$rc"; }

# Compiler warnings from gpas's own files (anything not under /usr): exit 3, with gpas built. A
# rebuild shows the warnings of what it recompiled only: a fresh build directory shows all of them.
# (file:line: warning: ... and the compiler's own, e.g. "cc1plus: warning: ... [-Winvalid-pch]").
if grep -E '^[^ ]+: warning:|^[^ ]+:[0-9]+(:[0-9]+)?: warning:' "$build/build.log" | grep -v '^/usr/'; then
  echo "gpas: warnings from gpas's own files in the build (above; $build/build.log)" >&2
  exit 3
fi
echo "gpas: build ready: $build/cli/gpas"
