#!/usr/bin/env bash
# Run HERE, before a GPU session's one call: puts into .gpu/ (git-ignored through
# .git/info/exclude) what scripts/gpu-check.sh needs on the offline GPU host: the .debs of the
# libraries gpas builds against (../shared/gpu/fetch-debs.sh) and the script that builds with them
# and the host's own PyTorch (build-on-gpu-host.sh), plus zlib's. fetch-debs.sh copies that script only when it
# is called by an absolute path (it cd's first), so this calls it so and checks the result; then
# dry-runs gpu-check's plumbing on this CPU (tests/cli/gpu_check_test.sh) unless --no-dry-run.
# Usage: bash scripts/gpu-prepare.sh [--no-dry-run]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shared=$(realpath ../shared/gpu 2>/dev/null) || { echo "gpu-prepare: no ../shared/gpu beside this checkout" >&2; exit 1; }
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
rm -rf .gpu
bash "$shared/fetch-debs.sh" "$PWD/.gpu" > /dev/null 2> .gpu.log || { cat .gpu.log >&2; exit 1; }
rm -f .gpu.log
[ -f .gpu/build-on-gpu-host.sh ] || cp "$shared/build-on-gpu-host.sh" .gpu/
# gpas also needs zlib's headers (core/data/corpus.cpp reads .gz shards), which fetch-debs.sh does
# not fetch and a CUDA image need not have.
(cd .gpu && apt-get download zlib1g-dev zlib1g > /dev/null 2>&1) || { echo "gpu-prepare: apt-get download zlib1g-dev zlib1g failed" >&2; exit 1; }
for f in .gpu/*%3a*; do [ -e "$f" ] && mv "$f" "${f//%3a/_}"; done  # apt's epoch escape: plain names
n=$(ls .gpu/*.deb | wc -l)
[ "$n" -ge 19 ] || { echo "gpu-prepare: only $n .debs in .gpu/" >&2; exit 1; }
echo "gpu-prepare: .gpu/ holds $n .debs ($(du -sh .gpu | cut -f1)) and build-on-gpu-host.sh" >&2
if [ "${1:-}" != --no-dry-run ]; then
  [ -x build/cli/gpas ] || { echo "gpu-prepare: build first (scripts/build.sh), or --no-dry-run" >&2; exit 1; }
  GPAS_FULL_TESTS=1 bash tests/cli/gpu_check_test.sh build/cli/gpas "$PWD" >&2  # even when unchanged
fi
cat >&2 <<'TXT'
gpu-prepare: ready. The device tool's call (one; it needs about 8 minutes of the session's 15):
  run  carry: [".gpu"]  timeout_s: 570
       command: GPU_CHECK_OUT=$OUT bash scripts/gpu-check.sh /tmp/build
  The summary is the output's tail and $OUT/summary.json; every cell's output is under $OUT.
TXT
