#!/usr/bin/env bash
# Estimates from a rate measured on this machine (issue 10, case 8), with the real binary: a new
# sweep is priced at the nominal rate and its plan prints the command that calibrates it; that
# command, pasted, records its rate in the bench cache ($XDG_CACHE_HOME/gpas/bench.json); then the
# plan prices each job at its FLOPs over the measured rate and says where the rate came from, and
# `sweep run` shows an ETA before its first job has finished (without the cache: "?").
# Usage: bench_cache_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
unset GPAS_CACHE_DIR
export XDG_CACHE_HOME=$tmp/cache GPAS_THREADS=1

base='  model: {size: tiny}
  data: {source: synthetic}
  train: {steps: 6, warmup_steps: 1, batch_size: 4, micro_batch: 4, seq_len: 16, device: cpu, eval_tokens: 256}'
printf 'sweep: cal\nbase:\n%s\ngrid:\n  seed: [1, 2]\n' "$base" > cal.yaml
printf 'sweep: one\nbase:\n%s\ngrid:\n  seed: [3]\n' "$base" > one.yaml

"$gpas" sweep plan cal.yaml --workdir w | tee plan0.txt
grep -q "estimates of 2 job(s) to run: nominal 20 GFLOP/s per CPU job" plan0.txt || fail "a new sweep does not say its rate is nominal"
cmd=$(sed -n 's/^calibrate on this machine: //p' plan0.txt)
[ "$cmd" = "gpas bench train --device cpu --size tiny --batch 4 --seq 16 --vocab 256 --precision fp32 --steps 10 --warmup 2" ] \
  || fail "calibrate command: '$cmd'"
"$gpas" sweep plan cal.yaml --workdir w --json > plan0.json

# Before any bench: the live ETA is unknown until a job measures one.
"$gpas" sweep run one.yaml --cpu --workdir w1 --progress-every 1000 > run0.txt || fail "sweep run failed"
first=$(grep -m1 '^\[0/1 done\] 1 running' run0.txt) || { cat run0.txt; fail "no progress line while the job ran"; }
case "$first" in *"ETA ?"*) ;; *) fail "an ETA from the nominal rate: $first" ;; esac

# The printed command, pasted (gpas = the binary under test).
eval "\"\$gpas\" ${cmd#gpas }" > bench.txt 2> bench.err || { cat bench.err; fail "the calibrate command failed"; }
grep -q "recorded in $XDG_CACHE_HOME/gpas/bench.json" bench.err || { cat bench.err; fail "bench does not say where it recorded"; }
[ -s cache/gpas/bench.json ] || fail "no bench cache"

"$gpas" sweep plan cal.yaml --workdir w | tee plan1.txt
grep -q "estimates of 2 job(s) to run: .* measured by \`gpas bench train\` on $(date -u +%F) (tiny fp32, batch 4x16, 1 thread)" plan1.txt \
  || fail "the plan does not say its rate was measured"
if grep -q calibrate plan1.txt; then fail "an exact measurement still asks for calibration"; fi
"$gpas" sweep plan cal.yaml --workdir w --json > plan1.json
python3 - plan0.json plan1.json cache/gpas/bench.json <<'PY' || fail "the estimate is not the job's FLOPs over the measured rate"
import json, sys
p0, p1, cache = (json.load(open(f)) for f in sys.argv[1:])
[e] = cache["entries"]
for j0, j1 in zip(p0["jobs"], p1["jobs"]):
    flops = j0["est_device_hours"] * 3600 * 20e9          # nominal: 20 GFLOP/s
    assert abs(j1["est_device_hours"] * 3600 - flops / e["achieved_flops"]) < 1e-9 * flops / e["achieved_flops"], (j1, e)
    assert j1["rate_flops"] == e["achieved_flops"] and j1["calibrate"] == "", j1
    assert abs(j1["est_device_hours"] / j0["est_device_hours"] - 20e9 / e["achieved_flops"]) < 1e-9, (j0, j1)
print("nominal", p0["jobs"][0]["est_device_hours"] * 3600, "s; measured", p1["jobs"][0]["est_device_hours"] * 3600,
      "s at", e["achieved_flops"] / 1e9, "GFLOP/s")
PY

# With the cache: sweep run says where its rate comes from and shows a planned ETA at once.
"$gpas" sweep run one.yaml --cpu --workdir w2 --progress-every 1000 > run1.txt || fail "sweep run failed"
grep -q "measured by \`gpas bench train\`" run1.txt || { cat run1.txt; fail "sweep run does not name its rate"; }
first=$(grep -m1 '^\[0/1 done\] 1 running' run1.txt) || { cat run1.txt; fail "no progress line while the job ran"; }
case "$first" in *"ETA ?"*) fail "no ETA from the measured rate: $first" ;; *"(planned)"*) ;; *) fail "$first" ;; esac
echo "ok: $first"
