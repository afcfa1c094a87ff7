#!/usr/bin/env bash
# End-to-end `gpas sweep` and `gpas ablate` with the real binary: plan (text, JSON), a bad sweep
# file's error at file:line, a tiny synthetic sweep run to completion on the CPU, status after it,
# a rerun that starts nothing, a sweep of 2-rank data-parallel jobs, and the ablation plan.
# Usage: sweep_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gpas" sweep plan "$src/experiments/quickstart.yaml" --workdir w | tee plan.txt
grep -q "pending" plan.txt || fail "plan lists no pending job"
grep -q "CPU-h left" plan.txt || fail "a device: cpu sweep is not priced in CPU-hours"
"$gpas" sweep plan "$src/experiments/table2.yaml" --json > t2.json
python3 -c "import json,sys; d=json.load(open('t2.json')); assert len(d['jobs'])==55, len(d['jobs'])"

printf 'sweep: bad\ngrid:\n  method: [pre, prenorm]\n' > bad.yaml
if "$gpas" sweep plan bad.yaml 2> err.txt; then fail "a bad sweep file was accepted"; fi
grep -q "bad.yaml:3: method: unknown scheme 'prenorm'" err.txt || { cat err.txt; fail "error does not name file:line"; }

cat > tiny.yaml <<'YAML'
sweep: tiny
base:
  model: {size: tiny}
  data: {source: synthetic}
  train: {steps: 6, warmup_steps: 1, batch_size: 4, micro_batch: 4, seq_len: 16, device: cpu, eval_tokens: 256}
grid:
  method: [pre, pre+gpas]
YAML
"$gpas" sweep run tiny.yaml --cpu --workdir w -q || fail "sweep run failed: $(cat w/runs/*/worker.log | tail -20)"
"$gpas" sweep status tiny.yaml --workdir w | tee status.txt
[ "$(grep -c ' completed ' status.txt)" = 2 ] || fail "status does not show 2 completed jobs"
"$gpas" sweep run tiny.yaml --cpu --workdir w | tee rerun.txt
grep -q "2 completed" rerun.txt || fail "rerun did not find the finished jobs"
[ "$(grep -c '"type":"start"' w/runs/*/journal.jsonl | awk -F: '{s+=$2} END {print s}')" = 2 ] || fail "a finished job ran again"
"$gpas" sweep cancel tiny.yaml --workdir w | grep -q "not running" || fail "cancel of an idle sweep"

# Sweep-level data parallelism: each job as two CPU ranks (Gloo) that rendezvous and finish as one run.
cat > ddp.yaml <<'YAML'
sweep: ddp
base:
  model: {size: tiny}
  data: {source: synthetic}
  train: {steps: 4, warmup_steps: 1, batch_size: 8, micro_batch: 4, seq_len: 16, device: cpu, eval_tokens: 256}
grid:
  method: [pre+gpas]
YAML
GPAS_THREADS=1 "$gpas" sweep run ddp.yaml --cpu --gpus-per-job 2 --workdir wd -q \
  || fail "2-rank sweep failed: $(tail -20 wd/runs/*/worker*.log)"
python3 - wd/runs/*/journal.jsonl <<'PY' || fail "the 2-rank job's journal is not that of one 2-rank run"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
starts = [l for l in lines if l["type"] == "start"]
assert len(starts) == 1 and starts[0]["devices"].endswith("x2"), starts
assert [l["status"] for l in lines if l["type"] == "status"][-1] == "completed", lines[-1]
PY
"$gpas" runs list --workdir wd --status completed | grep -q "ddp/pre+gpas" || fail "the 2-rank run is not indexed as completed"

(cd "$src" && "$gpas" ablate --suite gate --size 350m --plan --workdir "$tmp/w") | tee ablate.txt
grep -q "predefined_gates  (after" ablate.txt || fail "the predefined-gate job has no dependency"
echo "sweep_test: ok"
