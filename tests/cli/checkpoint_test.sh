#!/usr/bin/env bash
# Damaged and unwritable checkpoints, with the real binary: a killed run whose newest checkpoint
# is truncated and whose next one has a flipped byte resumes from the newest that verifies (saying
# which it skipped) to the same final weights as an uninterrupted run; a completed run with a
# damaged checkpoint stays completed; the store lists only the checkpoints on disk, by absolute
# path; a full disk (a small tmpfs, or RLIMIT_FSIZE where mounting
# is not allowed, or GPAS_TEST_NO_MOUNT=1) is a clear error naming the path and the space, exit 1, no temp file left.
# Usage: checkpoint_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
pids=()
mnt=""
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "$mnt" ] && umount "$mnt" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export GPAS_THREADS=1
run=(train --set model.size=tiny --set data.source=synthetic --set train.warmup_steps=2 --set train.batch_size=4
     --set train.micro_batch=4 --set train.seq_len=16 --set train.device=cpu --set train.eval_tokens=256
     --set train.steps=400 --set train.checkpoint_every=10 --set train.keep_checkpoints=4 --set train.log_every=100)
final_weights() {  # workdir -> exported weights of its run's final checkpoint
  local ck; ck=$(ls "$1"/runs/*/checkpoints/step_*.pt | tail -1)
  "$gpas" export "$ck" --out "$1/export" > /dev/null 2>&1 || fail "export of $ck failed"
  echo "$1/export/model.safetensors"
}

"$gpas" "${run[@]}" --workdir a > a.txt 2>&1 || { cat a.txt; fail "the uninterrupted run failed"; }
ref=$(final_weights a)
# 9. The store lists the checkpoints on disk (keep_checkpoints pruned the rest), by absolute path.
"$gpas" query --workdir a --format csv "SELECT path FROM artifacts WHERE kind = 'checkpoint' ORDER BY path" \
  | tail -n +2 > listed.txt
[ "$(wc -l < listed.txt)" = 4 ] || { cat listed.txt; fail "the store lists $(wc -l < listed.txt) checkpoints, 4 are on disk"; }
while read -r p; do
  case "$p" in /*) ;; *) fail "checkpoint path $p in the store is not absolute" ;; esac
  [ -f "$p" ] || fail "the store lists $p, which is not on disk"
done < listed.txt

# Kill a run once it has 4 checkpoints, then damage the newest two.
"$gpas" "${run[@]}" --workdir b > b1.txt 2>&1 &
pids+=($!)
for _ in $(seq 3000); do
  [ "$(ls b/runs/*/checkpoints/step_*.pt 2>/dev/null | wc -l)" -ge 4 ] && break
  sleep 0.01
done
kill -9 "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
mapfile -t cks < <(ls b/runs/*/checkpoints/step_*.pt)
[ "${#cks[@]}" -ge 3 ] || fail "the killed run left ${#cks[@]} checkpoints"
grep -q '"status":"completed"' b/runs/*/journal.jsonl && fail "the run finished before it was killed (make it longer)"
newest=${cks[-1]}; second=${cks[-2]}; third=${cks[-3]}
size=$(stat -c %s "$third")
truncate -s $(( $(stat -c %s "$newest") / 2 )) "$newest"
python3 - "$second" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); i = len(b) // 2; b[i] ^= 0x01
open(p, 'wb').write(b)
PY
"$gpas" "${run[@]}" --workdir b > b2.txt 2>&1 || { cat b2.txt; fail "the resume past damaged checkpoints failed"; }
grep -q "skipping a damaged checkpoint: $newest" b2.txt || { cat b2.txt; fail "the truncated checkpoint was not named as skipped"; }
grep -q "skipping a damaged checkpoint: $second: checksum mismatch" b2.txt || { cat b2.txt; fail "the flipped byte went unnoticed"; }
grep -q "resuming .* from $third" b2.txt || { cat b2.txt; fail "did not resume from the newest good checkpoint $third"; }
cmp -s "$ref" "$(final_weights b)" || fail "the weights resumed past damaged checkpoints differ from the uninterrupted run's"

# A CPU run resumed on another thread count says that it no longer continues bit for bit (each
# step's rows are sharded by thread), and how to resume it exactly; on the same count it is silent
# and ends with the uninterrupted two-thread run's weights.
GPAS_THREADS=2 "$gpas" "${run[@]}" --workdir u > u.txt 2>&1 || { cat u.txt; fail "the two-thread run failed"; }
GPAS_THREADS=2 "$gpas" "${run[@]}" --workdir t > t1.txt 2>&1 &
pids+=($!)
for _ in $(seq 3000); do
  [ -n "$(ls t/runs/*/checkpoints/step_*.pt 2>/dev/null)" ] && break
  sleep 0.01
done
kill -9 "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
grep -q '"status":"completed"' t/runs/*/journal.jsonl && fail "the two-thread run finished before it was killed"
cp -r t t_same
GPAS_THREADS=2 "$gpas" "${run[@]}" --workdir t_same > t3.txt 2>&1 || { cat t3.txt; fail "the two-thread resume failed"; }
grep -q "resumes on" t3.txt && { cat t3.txt; fail "a resume on the same thread count warned"; }
cmp -s "$(final_weights u)" "$(final_weights t_same)" || fail "the two-thread run resumed on two threads is not the uninterrupted one"
cmp -s "$(final_weights u)" "$ref" && fail "two threads gave the one-thread run's weights: were the rows sharded?"
"$gpas" "${run[@]}" --workdir t > t2.txt 2>&1 || { cat t2.txt; fail "the one-thread resume failed"; }
grep -q "trained on 2 CPU threads and resumes on 1: .*GPAS_THREADS=2 resumes it exactly" t2.txt \
  || { cat t2.txt; fail "a resume on another thread count went unmentioned"; }
grep -q "resumes on" b2.txt && fail "a resume on the same thread count warned"

# A completed run whose final checkpoint is damaged is still completed, and a rerun leaves it.
last=$(ls a/runs/*/checkpoints/step_*.pt | tail -1)
truncate -s 1000 "$last"
"$gpas" "${run[@]}" --workdir a > a2.txt 2>&1 || { cat a2.txt; fail "a completed run with a damaged checkpoint: rerun failed"; }
grep -q "already completed" a2.txt || { cat a2.txt; fail "the rerun did not leave the completed run alone"; }
"$gpas" runs list --workdir a | grep -q " completed " || fail "the run is no longer listed completed"

