#!/usr/bin/env bash
# Everything a GPU machine needs to check, in one command, within a time budget (8 minutes by
# default on a 16-core H100/H200 host): build gpas against the host's own PyTorch/LibTorch, run
# the CUDA tests (NCCL group of one, two NCCL ranks when there are two GPUs, the step, precision
# and fused-norm kernel tests), then the side-by-side benchmark at 71m, 350m and 1b:
# `gpas bench train` against bench/reference_eager.py (eager PyTorch as the paper's code) on the
# same GPU, with and without GPAS, pure bf16, seq 256; the GPAS runs at the first and last size
# also time each part of the step alone (`--breakdown`: how much of it norms + residual adds +
# GPAS take). Then, for every size, gpas again with train.fused_norm (`--fused-norm`: the
# residual add + GPAS + RMSNorm kernels), with and without GPAS, the breakdown at the same sizes:
# the summary's "fused_norm" rows. The side-by-side cells of every size run before any fused one,
# so a budget that runs out costs the fused rows first.
#
# Micro-batches: the paper trains 512 sequences per update on 4 GPUs, 128 per GPU. 71m runs at
# 128; 350m at 64 and 1b at 32 keep the eager reference's activations (bf16, eager attention's
# fp32 softmax, the whole fp32 logits), weights and Adam state at an estimated 30-50 GB of the
# GPU's 139 GB (counted from the shapes, not measured).
#
# Prints one JSON summary on stdout (progress on stderr); exit 0 even when a target is missed or a
# cell fails (a row with its "errors"), 1 when the build fails. With GPU_CHECK_OUT=DIR (on the
# device tool: GPU_CHECK_OUT=$OUT) every cell's output and stderr stay in DIR and DIR/summary.json
# is rewritten after each cell, so a run stopped from outside still leaves what it measured.
#
# Usage: bash scripts/gpu-check.sh [BUILD_DIR]   (DEBDIR=.gpu: the carried .debs and their build
# script, made by scripts/gpu-prepare.sh; without them, a build against the host's libraries)
# Settings (environment), also for a dry run of the same script on a CPU (tests/cli/gpu_check_test.sh):
#   GPU_CHECK_OUT      keep outputs and summary.json here   GPU_CHECK_BUDGET_S  480 (from the start,
#                      build included; a step that cannot get 15 s of it is skipped and says so)
#   GPAS_BIN=path      use this gpas and its build dir's tests; no build
#   GPU_CHECK_DEVICE   cuda (default) | cpu          GPU_CHECK_PRECISION  bf16 (default) | fp32
#   GPU_CHECK_SIZES    "71m:128 350m:64 1b:32" (size:batch)   GPU_CHECK_SEQ 256   GPU_CHECK_STEPS 10
#   GPU_CHECK_TESTS    1 (default) | 0 to skip the CUDA tests    PYTHON  python3 (with torch)
#   GPU_CHECK_GTEST    'GradSync.*:Step.*:FusedNorm.*' (gtest filter)   GPU_CHECK_CTEST 'cli\.(nccl|ddp)_test'
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-/tmp/gpas-gpu-build}
debdir=${DEBDIR:-.gpu}
device=${GPU_CHECK_DEVICE:-cuda}
precision=${GPU_CHECK_PRECISION:-bf16}
sizes=${GPU_CHECK_SIZES:-71m:128 350m:64 1b:32}
seq=${GPU_CHECK_SEQ:-256}
steps=${GPU_CHECK_STEPS:-10}
budget=${GPU_CHECK_BUDGET_S:-480}
python=${PYTHON:-python3}
log() { echo "gpu-check: $*" >&2; }
t0=$(date +%s)
if [ -n "${GPU_CHECK_OUT:-}" ]; then
  out=$GPU_CHECK_OUT
  mkdir -p "$out" || exit 1
  rm -f "$out/cells"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
: > "$out/cells"

