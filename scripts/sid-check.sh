#!/usr/bin/env bash
# gpas against the versions it meets next: Debian sid's LibTorch (CPU; 2.14.1 when this was
# written, newer than the GPU hosts' PyTorch), compiler, CMake, CLI11, SentencePiece and zlib, in a
# chroot in /var/cache/gpas/sid: the build (a warning from gpas's files fails it) and the whole
# ctest suite, as scripts/cuda-check.sh does for trixie's CUDA build. Not part of scripts/test.sh
# (about 35 minutes from scratch on 2 cores); run it after changing a LibTorch call or a dependency.
# Root; env as scripts/cuda-check.sh (GPAS_CUDA_ROOT, GPAS_JOBS).
exec env GPAS_CHECK_SUITE=sid bash "$(dirname "${BASH_SOURCE[0]}")/cuda-check.sh" "$@"
