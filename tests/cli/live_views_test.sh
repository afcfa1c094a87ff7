#!/usr/bin/env bash
# Views true while runs are live, without `gpas ingest`: what `runs list`, `runs show`, `runs
# metrics`, `sweep list` and `sweep status` say agrees with the journals and locks at that moment
# -- a standalone `gpas train` while it trains, after a SIGTERM and while it resumes; a sweep while
# its job runs; and after the orchestrator (and its worker) are SIGKILLed: the finished job shows
# completed, the killed one interrupted (not queued, not pending), in every view; a run directory
# removed by hand leaves them.
# Usage: live_views_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export GPAS_THREADS=1
tiny=(--set model.size=tiny --set data.source=synthetic --set train.warmup_steps=1 --set train.batch_size=4
      --set train.micro_batch=4 --set train.seq_len=16 --set train.device=cpu --set train.eval_tokens=256)
# The newest step a journal has logged (metric lines), read apart from gpas.
journal_step() { grep '"type":"metric"' "$1/journal.jsonl" | tail -1 | sed 's/.*"step":\([0-9]*\).*/\1/'; }
# A run's status and step as `runs list --json` gives them: "status step".
listed() {
  "$gpas" runs list --workdir "$1" --json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["name"] == sys.argv[1] or r["id"] == sys.argv[1]:
        print(r["status"], r["last_step"])' "$2"
}
wait_step() {  # DIR N: until the journal has logged step N or later
  for _ in $(seq 1200); do
    s=$(journal_step "$1" 2>/dev/null || true)
    [ -n "$s" ] && [ "$s" -ge "$2" ] && return 0
    sleep 0.05
  done
  fail "$1 never reached step $2"
}

