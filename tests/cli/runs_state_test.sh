#!/usr/bin/env bash
# Run state that never lies, with the real binary, real processes and real signals: a rerun of a
# completed or diverged run changes nothing and says so; a second trainer of a live run, and any
# other writer of its journal (eval, analyze), is refused naming the holder's pid and host; a SIGKILLed trainer shows as interrupted (not running) and
# resumes; a completed run whose journal was emptied is closed as completed by a rerun.
# Usage: runs_state_test.sh GPAS SOURCE_DIR
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

# 1. A completed run, run again: same journal bytes, same checkpoints, exit 0, says so.
"$gpas" train "${tiny[@]}" --set train.steps=4 --set train.checkpoint_every=2 --workdir w > out1.txt 2>&1 \
  || { cat out1.txt; fail "first training failed"; }
dir=$(ls -d w/runs/*)
sum() { md5sum "$dir/journal.jsonl" "$dir"/checkpoints/*; }
sum > before.txt
"$gpas" train "${tiny[@]}" --set train.steps=4 --set train.checkpoint_every=2 --workdir w > out2.txt 2>&1 \
  || { cat out2.txt; fail "the rerun of a completed run did not exit 0"; }
sum | diff before.txt - || fail "the rerun of a completed run changed the run dir"
grep -q "already completed at step 4: nothing to do" out2.txt || { cat out2.txt; fail "the rerun does not say it did nothing"; }
"$gpas" runs list --workdir w | grep -q " completed " || fail "runs list does not show the rerun run completed"

# ... and a diverged one (any loss above 0.5 diverges): exit 3 both times, nothing appended.
div=(--set train.steps=4 --set train.diverge_loss=0.5 --set name=div)
set +e; "$gpas" train "${tiny[@]}" "${div[@]}" --workdir w > d1.txt 2>&1; rc1=$?
        "$gpas" train "${tiny[@]}" "${div[@]}" --workdir w > d2.txt 2>&1; rc2=$?; set -e
[ "$rc1" = 3 ] && [ "$rc2" = 3 ] || { cat d1.txt d2.txt; fail "diverged run: exit codes $rc1, $rc2 (want 3, 3)"; }
grep -q "already diverged at step 1" d2.txt || { cat d2.txt; fail "the rerun of a diverged run does not say so"; }
ddir=$(grep -l '"name":"div"' w/runs/*/journal.jsonl | xargs dirname)
[ "$(grep -c '"type":"start"' "$ddir/journal.jsonl")" = 1 ] || fail "the rerun of a diverged run trained again"