# Seconds a step may take: what is left of the budget (less 5 s for the summary), at most $1.
# Prints 0 when under 15 s are left: the caller skips the step.
allow() {
  local left=$(( t0 + budget - 5 - $(date +%s) ))
  if [ "$left" -lt 15 ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
# Runs "$@" under `timeout $1`, and says so when the limit, not the command, ended it.
limited() {
  local s=$1; shift
  timeout "$s" "$@"
  local rc=$?
  [ "$rc" = 124 ] && log "stopped after ${s} s (the time budget): $*"
  return "$rc"
}

if [ -n "${GPAS_BIN:-}" ]; then
  build=$(cd "$(dirname "$GPAS_BIN")/.." && pwd)
elif [ -f "$debdir/build-on-gpu-host.sh" ]; then
  bash "$debdir/build-on-gpu-host.sh" "$debdir" "$build" >&2 || { log "build failed"; exit 1; }
  source /tmp/gpas-deps.env
elif compgen -G "$debdir/*.deb" > /dev/null; then
  log "$debdir has .debs but no build-on-gpu-host.sh: make it with scripts/gpu-prepare.sh"; exit 1
else
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" >&2 &&
    cmake --build "$build" -j "$(nproc)" >&2 || { log "build failed"; exit 1; }
fi
gpas=${GPAS_BIN:-$build/cli/gpas}
# The commit gpas was built from (the front's --version), then what its LibTorch sees: version,
# CUDA devices, NCCL (`gpas libtorch`, in gpas-torch: the front's --version does not load LibTorch).
{ "$gpas" --version && "$gpas" libtorch; } >&2 || { log "$gpas does not run"; exit 1; }
build_s=$(( $(date +%s) - t0 ))
log "built in ${build_s} s; budget ${budget} s"

# CUDA tests: the ones that use a GPU when there is one (-1: not run, -2: no time left for it).
core=-1 cli=-1
if [ "${GPU_CHECK_TESTS:-1}" = 1 ]; then
  log "tests"
  s=$(allow 180)
  if [ "$s" = 0 ]; then core=-2; else
    (cd "$build" && limited "$s" ./tests/gpas_core_test --gtest_filter="${GPU_CHECK_GTEST:-GradSync.*:Step.*:FusedNorm.*}" --gtest_brief=1) >&2
    core=$?
  fi
  s=$(allow 180)
  if [ "$s" = 0 ]; then cli=-2; else
    (cd "$build" && limited "$s" ctest -R "${GPU_CHECK_CTEST:-cli\.(nccl|ddp)_test}" --output-on-failure) >&2
    cli=$?
  fi
fi
tests_s=$(( $(date +%s) - t0 - build_s ))

summarize() {  # the JSON summary of the cells so far
  "$python" - "$out" "$build_s" "$tests_s" "$(( $(date +%s) - t0 ))" "$core" "$cli" "$device" "$budget" <<'PY'
import json, os, sys
out, build_s, tests_s, total, core, cli, device, budget = sys.argv[1:9]
def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception as e:  # empty or not JSON: say so in the summary
        return {"error": f"{os.path.basename(path)}: {e}"}
def problems(row, *results):
    errors = [x["error"] for x in results if "error" in x]
    if errors:
        row["errors"] = errors
    skipped = [x["skipped"] for x in results if "skipped" in x]
    if skipped:
        row["skipped"] = skipped[0]
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
        if base and base[0] and row["tokens_per_s"]:
            row["vs_unfused"] = row["tokens_per_s"] / base[0]
            row["unfused_peak_bytes"] = base[1]
        problems(row, a)
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
    problems(row, a, r)
    rows.append(row)
    cost.setdefault(size, {})[g == "1"] = row["gpas_tokens_per_s"]
def step_cost(c):  # GPAS's step time over the same scheme without it
    return {s: v[False] / v[True] - 1 for s, v in c.items() if v.get(False) and v.get(True)}
print(json.dumps({"device": device, "build_s": int(build_s), "tests_s": int(tests_s), "total_s": int(total),
                  "budget_s": int(budget),
                  "tests": {"core_gradsync_step_rc": int(core), "ctest_nccl_ddp_rc": int(cli)},
                  "bench": rows, "gpas_step_time_cost": step_cost(cost), "breakdown": breakdowns,
                  "fused_norm": fused_rows, "gpas_step_time_cost_fused_norm": step_cost(fused_cost),
                  "targets": {"speedup_min": 1.5, "mfu_1b_min": 0.45, "gpas_cost_max": 0.02}}, indent=1))
PY
}
checkpoint() {  # summary.json as of now, replaced whole (never half-written)
  summarize > "$out/summary.json.tmp" && mv "$out/summary.json.tmp" "$out/summary.json"
}

# One cell: gpas, then the reference, each to its own file (a failure leaves an "error" object,
# a step the budget has no room for a "skipped" one). With fused(1): gpas alone, --fused-norm.
side() {  # name what command...: runs one side of a cell into $out/name.what.{json,err}
  local name=$1 what=$2 s; shift 2
  s=$(allow 240)
  if [ "$s" = 0 ]; then
    log "  $what: skipped, the time budget (${budget} s) is spent"
    echo '{"skipped": "no time left in GPU_CHECK_BUDGET_S"}' > "$out/$name.$what.json"
    rm -f "$out/$name.$what.err"
    return
  fi
  limited "$s" "$@" > "$out/$name.$what.json" 2> "$out/$name.$what.err"
  local rc=$?
  if [ "$rc" != 0 ]; then
    local why="rc $rc"
    [ "$rc" = 124 ] && why="stopped after $s s by the time budget"
    local label="gpas bench"; [ "$what" = ref ] && label="reference"
    echo "{\"error\": \"$label failed ($why)\"}" > "$out/$name.$what.json"
  fi
  [ -s "$out/$name.$what.err" ] && sed "s|^|  $what: |" "$out/$name.$what.err" | tail -5 >&2
  return 0
}
bench() {  # size batch gpas(0|1) breakdown(0|1) fused(0|1)
  local size=$1 batch=$2 g=$3 bd=$4 fused=$5 flags=() bdflag=() name="$1-$3-$5"
  [ "$g" = 1 ] && flags+=(--gpas)
  [ "$bd" = 1 ] && bdflag+=(--breakdown)
  [ "$fused" = 1 ] && bdflag+=(--fused-norm)
  log "bench $size batch $batch gpas=$g ${bdflag[*]} ($(( $(date +%s) - t0 )) s of ${budget})"
  local common=(--device "$device" --precision "$precision" --size "$size" --batch "$batch"
                --seq "$seq" --steps "$steps" --warmup 3)
  side "$name" gpas "$gpas" bench train "${common[@]}" --norm pre "${flags[@]}" "${bdflag[@]}" --json --no-cache
  [ "$fused" = 0 ] && side "$name" ref "$python" bench/reference_eager.py "${common[@]}" "${flags[@]}"
  echo "$size $g $fused" >> "$out/cells"
  checkpoint
}
set -- $sizes
first=${1%%:*} last=${!#}; last=${last%%:*}
for fused in 0 1; do
  for spec in $sizes; do
    size=${spec%%:*} batch=${spec##*:}
    for g in 0 1; do
      bd=0
      [ "$g" = 1 ] && { [ "$size" = "$first" ] || [ "$size" = "$last" ]; } && bd=1
      bench "$size" "$batch" "$g" "$bd" "$fused"
    done
  done
done
checkpoint
cat "$out/summary.json"
