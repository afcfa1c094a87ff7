#!/usr/bin/env bash
# Data parallelism on the CPU through c10d/Gloo: two real `gpas train` ranks with the same global
# batch and seed give the losses of one rank (to float tolerance), and rank 0 alone writes the run.
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--set model.size=tiny --set data.source=synthetic --set train.steps=6 --set train.batch_size=8
        --set train.seq_len=32 --set train.eval_tokens=1024 --set train.log_every=1 --no-index --json)

GPAS_THREADS=1 "$gpas" train "${common[@]}" --set train.micro_batch=8 --run-dir "$tmp/one" > "$tmp/one.json"

# Two ranks of one job; each must exit 0 (a hang is a failure, not a stuck CI).
start_ranks() {  # run_dir extra-args...
  local dir=$1; shift
  local port=$((20000 + RANDOM % 20000))
  pids=()
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port GPAS_THREADS=1 \
      timeout 120 "$gpas" train "${common[@]}" --set train.micro_batch=4 "$@" --run-dir "$dir" \
      > "$dir.$r.json" &
    pids+=($!)
  done
}
start_ranks "$tmp/two"
for r in 0 1; do wait "${pids[$r]}" || { echo "rank $r exited with $?"; exit 1; }; done
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['status']=='completed', j" "$tmp/two.1.json"
# Rank 0 alone writes the TensorBoard event file too (one file, beside its journal).
[ "$(ls "$tmp/two/tb" | grep -c '^events\.out\.tfevents\.')" = 1 ] || { ls "$tmp/two/tb"; echo "not one event file"; exit 1; }

# The same job with gradient buckets of 20 KB: many buckets, most sent while backward still runs
# (as DDP overlaps them); the losses must not change.
GPAS_BUCKET_MB=0.02 start_ranks "$tmp/buckets"
for r in 0 1; do wait "${pids[$r]}" || { echo "rank $r (small buckets) exited with $?"; exit 1; }; done

python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
one = json.load(open(f"{tmp}/one.json"))
two = json.load(open(f"{tmp}/two.0.json"))
def summary(path):
    return [json.loads(l) for l in open(path) if json.loads(l).get("type") == "summary"][-1]
dist = summary(f"{tmp}/buckets/journal.jsonl")["dist"]
assert dist["backend"] == "gloo" and dist["world"] == 2, dist
assert dist["grad_buckets"] > 4 and dist["buckets_sent_during_backward"] >= dist["grad_buckets"] - 2, dist
print("ddp_test: small buckets:", dist)
def losses(path):
    out = {}
    for line in open(path):
        j = json.loads(line)
        if j.get("type") == "metric" and j["key"] in ("train/loss", "eval/loss"):
            out[(j["key"], j["step"])] = j["value"]
    return out
a, b = losses(f"{tmp}/one/journal.jsonl"), losses(f"{tmp}/two/journal.jsonl")
c = losses(f"{tmp}/buckets/journal.jsonl")
assert one["status"] == two["status"] == "completed", (one, two)
assert c.keys() == a.keys(), (sorted(a), sorted(c))
for k in a:
    assert abs(a[k] - c[k]) <= 1e-4 * max(1.0, abs(a[k])), ("small buckets", k, a[k], c[k])
# Without the collective each rank would train the whole batch alone and match trivially.
assert one["world_size"] == 1 and two["world_size"] == 2, (one, two)
assert a.keys() == b.keys() and len(a) == 7, (sorted(a), sorted(b))
for k in a:
    assert abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(a[k])), (k, a[k], b[k])
print("ddp_test: ok,", len(a), "losses equal within 1e-4")
PY

# Schemes with parameters of other shapes and sharing (DyT's alphas and embedding scale, HybridNorm*'s
# Q/K/V norms, ReZero's one scalar shared by both sub-layers), with GPAS: two ranks equal one.
for scheme in dyt hybrid_star rezero; do
  extra=(--set model.norm=$scheme --set model.gpas.enabled=true)
  GPAS_THREADS=1 "$gpas" train "${common[@]}" "${extra[@]}" --set train.micro_batch=8 --run-dir "$tmp/one-$scheme" > /dev/null
  start_ranks "$tmp/two-$scheme" "${extra[@]}"
  for r in 0 1; do wait "${pids[$r]}" || { echo "$scheme: rank $r exited with $?"; exit 1; }; done
  python3 - "$tmp/one-$scheme/journal.jsonl" "$tmp/two-$scheme/journal.jsonl" "$scheme" <<'PY'
import json, sys
def losses(path):
    return {(j["key"], j["step"]): j["value"] for j in map(json.loads, open(path))
            if j.get("type") == "metric" and j["key"] in ("train/loss", "eval/loss")}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
assert a.keys() == b.keys() and len(a) == 7, (sorted(a), sorted(b))
for k in a:
    assert abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(a[k])), (sys.argv[3], k, a[k], b[k])
print("ddp_test:", sys.argv[3], "+ GPAS: two ranks equal one,", len(a), "losses")
PY
done

# A rank that dies (SIGKILL, no word to the others) fails the other with an error, not a hang.
GPAS_DIST_TIMEOUT_S=20 start_ranks "$tmp/dead" --set train.steps=100000 --set train.checkpoint_every=0
for _ in $(seq 1 200); do
  grep -q '"key":"train/loss"' "$tmp/dead/journal.jsonl" 2>/dev/null && break
  sleep 0.1
done
pkill -KILL -P "${pids[1]}"  # the gpas under rank 1's `timeout`
rc=0
wait "${pids[0]}" || rc=$?
wait "${pids[1]}" 2>/dev/null || true
case $rc in
  1) echo "ddp_test: rank 0 failed with exit 1 after rank 1 was killed" ;;
  *) echo "rank 0 exited with $rc after rank 1 died (want 1: an error; 124 = it hung until timeout)"; exit 1 ;;
esac

# A stop signal that reaches one rank only stops both at the same step (they agree through the
# all-reduce); neither waits alone in a collective until the timeout.
start_ranks "$tmp/stop" --set train.steps=100000 --set train.checkpoint_every=0
for _ in $(seq 1 200); do
  grep -q '"key":"train/loss"' "$tmp/stop/journal.jsonl" 2>/dev/null && break
  sleep 0.1
done
kill -TERM "${pids[1]}"
for r in 0 1; do
  rc=0
  wait "${pids[$r]}" || rc=$?
  [ "$rc" = 130 ] || { echo "rank $r exited with $rc after a SIGTERM to rank 1 (want 130, cancelled)"; exit 1; }
done
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
a, b = (json.load(open(f"{tmp}/stop.{r}.json")) for r in (0, 1))
assert a["status"] == b["status"] == "cancelled" and a["steps"] == b["steps"] < 100000, (a, b)
print("ddp_test: a SIGTERM to rank 1 stopped both ranks at step", a["steps"])
PY
