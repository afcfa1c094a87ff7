#!/usr/bin/env bash
# Installs what is missing and builds gpas into build/ (Release, Ninja, -j2 by default).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "${GPAS_JOBS:-2}"