# A full disk: room for one checkpoint, not two.
small=(train --set model.size=tiny --set data.source=synthetic --set train.warmup_steps=2 --set train.batch_size=4
       --set train.micro_batch=4 --set train.seq_len=16 --set train.device=cpu --set train.eval_tokens=256
       --set train.steps=6 --set train.checkpoint_every=2 --set train.keep_checkpoints=1 --no-index)
mkdir -p full
set +e
if [ -z "${GPAS_TEST_NO_MOUNT:-}" ] && mount -t tmpfs -o size=$(( size * 3 / 2 + 200000 )) tmpfs full 2> /dev/null; then
  mnt=$tmp/full; how="a tmpfs of $(( size * 3 / 2 + 200000 )) bytes"
  "$gpas" "${small[@]}" --workdir full > c.txt 2>&1; rc=$?
else
  # No mount allowed: a file size limit below one checkpoint gives EFBIG on the same write path
  # (the limit is per file, so here the first checkpoint is the one that fails).
  how="ulimit -f"
  ( trap '' XFSZ; ulimit -f $(( size / 2 / 1024 )); exec "$gpas" "${small[@]}" --workdir full ) > c.txt 2>&1; rc=$?
fi
set -e
[ "$rc" = 1 ] || { cat c.txt; fail "a full disk ($how) exited $rc (want 1)"; }
grep -q "full/runs/.*/checkpoints/step_0000000[246].pt: cannot write the checkpoint" c.txt || { cat c.txt; fail "the error does not name the checkpoint ($how)"; }
grep -q "a checkpoint needs about .* MB, .* MB is free in" c.txt || { cat c.txt; fail "the error does not give the space ($how)"; }
ls full/runs/*/checkpoints/ | grep -q "\.tmp\." && fail "a temp file was left behind ($how)"
if [ -n "$mnt" ]; then
  (cd full/runs/*/checkpoints && sha256sum -c --quiet ./*.sha256) || fail "the checkpoint before the full disk is damaged"
fi
if [ -n "$mnt" ]; then  # room again: the same command resumes and completes
  mount -o remount,size=$(( size * 4 + 200000 )) "$mnt"
  "$gpas" "${small[@]}" --workdir full > c2.txt 2>&1 || { cat c2.txt; fail "the rerun after freeing space failed"; }
  grep -q "resuming .* (step [24])" c2.txt || { cat c2.txt; fail "the rerun after a full disk did not resume"; }
fi
echo "checkpoint_test: ok ($how)"
