#!/usr/bin/env bash
# Everything a GPU machine needs to check, in one command (meant to finish in 8 minutes on a
# 16-core H100/H200 host): build gpas against the host's own PyTorch/LibTorch, run the CUDA tests
# (NCCL group of one, two NCCL ranks when there are two GPUs, the step and precision tests), then
# the side-by-side benchmark at 71m, 350m and 1b: `gpas bench train` against
# bench/reference_eager.py (eager PyTorch as the paper's code) on the same GPU, with and without
# GPAS, pure bf16, seq 256; the GPAS runs at the first and last size also time each part of the
# step alone (`--breakdown`: how much of it norms + residual adds + GPAS take). Then gpas again
# with train.fused_norm (`--fused-norm`: the residual add + GPAS + RMSNorm kernels), with and
# without GPAS, the breakdown at the same sizes: the summary's "fused_norm" rows.
# Prints one JSON summary on stdout (progress on stderr); exit 0 even when a target is missed,
# 1 when the build fails.
#
# Usage: bash scripts/gpu-check.sh [BUILD_DIR]   (DEBDIR=.gpu for the carried .debs, DEVELOPERS.md)
# Settings (environment), for a dry run of the same script on a CPU (tests/cli/gpu_check_test.sh):
#   GPAS_BIN=path      use this gpas and its build dir's tests; no build
#   GPU_CHECK_DEVICE   cuda (default) | cpu          GPU_CHECK_PRECISION  bf16 (default) | fp32
#   GPU_CHECK_SIZES    "71m:32 350m:16 1b:8" (size:batch)   GPU_CHECK_SEQ 256   GPU_CHECK_STEPS 10
#   GPU_CHECK_TESTS    1 (default) | 0 to skip the CUDA tests    PYTHON  python3 (with torch)
#   GPU_CHECK_GTEST    'GradSync.*:Step.*:FusedNorm.*' (gtest filter)   GPU_CHECK_CTEST 'cli\.(nccl|ddp)_test'
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-/tmp/gpas-gpu-build}
debdir=${DEBDIR:-.gpu}
device=${GPU_CHECK_DEVICE:-cuda}
precision=${GPU_CHECK_PRECISION:-bf16}
sizes=${GPU_CHECK_SIZES:-71m:32 350m:16 1b:8}
seq=${GPU_CHECK_SEQ:-256}
steps=${GPU_CHECK_STEPS:-10}
python=${PYTHON:-python3}
log() { echo "gpu-check: $*" >&2; }
t0=$(date +%s)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if [ -n "${GPAS_BIN:-}" ]; then
  build=$(cd "$(dirname "$GPAS_BIN")/.." && pwd)
elif [ -f "$debdir/build-on-gpu-host.sh" ]; then
  bash "$debdir/build-on-gpu-host.sh" "$debdir" "$build" >&2 || { log "build failed"; exit 1; }
  source /tmp/gpas-deps.env
else
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" >&2 &&
    cmake --build "$build" -j "$(nproc)" >&2 || { log "build failed"; exit 1; }
fi
gpas=${GPAS_BIN:-$build/cli/gpas}
"$gpas" --version >&2 || { log "$gpas does not run"; exit 1; }
build_s=$(( $(date +%s) - t0 ))

# CUDA tests: the ones that use a GPU when there is one (-1: not run).
core=-1 cli=-1
if [ "${GPU_CHECK_TESTS:-1}" = 1 ]; then
  log "tests"
  (cd "$build" && timeout 240 ./tests/gpas_core_test --gtest_filter="${GPU_CHECK_GTEST:-GradSync.*:Step.*:FusedNorm.*}" --gtest_brief=1) >&2
  core=$?
  (cd "$build" && timeout 240 ctest -R "${GPU_CHECK_CTEST:-cli\.(nccl|ddp)_test}" --output-on-failure) >&2
  cli=$?
fi
tests_s=$(( $(date +%s) - t0 - build_s ))

