#!/usr/bin/env bash
# The main job: install, build, then the quickstart sweep (Pre-LN against Pre-LN + GPAS, a deep
# narrow model on the Brown corpus, on the CPU), its table, what the layer probes show (activation
# variance per layer, the gates, both eval curves), the figures and an HTML report.
# Results land in work/ (work/gpas.db; GPAS_WORKDIR chooses another place).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/build.sh
work=${GPAS_WORKDIR:-work}
gpas=./build/cli/gpas
$gpas sweep run experiments/quickstart.yaml --cpu --max-parallel 2 --workdir "$work"
$gpas report table2 --workdir "$work" --sweep quickstart
echo
$gpas report mechanism --workdir "$work" --sweep quickstart
$gpas report figures --workdir "$work" --sweep quickstart --out "$work/figures" > /dev/null
$gpas report html --workdir "$work" --sweep quickstart --out "$work/report.html" 2> /dev/null
echo
echo "Figures (2: loss, 3: gates, 4: activation variance, 5: gradient norms, 6: weight norms): $work/figures/"
echo "Report with tables, runs and figures: $work/report.html"
