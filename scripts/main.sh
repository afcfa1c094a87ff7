#!/usr/bin/env bash
# The main job: install, build, then the quickstart sweep (Pre-LN vs Pre-LN + GPAS, a tiny model
# on the Brown corpus, on the CPU) and its report. Results land in work/ (work/gpas.db).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/build.sh
work=${GPAS_WORKDIR:-work}
./build/cli/gpas sweep run experiments/quickstart.yaml --cpu --workdir "$work"
./build/cli/gpas report table2 --workdir "$work" --sweep quickstart
./build/cli/gpas runs list --workdir "$work" --sweep quickstart
