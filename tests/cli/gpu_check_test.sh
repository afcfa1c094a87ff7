#!/usr/bin/env bash
# scripts/gpu-check.sh, the one command a GPU machine runs, dry-run on the CPU with the binary
# under test, so that its plumbing is checked before a GPU's minutes are spent on it: the test
# step, gpas and bench/reference_eager.py side by side for each cell, the breakdown at the first
# and last size, gpas again with --fused-norm, and the JSON summary with nothing missing; then a cell whose benchmarks fail
# must be reported in the summary, not end the script. Needs a python3 with torch (Debian's
# python3-torch); skips (exit 77) saying so where there is none.
# It takes over a minute and checks files that rarely change: it runs only when the sha256 of those
# files (`watched` below) differ from tests/cli/gpu_check_test.sha256, the versions it last passed
# with, or with GPAS_FULL_TESTS=1; otherwise it skips (77), saying so. Passing, it prints the lines
# to write into that file (below its # comment lines).
# Usage: gpu_check_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1 src=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
watched=(scripts/gpu-check.sh scripts/gpu-prepare.sh bench/reference_eager.py tests/cli/gpu_check_test.sh)
sums=$(cd "$src" && sha256sum "${watched[@]}")
if [ "${GPAS_FULL_TESTS:-0}" != 1 ] && [ "$sums" = "$(grep -v '^#' "$src/tests/cli/gpu_check_test.sha256" 2>/dev/null)" ]; then
  echo "gpu_check_test: skipped: ${watched[*]} are as they were when it last passed" \
       "(tests/cli/gpu_check_test.sha256); GPAS_FULL_TESTS=1 runs it"
  exit 77
fi
py=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "gpu_check_test: skipped: no python3 with torch (apt-get install python3-torch)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GPAS_THREADS=1 PYTHON=$py GPAS_BIN=$gpas GPU_CHECK_DEVICE=cpu GPU_CHECK_PRECISION=fp32 \
  GPU_CHECK_SEQ=32 GPU_CHECK_STEPS=2 XDG_CACHE_HOME=$tmp/cache

GPU_CHECK_SIZES="tiny:4 9m:2" GPU_CHECK_GTEST='GradSync.GlooGroupOfOne*' GPU_CHECK_CTEST='cli\.nccl_test' \
  GPU_CHECK_OUT=$tmp/keep bash "$src/scripts/gpu-check.sh" > "$tmp/summary.json" 2> "$tmp/progress.txt" \
  || { cat "$tmp/progress.txt"; fail "gpu-check.sh failed"; }
cmp -s "$tmp/summary.json" "$tmp/keep/summary.json" || fail "GPU_CHECK_OUT's summary.json is not the printed one"
for f in tiny-1-0.gpas.json tiny-1-0.ref.json 9m-0-1.gpas.json 9m-1-0.ref.json cells; do
  [ -s "$tmp/keep/$f" ] || fail "GPU_CHECK_OUT has no $f: $(ls "$tmp/keep")"
done
[ ! -e "$tmp/cache/gpas/bench.json" ] || fail "gpu-check.sh recorded its runs in the bench cache"
"$py" - "$tmp/summary.json" <<'PY' || { cat "$tmp/progress.txt" "$tmp/summary.json"; exit 1; }
import json, sys
s = json.load(open(sys.argv[1]))
def check(ok, what):
    if not ok:
        sys.exit("FAIL: " + what)
check(s["device"] == "cpu", "device")
check(s["tests"] == {"core_gradsync_step_rc": 0, "ctest_nccl_ddp_rc": 0}, f"tests: {s['tests']}")
rows = s["bench"]
check([(r["size"], r["gpas"]) for r in rows] == [("tiny", False), ("tiny", True), ("9m", False), ("9m", True)],
      "cells: " + str([(r["size"], r["gpas"]) for r in rows]))
for r in rows:
    check("errors" not in r, f"errors in {r}")
    for k in ("gpas_tokens_per_s", "ref_tokens_per_s", "speedup", "gpas_mfu", "ref_mfu",
              "gpas_peak_bytes", "ref_peak_bytes"):
        check(isinstance(r.get(k), (int, float)) and r[k] > 0, f"{k} in {r}")
    check(r["batch"] == (4 if r["size"] == "tiny" else 2) and r["seq"] == 32, f"shape of {r}")
check(set(s["gpas_step_time_cost"]) == {"tiny", "9m"}, "gpas_step_time_cost")
check(set(s["breakdown"]) == {"tiny", "9m", "tiny+fused_norm", "9m+fused_norm"},
      f"breakdown sizes: {list(s['breakdown'])}")
fused = s["fused_norm"]
check([(r["size"], r["gpas"]) for r in fused] == [("tiny", False), ("tiny", True), ("9m", False), ("9m", True)],
      "fused cells: " + str([(r["size"], r["gpas"]) for r in fused]))
for r in fused:
    check("errors" not in r and r["path"] == "aten", f"fused row {r}")  # the CPU: ATen ops
    for k in ("fused_layers", "tokens_per_s", "vs_unfused", "peak_bytes", "unfused_peak_bytes"):
        check(isinstance(r.get(k), (int, float)) and r[k] > 0, f"{k} in {r}")
check(set(s["gpas_step_time_cost_fused_norm"]) == {"tiny", "9m"}, "gpas_step_time_cost_fused_norm")
parts = {"attention", "mlp", "norm_residual_gpas", "embedding", "head_and_loss", "optimizer"}
for size, b in s["breakdown"].items():
    check(set(b["share_of_step"]) == parts, f"{size} parts: {list(b['share_of_step'])}")
    check(all(v > 0 for v in b["ms_per_step"].values()), f"{size}: a part took no time: {b}")
    check(b["step_ms"] > 0 and b["sum_of_parts_share"] > 0, f"{size}: {b}")
