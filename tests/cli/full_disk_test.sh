#!/usr/bin/env bash
# A full disk, on a real 3 MB tmpfs: a checkpoint that does not fit stops the run with a failure
# line in its journal (so views say failed and why, not interrupted); on a 100 % full filesystem
# `runs list` still answers from the index as last written, warning that the filesystem is full and
# what to do, and where there is no index to read it says the filesystem is full (not only "disk
# I/O error"). Needs root (mount); skipped, saying so, where tmpfs cannot be mounted.
# Usage: full_disk_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
mnt=$tmp/disk
mkdir -p "$mnt"
trap 'cd /; umount "$mnt" 2>/dev/null || true; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! mount -t tmpfs -o size=3M tmpfs "$mnt" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)"; exit 77
fi
cd "$mnt"
export GPAS_THREADS=1
# The tiny model's checkpoint is about 1.6 MB: the second one does not fit in 3 MB.
set +e
"$gpas" train --set model.size=tiny --set data.source=synthetic --set train.device=cpu --set train.steps=400 \
  --set train.warmup_steps=1 --set train.batch_size=4 --set train.micro_batch=4 --set train.seq_len=16 \
  --set train.eval_tokens=256 --set train.checkpoint_every=50 --set train.keep_checkpoints=100 \
  --workdir w > "$tmp/train.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$tmp/train.txt"; fail "the run that filled the disk exited $rc (want 1)"; }
grep -q "No space left on device" "$tmp/train.txt" || { cat "$tmp/train.txt"; fail "the error does not say the disk is full"; }
tail -1 w/runs/*/journal.jsonl | python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
assert j["type"] == "status" and j["status"] == "failed" and "No space left" in j["error"], j' \
  || fail "the journal does not end with a failure line naming the full disk"
"$gpas" runs list --workdir w > "$tmp/list.txt" 2>&1 || { cat "$tmp/list.txt"; fail "runs list failed"; }
grep -q " failed " "$tmp/list.txt" || { cat "$tmp/list.txt"; fail "runs list does not show the run failed"; }
# A journal line the index has not seen, then the filesystem 100 % full: runs list answers from the
# index as last written, warning why it lags and what to do.
printf '{"type":"metric","seq":100000,"step":1,"key":"x","value":1,"time":1}\n' >> "$(ls w/runs/*/journal.jsonl)"
dd if=/dev/zero of=fill bs=4k > /dev/null 2>&1 || true
"$gpas" runs list --workdir w > "$tmp/list2.txt" 2> "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "runs list on a full disk failed"; }
grep -q "warning: the index was not brought up to date .*is full: .* bytes free; free some space" "$tmp/err.txt" \
  || { cat "$tmp/err.txt"; fail "the warning does not say the disk is full"; }
grep -q " failed " "$tmp/list2.txt" || fail "runs list on a full disk lost the run"
# No index at all, and no room to make one: an error that says the filesystem is full.
rm -f w/gpas.db*
dd if=/dev/zero of=fill2 bs=1k > /dev/null 2>&1 || true
set +e; "$gpas" runs list --workdir w > /dev/null 2> "$tmp/err.txt"; rc=$?; set -e
[ "$rc" != 0 ] || fail "runs list without an index on a full disk exited 0"
grep -q "is full" "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "runs list without an index on a full disk does not say the disk is full"; }
echo "full disk: OK"