# One cell: gpas, then the reference, each to its own file (a failure leaves an "error" object).
# With fused(1): gpas alone, --fused-norm, no reference.
bench() {  # size batch gpas(0|1) breakdown(0|1) fused(0|1)
  local size=$1 batch=$2 g=$3 bd=$4 fused=$5 flags=() bdflag=() name="$1-$3-$5"
  [ "$g" = 1 ] && flags+=(--gpas)
  [ "$bd" = 1 ] && bdflag+=(--breakdown)
  [ "$fused" = 1 ] && bdflag+=(--fused-norm)
  log "bench $size batch $batch gpas=$g ${bdflag[*]}"
  local common=(--device "$device" --precision "$precision" --size "$size" --batch "$batch"
                --seq "$seq" --steps "$steps" --warmup 3)
  timeout 240 "$gpas" bench train "${common[@]}" --norm pre "${flags[@]}" "${bdflag[@]}" --json --no-cache \
    > "$out/$name.gpas.json" 2> "$out/$name.gpas.err" ||
    echo "{\"error\": \"gpas bench failed (rc $?)\"}" > "$out/$name.gpas.json"
  if [ "$fused" = 0 ]; then
    timeout 240 "$python" bench/reference_eager.py "${common[@]}" "${flags[@]}" \
      > "$out/$name.ref.json" 2> "$out/$name.ref.err" ||
      echo "{\"error\": \"reference failed (rc $?)\"}" > "$out/$name.ref.json"
  fi
  for f in "$out/$name".*.err; do [ -s "$f" ] && sed "s|^|  $(basename "$f" .err): |" "$f" | tail -5 >&2; done
  echo "$size $g $fused" >> "$out/cells"
}
set -- $sizes
first=${1%%:*} last=${!#}; last=${last%%:*}
for spec in $sizes; do
  size=${spec%%:*} batch=${spec##*:}
  for fused in 0 1; do
    for g in 0 1; do
      bd=0
      [ "$g" = 1 ] && { [ "$size" = "$first" ] || [ "$size" = "$last" ]; } && bd=1
      bench "$size" "$batch" "$g" "$bd" "$fused"
    done
  done
done

"$python" - "$out" "$build_s" "$tests_s" "$(( $(date +%s) - t0 ))" "$core" "$cli" "$device" <<'PY'
import json, os, sys
out, build_s, tests_s, total, core, cli, device = sys.argv[1:8]
def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception as e:  # empty or not JSON: say so in the summary
        return {"error": f"{os.path.basename(path)}: {e}"}
rows, fused_rows, cost, fused_cost, breakdowns = [], [], {}, {}, {}
unfused_tps = {}
for line in open(os.path.join(out, "cells")):
    size, g, fused = line.split()
    a = load(f"{out}/{size}-{g}-{fused}.gpas.json")
    if "breakdown" in a:
        b = a["breakdown"]
        breakdowns[size + ("+fused_norm" if fused == "1" else "")] = {
            "step_ms": b["step_ms"], "sum_of_parts_share": b["sum_of_parts_share"],
            "share_of_step": {p["part"]: p["share_of_step"] for p in b["parts"]},
            "ms_per_step": {p["part"]: p["ms_per_step"] for p in b["parts"]}}
    if fused == "1":  # gpas with --fused-norm against the same cell without it
        row = {"size": size, "gpas": g == "1", "path": a.get("fused_norm"),
               "fused_layers": a.get("fused_norm_layers"), "tokens_per_s": a.get("tokens_per_second"),
               "peak_bytes": a.get("peak_memory_bytes"), "unfused_peak_bytes": None}
        base = unfused_tps.get((size, g))
        if base and row["tokens_per_s"]:
            row["vs_unfused"] = row["tokens_per_s"] / base[0]
            row["unfused_peak_bytes"] = base[1]
        if "error" in a:
            row["errors"] = [a["error"]]
        fused_rows.append(row)
        fused_cost.setdefault(size, {})[g == "1"] = row["tokens_per_s"]
        continue
    r = load(f"{out}/{size}-{g}-{fused}.ref.json")
    unfused_tps[(size, g)] = (a.get("tokens_per_second"), a.get("peak_memory_bytes"))
    row = {"size": size, "gpas": g == "1", "batch": a.get("batch"), "seq": a.get("seq"),
           "gpas_tokens_per_s": a.get("tokens_per_second"), "ref_tokens_per_s": r.get("tokens_per_second"),
           "gpas_mfu": a.get("mfu"), "gpas_peak_bytes": a.get("peak_memory_bytes"),
           "ref_peak_bytes": r.get("peak_memory_bytes")}
    if row["gpas_tokens_per_s"] and row["ref_tokens_per_s"]:
        row["speedup"] = row["gpas_tokens_per_s"] / row["ref_tokens_per_s"]
        if a.get("peak_flops"):
            row["ref_mfu"] = row["ref_tokens_per_s"] * a["flops_per_token"] / a["peak_flops"]
    errors = [x["error"] for x in (a, r) if "error" in x]
    if errors:
        row["errors"] = errors
    rows.append(row)
    cost.setdefault(size, {})[g == "1"] = row["gpas_tokens_per_s"]
def step_cost(c):  # GPAS's step time over the same scheme without it
    return {s: v[False] / v[True] - 1 for s, v in c.items() if v.get(False) and v.get(True)}
print(json.dumps({"device": device, "build_s": int(build_s), "tests_s": int(tests_s), "total_s": int(total),
                  "tests": {"core_gradsync_step_rc": int(core), "ctest_nccl_ddp_rc": int(cli)},
                  "bench": rows, "gpas_step_time_cost": step_cost(cost), "breakdown": breakdowns,
                  "fused_norm": fused_rows, "gpas_step_time_cost_fused_norm": step_cost(fused_cost),
                  "targets": {"speedup_min": 1.5, "mfu_1b_min": 0.45, "gpas_cost_max": 0.02}}, indent=1))
PY
