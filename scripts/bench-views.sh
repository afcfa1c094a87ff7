#!/usr/bin/env bash
# What a view pays to be true while runs are live: `gpas runs list` on a workdir of N runs
# (default 1000; copies of one short real run, each under its own id), timed when the index is
# first built from the N journals, when nothing changed since (a stat per run), and while one
# journal grows (that run re-read from where it was left). The README's figure comes from here.
#   bash scripts/bench-views.sh [N]      (GPAS=path/to/gpas; default ./build/cli/gpas)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
gpas=$(realpath "${GPAS:-./build/cli/gpas}")
n=${1:-1000}
tmp=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
GPAS_THREADS=1 "$gpas" train --set model.size=tiny --set data.source=synthetic --set train.device=cpu \
  --set train.steps=60 --set train.warmup_steps=1 --set train.batch_size=4 --set train.micro_batch=4 \
  --set train.seq_len=16 --set train.eval_tokens=256 --set train.log_every=1 --set train.probe_every=20 \
  --set train.checkpoint_every=1000 --workdir "$tmp/one" > "$tmp/train.txt" 2>&1 || { cat "$tmp/train.txt"; exit 1; }
src=$(ls -d "$tmp"/one/runs/*)
id0=$(basename "$src")
mkdir -p "$tmp/w/runs"
for i in $(seq "$n"); do
  id=$(printf '%012x' "$i")
  mkdir "$tmp/w/runs/$id"
  sed "s/$id0/$id/g" "$src/journal.jsonl" > "$tmp/w/runs/$id/journal.jsonl"
  cp "$src/config.yaml" "$tmp/w/runs/$id/"
done
lines=$(wc -l < "$src/journal.jsonl")
timed() {  # LABEL: runs list, wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$gpas" runs list --workdir "$tmp/w" > "$tmp/list.txt"
  t1=$(date +%s.%N)
  [ "$(grep -c ' completed ' "$tmp/list.txt")" = "$n" ] || { echo "runs list does not show $n completed runs" >&2; exit 1; }
  printf '%-52s %6.3f s\n' "$1" "$(echo "$t1 - $t0" | bc -l)"
}
echo "gpas runs list, $n runs of $lines journal lines each ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
t0=$(date +%s.%N); "$gpas" --version > /dev/null; t1=$(date +%s.%N)
printf '%-52s %6.3f s\n' "gpas --version (starting the process, for scale)" "$(echo "$t1 - $t0" | bc -l)"
timed "first view (indexes every journal)"
for k in 1 2 3; do timed "nothing new since the last view (round $k)"; done
last=$(printf '%012x' "$n")
for k in 1 2 3; do
  tail -3 "$tmp/w/runs/$last/journal.jsonl" | sed "s/\"seq\":\([0-9]*\)/\"seq\":\1$k/" >> "$tmp/w/runs/$last/journal.jsonl"
  timed "one journal grew by 3 lines (round $k)"
done