# 1. A standalone run: listed running at its journal's step while it trains (no gpas.db before).
long=(--set train.steps=100000 --set train.checkpoint_every=40 --set train.log_every=2 --set name=solo)
"$gpas" train "${tiny[@]}" "${long[@]}" --workdir w > t1.txt 2>&1 &
trainer=$!; pids+=("$trainer")
for _ in $(seq 600); do dir=$(ls -d w/runs/* 2>/dev/null | head -1 || true); [ -n "$dir" ] && break; sleep 0.05; done
[ -n "$dir" ] || { cat t1.txt; fail "the run never made its directory"; }
wait_step "$dir" 10
read -r status step < <(listed w solo)
[ "$status" = running ] || fail "runs list shows a training run as '$status' (want running)"
[ "$step" -ge 10 ] || fail "runs list shows step $step of a run whose journal is at step 10 or later"
wait_step "$dir" $((step + 10))
read -r status2 step2 < <(listed w solo)
[ "$step2" -gt "$step" ] || fail "runs list did not follow the run: step $step, then $step2"
"$gpas" runs show solo --workdir w | grep -q "running" || fail "runs show does not say running"
"$gpas" runs metrics solo --key train/loss --format csv --workdir w > m.csv
[ "$(head -1 m.csv)" = "key,step,value" ] || { head -3 m.csv; fail "runs metrics csv header"; }
n=$(grep -c '^train/loss,' m.csv)
[ "$n" -ge 5 ] || { cat m.csv; fail "runs metrics gives $n points of train/loss (want the whole history)"; }
[ "$(cut -d, -f2 m.csv | tail -n +2 | sort -n | head -1)" = 2 ] || fail "runs metrics does not start at the first logged step"
"$gpas" runs metrics solo --key no/such --workdir w > /dev/null 2> e.txt && fail "runs metrics with an unknown key exited 0"
grep -q "train/loss" e.txt || { cat e.txt; fail "the refusal of an unknown key does not list the known ones"; }

# 2. SIGTERM: cancelled at the step it stopped; resumed: running again, at the new steps.
kill -TERM "$trainer"; wait "$trainer" 2>/dev/null || true
read -r status step < <(listed w solo)
[ "$status" = cancelled ] || fail "a run stopped by SIGTERM shows '$status' (want cancelled)"
# Resumed with another log_every and heartbeat (how it is logged, not what it computes): the same
# run, in the same directory.
"$gpas" train "${tiny[@]}" "${long[@]}" --set train.log_every=3 --set train.heartbeat_every=5 --workdir w > t2.txt 2>&1 &
trainer=$!; pids+=("$trainer")
wait_step "$dir" $((step + 20))
[ "$(ls w/runs | wc -l)" = 1 ] || { ls w/runs; fail "resuming with another train.log_every made a new run"; }
[ "$(grep -c '"type":"start"' "$dir/journal.jsonl")" = 2 ] || fail "the resumed run is not the same run"
read -r status2 step2 < <(listed w solo)
[ "$status2" = running ] || fail "a resumed run shows '$status2' (want running)"
[ "$step2" -ge $((step + 20)) ] || fail "a resumed run shows step $step2 while its journal is past $((step + 20))"
kill -9 "$trainer"; wait "$trainer" 2>/dev/null || true
read -r status step < <(listed w solo)
[ "$status" = interrupted ] || fail "a SIGKILLed run shows '$status' (want interrupted)"
# A trainer refused before its start line (another config into this directory) leaves the
# interrupted attempt as it was: no failure line of its own written onto it.
"$gpas" train "${tiny[@]}" "${long[@]}" --set train.lr=5e-4 --run-dir "$dir" --workdir w > t3.txt 2>&1 \
  && fail "a trainer with another config in this run's directory was not refused"
grep -q "holds run" t3.txt || { cat t3.txt; fail "the refusal does not say the directory holds another run"; }
read -r status step < <(listed w solo)
[ "$status" = interrupted ] || fail "a refused trainer turned the interrupted run into '$status'"

# 3. A sweep: the job shows running, with its step, in runs list, sweep list and sweep status alike.
cat > s.yaml <<YAML
sweep: s
base:
  model: {size: tiny}
  data: {source: synthetic}
  train: {steps: 60, warmup_steps: 1, batch_size: 4, micro_batch: 4, seq_len: 16, eval_tokens: 256,
          log_every: 2, checkpoint_every: 20}
grid:
  method: [pre, pre+gpas]
YAML
# (The orchestrator is given the workdir as an absolute path, the views a relative one: its queued
# job, which has no directory yet, must not be taken for a run removed by hand.)
"$gpas" sweep run s.yaml --cpu --max-parallel 1 --set train.steps=100000 --workdir "$tmp/ws" -q > sweep.txt 2>&1 &
orch=$!; pids+=("$orch")
for _ in $(seq 1200); do
  first=$(grep -l '"type":"metric"' ws/runs/*/journal.jsonl 2>/dev/null | head -1 || true)
  [ -n "$first" ] && break; sleep 0.05
done
[ -n "$first" ] || { cat sweep.txt; fail "the sweep's first job never logged"; }
fdir=$(dirname "$first"); fid=$(basename "$fdir")
wait_step "$fdir" 10
read -r status step < <(listed ws "$fid")
[ "$status" = running ] || fail "runs list shows the sweep's live job as '$status' (want running)"
[ "$step" -ge 10 ] || fail "runs list shows the sweep's live job at step $step (journal at 10 or later)"
"$gpas" sweep list --workdir ws --json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]
assert (s["running"], s["queued"]) == (1, 1), s' || fail "sweep list does not count 1 running and 1 queued"
"$gpas" sweep status s.yaml --workdir ws > st.txt || true
grep "$fid" st.txt | grep -q " running " || { cat st.txt; fail "sweep status does not show the job running"; }
# --watch redraws while the sweep moves (stopped here by timeout after a few frames) ...
set +e; timeout 4 "$gpas" sweep status s.yaml --workdir ws --watch --interval 0.5 > watch.txt 2>&1; rc=$?; set -e
[ "$rc" = 124 ] || { cat watch.txt; fail "sweep status --watch on a live sweep ended by itself (exit $rc)"; }
[ "$(grep -c '^orchestrator running' watch.txt)" -ge 3 ] || { cat watch.txt; fail "sweep status --watch did not redraw"; }

