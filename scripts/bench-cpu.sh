#!/usr/bin/env bash
# gpas against the eager PyTorch reference on this CPU (issue 26): for each shape and thread
# count, `gpas bench train` and `bench/reference_eager.py` with the same model, batch, optimizer
# (Adam, lr 1e-4) and GPAS, run in turn, round after round, so that load on a shared machine hits
# both alike; one markdown table of tokens/s (min-max over the rounds) and their ratio (of the
# medians), and at 9m the fp32 torch::mm rate gpas measured in the same runs and its fraction.
#   bash scripts/bench-cpu.sh [--rounds N] [--steps N] [--quick]
#   GPAS=path/to/gpas (default ./build/cli/gpas); PYTHON=a python3 with torch (default: the first
#   of python3, /usr/bin/python3 that imports it). --quick: the tiny shapes only.
#   GPAS_BASE=path/to/another/gpas: a third side in every round (e.g. a build of an earlier
#   commit), with its own column and the ratio of gpas to it.
# Both sides run with GPAS_THREADS set and glibc told to keep freed memory (the README's Speed
# section says why: without it the reference page-faults its big tensors in every step).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=3 steps=5 quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench-cpu.sh: unknown option $1 (--rounds N, --steps N, --quick)" >&2; exit 2 ;;
  esac
done
gpas=$(realpath "${GPAS:-./build/cli/gpas}")
base=${GPAS_BASE:+$(realpath "$GPAS_BASE")}
[ -x "$gpas" ] || { echo "bench-cpu.sh: no gpas at $gpas (build it, or set GPAS)" >&2; exit 1; }
python=${PYTHON:-}
if [ -z "$python" ]; then
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' 2>/dev/null; then python=$p; break; fi
  done
fi
[ -n "$python" ] || { echo "bench-cpu.sh: no python3 with torch (apt-get install python3-torch, or set PYTHON)" >&2; exit 1; }
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name | gpas model flags | reference model flags | vocab | batch | seq | threads
shapes=()
for v in 8000 32000; do
  for t in 1 2; do
    shapes+=("tiny|--size tiny|--size tiny|$v|16|64|$t")
    [ "$quick" = 1 ] || shapes+=("16 x 64|--size tiny --layers 16|--size tiny --layers 16|$v|16|64|$t")
  done
done
[ "$quick" = 1 ] || shapes+=("9m|--size 9m|--size 9m|8000|16|256|2")

run_gpas() {  # OUT GPAS_FLAGS VOCAB BATCH SEQ THREADS [BINARY]
  # shellcheck disable=SC2086
  GPAS_THREADS=$6 "${7:-$gpas}" bench train $2 --norm pre --gpas --vocab "$3" --batch "$4" --seq "$5" \
    --steps "$steps" --precision fp32 --device cpu --no-cache --json > "$1"
}
run_ref() {  # OUT REF_FLAGS VOCAB BATCH SEQ THREADS
  # shellcheck disable=SC2086
  GPAS_THREADS=$6 OMP_NUM_THREADS=$6 "$python" bench/reference_eager.py $2 --gpas --vocab "$3" \
    --batch "$4" --seq "$5" --steps "$steps" > "$1"
}

for r in $(seq "$rounds"); do
  for i in "${!shapes[@]}"; do
    IFS='|' read -r name gflags rflags vocab batch seq threads <<< "${shapes[$i]}"
    # Alternate which side goes first, round by round.
    if [ $((r % 2)) = 1 ]; then
      run_gpas "$tmp/g.$i.$r" "$gflags" "$vocab" "$batch" "$seq" "$threads"
      run_ref "$tmp/e.$i.$r" "$rflags" "$vocab" "$batch" "$seq" "$threads"
      [ -z "$base" ] || run_gpas "$tmp/b.$i.$r" "$gflags" "$vocab" "$batch" "$seq" "$threads" "$base"
    else
      [ -z "$base" ] || run_gpas "$tmp/b.$i.$r" "$gflags" "$vocab" "$batch" "$seq" "$threads" "$base"
      run_ref "$tmp/e.$i.$r" "$rflags" "$vocab" "$batch" "$seq" "$threads"
      run_gpas "$tmp/g.$i.$r" "$gflags" "$vocab" "$batch" "$seq" "$threads"
    fi
    echo "round $r/$rounds: $name, vocab $vocab, ${batch}x$seq, $threads thread(s)" >&2
  done
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
torch_v=$(jq -r .torch_version "$tmp/g.0.1")
echo "Host: $cpu, $(nproc) cores. LibTorch $torch_v (gpas); $("$python" -c 'import torch; print("PyTorch", torch.__version__)') (reference)."
echo "gpas $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- core cli 2>/dev/null || echo ' (modified)'), $(date -u +%Y-%m-%d), $rounds rounds of $steps steps, Pre-LN + GPAS, fp32, Adam."
echo
[ -z "$base" ] || echo "Base: $base."
bh="" bs=""
[ -z "$base" ] || { bh=" base tokens/s | gpas / base |"; bs="---|---|"; }
echo "| shape | vocab | batch | threads | gpas tokens/s | eager tokens/s | gpas / eager (medians) | torch::mm GFLOP/s | gpas / mm |$bh"
echo "|---|---|---|---|---|---|---|---|---|$bs"
for i in "${!shapes[@]}"; do
  IFS='|' read -r name gflags rflags vocab batch seq threads <<< "${shapes[$i]}"
  files=()
  for r in $(seq "$rounds"); do
    files+=("$tmp/g.$i.$r" "$tmp/e.$i.$r")
    [ -z "$base" ] || files+=("$tmp/b.$i.$r")
  done
  # Each file gets a side: g (gpas), e (eager), b (base), from its name.
  for f in "${files[@]}"; do jq -c --arg side "$(basename "$f" | cut -c1)" '. + {side: $side}' "$f"; done |
  jq -s --arg name "$name" --arg v "$vocab" --arg b "${batch} x $seq" --arg t "$threads" -r '
    def med: sort | .[(length / 2 | floor)];
    def rng: "\(min | round)-\(max | round)";
    def tps($s): map(select(.side == $s) | .tokens_per_second);
    (map(select(.side == "g"))) as $g | tps("g") as $gt | tps("e") as $et | tps("b") as $bt |
    "| \($name) | \($v) | \($b) | \($t) | \($gt | rng) | \($et | rng) | \(($gt | med) / ($et | med) * 100 | round / 100) | " +
    (if $name == "9m" then "\($g | map(.peak_flops / 1e9) | rng) | \($g | map(.mfu * 100 | round / 100) | "\(min)-\(max) (median \(med))") |"
     else " | |" end) +
    (if ($bt | length) > 0 then " \($bt | rng) | \(($gt | med) / ($bt | med) * 100 | round / 100) |" else "" end)'
done
