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

port=$((20000 + RANDOM % 20000))
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port GPAS_THREADS=1 \
    "$gpas" train "${common[@]}" --set train.micro_batch=4 --run-dir "$tmp/two" > "$tmp/two.$r.json" &
done
wait

python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
one = json.load(open(f"{tmp}/one.json"))
two = json.load(open(f"{tmp}/two.0.json"))
def losses(path):
    out = {}
    for line in open(path):
        j = json.loads(line)
        if j.get("type") == "metric" and j["key"] in ("train/loss", "eval/loss"):
            out[(j["key"], j["step"])] = j["value"]
    return out
a, b = losses(f"{tmp}/one/journal.jsonl"), losses(f"{tmp}/two/journal.jsonl")
assert one["status"] == two["status"] == "completed", (one, two)
# Without the collective each rank would train the whole batch alone and match trivially.
assert one["world_size"] == 1 and two["world_size"] == 2, (one, two)
assert a.keys() == b.keys() and len(a) == 7, (sorted(a), sorted(b))
for k in a:
    assert abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(a[k])), (k, a[k], b[k])
print("ddp_test: ok,", len(a), "losses equal within 1e-4")
PY
