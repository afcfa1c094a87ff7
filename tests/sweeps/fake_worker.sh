#!/usr/bin/env bash
# A stand-in for `gpas train` that keeps the worker contract (journal lines, a heartbeat per step,
# resume from a checkpoint, SIGTERM/SIGUSR1 -> checkpoint + status cancelled + exit 130; exit 0
# completed, 3 diverged) so the scheduler and the backends are tested without LibTorch.
# Behaviour comes from the resolved config: train.steps, and train.seed as a scenario:
#   0 normal   1 crash (exit 137) once at step 3   2 diverge at step 2   3 hang once at step 2
#   4 fail (exit 1) every time   5 slow (0.3 s per step)
set -u
# Like the contract says, a sweep worker never opens gpas.db: --no-index is required.
[ "${1:-}" = train ] || { echo "usage: fake_worker.sh train --config C --run-dir D [--workdir W] --no-index" >&2; exit 2; }
shift
no_index=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --workdir) shift 2 ;;
    --no-index) no_index=1; shift ;;
    *) echo "fake_worker: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$no_index" = 1 ] || { echo "fake_worker: a sweep worker must get --no-index (the orchestrator ingests)" >&2; exit 2; }
steps=$(awk '/^train:/{t=1;next} /^[a-z]/{t=0} t && $1=="steps:"{print $2; exit}' "$config")
seed=$(awk '/^train:/{t=1;next} /^[a-z]/{t=0} t && $1=="seed:"{print $2; exit}' "$config")
mkdir -p "$run_dir/checkpoints"
journal="$run_dir/journal.jsonl"
ckpt="$run_dir/checkpoints/last"
now() { date +%s.%N; }
line() { printf '{"type":"%s","time":%s%s}\n' "$1" "$(now)" "$2" >> "$journal"; }
step=0
[ -f "$ckpt" ] && step=$(cat "$ckpt")
attempt=$(grep -c '"type":"start"' "$journal" 2>/dev/null || true)
line start ",\"run_id\":\"$(basename "$run_dir")\",\"attempt\":${attempt:-0},\"host\":\"$(hostname)\",\"pid\":$$,\"rank\":\"${RANK:-}\",\"world\":\"${WORLD_SIZE:-}\",\"cuda\":\"${CUDA_VISIBLE_DEVICES-unset}\",\"threads\":\"${GPAS_THREADS-unset}\""
line status ",\"status\":\"running\",\"step\":$step"
stop=0
trap 'stop=1' TERM INT USR1
delay=0.05
[ "$seed" = 5 ] && delay=0.3
while [ "$step" -lt "$steps" ]; do
  if [ "$stop" = 1 ]; then
    echo "$step" > "$ckpt"; line status ",\"status\":\"cancelled\",\"step\":$step"; exit 130
  fi
  step=$((step + 1))
  if [ "$seed" = 1 ] && [ "$step" = 3 ] && [ ! -f "$run_dir/crashed" ]; then touch "$run_dir/crashed"; kill -9 $$; fi
  if [ "$seed" = 2 ] && [ "$step" = 2 ]; then line status ",\"status\":\"diverged\",\"step\":2"; exit 3; fi
  if [ "$seed" = 3 ] && [ "$step" = 2 ] && [ ! -f "$run_dir/hung" ]; then touch "$run_dir/hung"; sleep 1000 & wait; fi
  if [ "$seed" = 4 ]; then line status ",\"status\":\"failed\",\"step\":$step,\"error\":\"scripted failure\""; exit 1; fi
  sleep "$delay" & wait $!
  line heartbeat ",\"step\":$step"
  echo "$step" > "$ckpt"
done
line status ",\"status\":\"completed\",\"step\":$step"
exit 0