# 2 + 14. One writer per run: a second trainer is refused while the first lives; SIGKILL leaves
# no stale lock, the run shows interrupted (not running) and the next trainer resumes it.
long=(--set train.steps=100000 --set train.checkpoint_every=50 --set train.log_every=1000 --set name=long)
"$gpas" train "${tiny[@]}" "${long[@]}" --workdir w > l1.txt 2>&1 &
first=$!; pids+=("$first")
for _ in $(seq 600); do
  ldir=$(grep -l '"name":"long"' w/runs/*/journal.jsonl 2>/dev/null | xargs -r dirname || true)
  [ -n "$ldir" ] && ls "$ldir"/checkpoints/*.pt > /dev/null 2>&1 && break
  sleep 0.1
done
[ -n "$ldir" ] || { cat l1.txt; fail "the long run never checkpointed"; }
flock -n "$ldir/run.lock" true && fail "the trainer does not hold $ldir/run.lock"
set +e; timeout 60 "$gpas" train "${tiny[@]}" "${long[@]}" --workdir w > l2.txt 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { cat l2.txt; fail "a second trainer of a live run exited $rc (want 1)"; }
grep -q "is being trained by pid $first on host $(hostname)" l2.txt || { cat l2.txt; fail "the refusal does not name the holder"; }
[ "$(grep -c '"type":"start"' "$ldir/journal.jsonl")" = 1 ] || fail "the refused trainer wrote to the journal"
# ... and so are the other writers of its journal (eval, analyze), naming the holder likewise.
mkdir -p tasks
for cmd in "eval $ldir --tasks-dir tasks" "analyze importance $ldir"; do
  set +e; timeout 60 "$gpas" $cmd --workdir w > e.txt 2>&1; rc=$?; set -e
  [ "$rc" = 1 ] || { cat e.txt; fail "gpas $cmd beside a live trainer exited $rc (want 1)"; }
  grep -q "the run is being trained by pid $first on host $(hostname); .* (kill -TERM $first)" e.txt \
    || { cat e.txt; fail "gpas $cmd: the refusal does not name the holder"; }
done
grep -q '"importance_\|downstream/' "$ldir/journal.jsonl" && fail "a refused eval or analyze wrote to the journal"
"$gpas" ingest --workdir w > /dev/null
"$gpas" runs list --workdir w --status running | grep -q long || fail "a live trainer is not shown running"
kill -9 "$first"; wait "$first" 2>/dev/null || true
"$gpas" ingest --workdir w > /dev/null
"$gpas" runs list --workdir w | tee list.txt | grep long | grep -q " interrupted " \
  || { cat list.txt; fail "a SIGKILLed trainer is not shown interrupted"; }
"$gpas" runs list --workdir w --status running | grep -q long && fail "a SIGKILLed trainer still shows running"
flock -n "$ldir/run.lock" true || fail "the lock of a SIGKILLed trainer is still held"
# A writer that is not a trainer (an eval, by the role in the lock) holding it is no live trainer.
( exec 9>>"$ldir/run.lock"; flock 9; printf '%s %s gpas eval\n' "$BASHPID" "$(hostname)" > "$ldir/run.lock"; exec sleep 60 ) &
holder=$!; pids+=("$holder")
# Wait for its role, written after it took the lock: until then the file still names the dead
# trainer (gpas runs list starts in milliseconds, no longer in the half second that hid this).
for _ in $(seq 100); do grep -q ' gpas eval$' "$ldir/run.lock" && break; sleep 0.05; done
"$gpas" runs list --workdir w --status running | grep -q long && fail "a run whose lock an eval holds shows running"
"$gpas" runs list --workdir w | grep long | grep -q " interrupted " || fail "a run whose lock an eval holds is not interrupted"
kill -9 "$holder"; wait "$holder" 2>/dev/null || true
last=$(ls "$ldir"/checkpoints/*.pt | tail -1 | sed 's/.*step_0*\([0-9]*\)\.pt/\1/')
"$gpas" train "${tiny[@]}" "${long[@]}" --workdir w > l3.txt 2>&1 &
third=$!; pids+=("$third")
for _ in $(seq 600); do [ "$(grep -c '"type":"start"' "$ldir/journal.jsonl")" = 2 ] && break; sleep 0.1; done
sleep 0.5; kill -TERM "$third"
set +e; wait "$third"; rc=$?; set -e
[ "$rc" = 130 ] || { cat l3.txt; fail "the resumed trainer, stopped by SIGTERM, exited $rc (want 130)"; }
grep -q "resuming .* (step $last)" l3.txt || { cat l3.txt; fail "the next trainer did not resume from step $last"; }

# 14. A completed run whose journal was emptied: a rerun closes it as completed (it was left running).
: > "$dir/journal.jsonl"
"$gpas" train "${tiny[@]}" --set train.steps=4 --set train.checkpoint_every=2 --workdir w > out3.txt 2>&1 \
  || { cat out3.txt; fail "the rerun of an emptied journal failed"; }
[ "$(grep '"type":"status"' "$dir/journal.jsonl" | tail -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["status"])')" = completed ] \
  || { cat "$dir/journal.jsonl"; fail "the emptied journal was not closed as completed"; }
"$gpas" runs list --workdir w | grep -v long | grep -v div | grep -q " completed " || fail "the re-closed run is not completed in the store"
echo "runs_state_test: ok"
