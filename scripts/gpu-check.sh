#!/usr/bin/env bash
# Everything a GPU machine needs to check, in one command (about 8 minutes on a 16-core H100/H200
# host): build gpas against the host's own PyTorch/LibTorch, run the CUDA tests (NCCL group of
# one, two NCCL ranks when there are two GPUs, the step and precision tests), then the
# side-by-side benchmark at 71m, 350m and 1b: `gpas bench train` against bench/reference_eager.py
# (eager PyTorch as the paper's code) on the same GPU, with and without GPAS, pure bf16, seq 256.
# Prints one JSON summary on stdout (progress on stderr); exit 0 even when a target is missed.
# Usage: bash scripts/gpu-check.sh [BUILD_DIR]     (DEBDIR=.gpu for the carried .debs, see DEVELOPERS.md)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-/tmp/gpas-gpu-build}
debdir=${DEBDIR:-.gpu}
log() { echo "gpu-check: $*" >&2; }
t0=$(date +%s)

if [ -f "$debdir/build-on-gpu-host.sh" ]; then
  bash "$debdir/build-on-gpu-host.sh" "$debdir" "$build" >&2 || { log "build failed"; exit 1; }
  source /tmp/gpas-deps.env
else
  torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" >&2 &&
    cmake --build "$build" -j "$(nproc)" >&2 || { log "build failed"; exit 1; }
fi
gpas=$build/cli/gpas
"$gpas" --version >&2
build_s=$(( $(date +%s) - t0 ))

# CUDA tests: the ones that use a GPU when there is one.
tests_json=$(
  cd "$build" &&
  timeout 240 ./tests/gpas_core_test --gtest_filter='GradSync.*:Step.*' --gtest_brief=1 >&2; core=$?
  timeout 240 ctest -R 'cli\.(nccl|ddp)_test' --output-on-failure >&2; cli=$?
  echo "{\"core_gradsync_step_rc\": $core, \"ctest_nccl_ddp_rc\": $cli}"
)

bench() {  # size gpas(0|1) batch -> two JSON lines: gpas, reference
  local size=$1 g=$2 batch=$3 flag=""
  [ "$g" = 1 ] && flag=--gpas
  timeout 150 "$gpas" bench train --device cuda --precision bf16 --size "$size" --norm pre $flag \
    --batch "$batch" --seq 256 --steps 10 --warmup 3 --json 2>/dev/null || echo '{"error": "gpas bench failed"}'
  timeout 150 python3 bench/reference_eager.py --device cuda --precision bf16 --size "$size" $flag \
    --batch "$batch" --seq 256 --steps 10 --warmup 3 2>/dev/null || echo '{"error": "reference failed"}'
}
results=$(
  for spec in "71m 32" "350m 16" "1b 8"; do
    set -- $spec
    for g in 0 1; do log "bench $1 gpas=$g batch $2"; bench "$1" "$g" "$2"; done
  done
)
python3 - "$build_s" "$tests_json" "$(( $(date +%s) - t0 ))" <<PY
import json, sys
build_s, tests, total = int(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
lines = [json.loads(l) for l in """$results""".strip().splitlines() if l.strip()]
rows = []
for i in range(0, len(lines) - 1, 2):
    g, r = lines[i], lines[i + 1]
    row = {"size": g.get("size"), "gpas": g.get("gpas"), "gpas_tokens_per_s": g.get("tokens_per_second"),
           "ref_tokens_per_s": r.get("tokens_per_second"), "gpas_mfu": g.get("mfu"),
           "gpas_peak_bytes": g.get("peak_memory_bytes"), "ref_peak_bytes": r.get("peak_memory_bytes")}
    if row["gpas_tokens_per_s"] and row["ref_tokens_per_s"]:
        row["speedup"] = row["gpas_tokens_per_s"] / row["ref_tokens_per_s"]
    rows.append(row)
cost = {}
for r in rows:
    cost.setdefault(r["size"], {})[bool(r["gpas"])] = r.get("gpas_tokens_per_s")
gpas_cost = {s: (v[False] / v[True] - 1) for s, v in cost.items() if v.get(False) and v.get(True)}
print(json.dumps({"build_s": build_s, "total_s": total, "tests": tests, "bench": rows,
                  "gpas_step_time_cost": gpas_cost,
                  "targets": {"speedup_min": 1.5, "mfu_1b_min": 0.45, "gpas_cost_max": 0.02}}, indent=1))
PY