PY
grep -q "bench 9m batch 2 gpas=1 --breakdown" "$tmp/progress.txt" || { cat "$tmp/progress.txt"; fail "no progress line"; }

# A cell that cannot run is a row with its errors, and the script still prints its summary.
GPU_CHECK_SIZES="nosuch:2" GPU_CHECK_TESTS=0 bash "$src/scripts/gpu-check.sh" > "$tmp/bad.json" 2> "$tmp/bad.txt" \
  || { cat "$tmp/bad.txt"; fail "gpu-check.sh failed on a cell that cannot run"; }
"$py" - "$tmp/bad.json" <<'PY' || { cat "$tmp/bad.txt" "$tmp/bad.json"; exit 1; }
import json, sys
s = json.load(open(sys.argv[1]))
if s["tests"] != {"core_gradsync_step_rc": -1, "ctest_nccl_ddp_rc": -1}:
    sys.exit(f"FAIL: skipped tests reported as {s['tests']}")
rows = s["bench"]
if len(rows) != 2 or not all(len(r.get("errors", [])) == 2 for r in rows):
    sys.exit(f"FAIL: failed cells not reported: {rows}")
if "gpas bench failed" not in rows[0]["errors"][0] or "reference failed" not in rows[0]["errors"][1]:
    sys.exit(f"FAIL: errors do not say which side failed: {rows[0]['errors']}")
fused = s["fused_norm"]
if len(fused) != 2 or not all(len(r.get("errors", [])) == 1 for r in fused):
    sys.exit(f"FAIL: failed fused cells not reported: {fused}")
PY
grep -q "unknown preset 'nosuch'" "$tmp/bad.txt" || { cat "$tmp/bad.txt"; fail "the failing bench's message is not shown"; }

# The time budget: a bench that outlasts it is stopped and reported, the cells after it are
# skipped and say so, and the summary is still printed, and kept (GPU_CHECK_OUT) after each cell.
# A stand-in gpas that hangs (this tests the script's clock, not gpas; the real run is above).
mkdir -p "$tmp/hang/cli" "$tmp/hang/tests"
printf '#!/bin/sh\ncase "$1" in --version|libtorch) echo hang 0; exit 0;; esac\nexec sleep 120\n' > "$tmp/hang/cli/gpas"
cp "$tmp/hang/cli/gpas" "$tmp/hang/tests/gpas_core_test"
chmod +x "$tmp/hang/cli/gpas" "$tmp/hang/tests/gpas_core_test"
start=$(date +%s)
GPAS_BIN=$tmp/hang/cli/gpas GPU_CHECK_BUDGET_S=26 GPU_CHECK_SIZES="tiny:2 9m:2" GPU_CHECK_TESTS=1 GPU_CHECK_OUT=$tmp/late \
  timeout 90 bash "$src/scripts/gpu-check.sh" > "$tmp/late.json" 2> "$tmp/late.txt" \
  || { cat "$tmp/late.txt"; fail "gpu-check.sh failed when its budget ran out"; }
took=$(( $(date +%s) - start ))
[ "$took" -lt 60 ] || fail "gpu-check.sh took $took s on a 26 s budget"
cmp -s "$tmp/late.json" "$tmp/late/summary.json" || fail "the kept summary is not the printed one"
"$py" - "$tmp/late.json" <<'PY' || { cat "$tmp/late.txt" "$tmp/late.json"; exit 1; }
import json, sys
s = json.load(open(sys.argv[1]))
def check(ok, what):
    if not ok:
        sys.exit("FAIL: " + what)
check(s["budget_s"] == 26, f"budget_s {s.get('budget_s')}")
# The gtest (the stand-in hangs) is stopped by the budget: timeout's 124; no time is left for ctest.
check(s["tests"] == {"core_gradsync_step_rc": 124, "ctest_nccl_ddp_rc": -2}, f"tests: {s['tests']}")
rows = s["bench"] + s["fused_norm"]
check(len(rows) == 8, f"{len(rows)} rows")
check(all(r.get("skipped") and "errors" not in r for r in rows), f"rows not all skipped: {rows}")
PY
GPAS_BIN=$tmp/hang/cli/gpas GPU_CHECK_BUDGET_S=26 GPU_CHECK_SIZES="tiny:2" GPU_CHECK_TESTS=0 \
  timeout 90 bash "$src/scripts/gpu-check.sh" > "$tmp/late2.json" 2> "$tmp/late2.txt" \
  || { cat "$tmp/late2.txt"; fail "gpu-check.sh failed when a bench outlasted its budget"; }
"$py" - "$tmp/late2.json" <<'PY' || { cat "$tmp/late2.txt" "$tmp/late2.json"; exit 1; }
import json, sys
rows = json.load(open(sys.argv[1]))["bench"]
first = rows[0]
if "stopped after" not in first.get("errors", [""])[0] or first.get("skipped") is None:
    sys.exit(f"FAIL: a bench stopped by the budget (then its reference skipped) is reported as {first}")
if not all(r.get("skipped") for r in rows[1:]):
    sys.exit(f"FAIL: later cells not skipped: {rows}")
PY
echo "gpu_check_test: ok; until ${watched[*]} change, this test skips with these lines in tests/cli/gpu_check_test.sha256:"
echo "$sums"