# 4. SIGKILL the orchestrator and its worker mid-run: the job shows interrupted everywhere, and is
# not counted pending; a job the journals say completed shows completed.
# As a node dying takes both: the orchestrator frozen first (so it neither restarts the worker nor,
# by dying, has it SIGTERMed into a clean `cancelled` through PDEATHSIG), the worker killed, then it.
kill -STOP "$orch"
pkill -9 -f -- "--run-dir $tmp/ws/runs/$fid" || true
kill -9 "$orch"; wait "$orch" 2>/dev/null || true
for _ in $(seq 200); do flock -n "$fdir/run.lock" true && break; sleep 0.05; done
read -r status step < <(listed ws "$fid")
[ "$status" = interrupted ] || fail "after SIGKILL, runs list shows the sweep's job as '$status' (want interrupted)"
"$gpas" sweep status s.yaml --workdir ws > st2.txt || true
grep -q "1 interrupted, 0 failed, 0 cancelled, 1 pending" st2.txt || { cat st2.txt; fail "sweep status miscounts an interrupted job"; }
"$gpas" sweep list --workdir ws --json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]
assert (s["interrupted"], s["running"], s["queued"]) == (1, 0, 1), s' || fail "sweep list after SIGKILL"
# The sweep finishes its two jobs short (a rerun resumes the interrupted one); its orchestrator is
# SIGKILLed just after: both completed in every view, though it never ingested its last lines.
"$gpas" sweep run s.yaml --cpu --max-parallel 1 --set train.steps=4 --workdir ws2 -q > sweep2.txt 2>&1 \
  || { cat sweep2.txt; fail "the short sweep failed"; }
rm ws2/gpas.db*  # as if the orchestrator had died before indexing anything
for id in $(ls ws2/runs); do
  read -r status step < <(listed ws2 "$id")
  [ "$status $step" = "completed 4" ] || fail "run $id shows '$status $step' (its journal: completed 4)"
done
"$gpas" query "SELECT COUNT(*) FROM runs WHERE status = 'completed'" --workdir ws2 --format csv | tail -1 | grep -qx 2 \
  || fail "query does not see the journals' state"
# ... and ends by itself, after one frame, once nothing moves.
timeout 20 "$gpas" sweep status s.yaml --workdir ws2 --watch --interval 0.5 > watch2.txt 2>&1 \
  || { cat watch2.txt; fail "sweep status --watch on a finished sweep did not end by itself with exit 0"; }
[ "$(grep -c '2 completed' watch2.txt)" = 1 ] || { cat watch2.txt; fail "sweep status --watch on a finished sweep"; }
# 5. A run directory removed by hand leaves every view (with a warning), its tag stays in the
# index and is back with the directory.
gone=$(ls ws2/runs | head -1)
"$gpas" runs tag "$gone" keepme --workdir ws2 > /dev/null
mv "ws2/runs/$gone" "$tmp/moved-away"
"$gpas" runs list --workdir ws2 > gone.txt 2> gone.err
grep -q "$gone" gone.txt && { cat gone.txt; fail "runs list still lists a run whose directory was removed"; }
grep -q "removed from disk" gone.err || { cat gone.err; fail "no word that a run directory was removed"; }
"$gpas" query "SELECT COUNT(*) FROM runs" --workdir ws2 --format csv | tail -1 | grep -qx 1 \
  || fail "query still counts the removed run"
mv "$tmp/moved-away" "ws2/runs/$gone"
"$gpas" runs list --workdir ws2 --json | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["id"] == sys.argv[1]]
assert r and r[0]["status"] == "completed" and "keepme" in json.dumps(r[0]), r' "$gone" \
  || fail "the run, back on disk, is not listed completed with its tag"
echo "live views: OK"
