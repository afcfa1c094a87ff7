#!/usr/bin/env bash
# NCCL data parallelism on real GPUs: one rank in a NCCL group of one (needs 1 GPU), then two
# ranks on two GPUs whose losses must equal one rank's with the same global batch (needs 2).
# Skips (exit 77, ctest's "skipped"), saying why, where there are not enough GPUs or no NCCL.
set -euo pipefail
gpas=$1
version=$("$gpas" libtorch)  # what LibTorch sees (gpas --version does not load it)
gpus=$(sed -n 's/^cuda available (\([0-9]*\) devices)$/\1/p' <<<"$version")
gpus=${gpus:-0}
if ! grep -q '^nccl yes' <<<"$version"; then echo "nccl_test: skipped: this gpas was built without NCCL"; exit 77; fi
if [ "$gpus" -lt 1 ]; then echo "nccl_test: skipped: no CUDA device"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--set model.size=tiny --set data.source=synthetic --set train.steps=6 --set train.batch_size=8
        --set train.seq_len=32 --set train.eval_tokens=1024 --set train.log_every=1
        --set train.device=cuda --no-index --json)
port() { echo $((20000 + RANDOM % 20000)); }

"$gpas" train "${common[@]}" --set train.micro_batch=8 --run-dir "$tmp/one" > "$tmp/one.json"
GPAS_DIST_BACKEND=nccl MASTER_ADDR=127.0.0.1 MASTER_PORT=$(port) GPAS_BUCKET_MB=0.02 \
  timeout 300 "$gpas" train "${common[@]}" --set train.micro_batch=8 --run-dir "$tmp/group1" > "$tmp/group1.json"

ranks=0
if [ "$gpus" -ge 2 ]; then
  ranks=2
  p=$(port)
  pids=()
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
      timeout 300 "$gpas" train "${common[@]}" --set train.micro_batch=4 --run-dir "$tmp/two" > "$tmp/two.$r.json" &
    pids+=($!)
  done
  for r in 0 1; do wait "${pids[$r]}" || { echo "nccl rank $r exited with $?"; exit 1; }; done
else
  echo "nccl_test: the 2-rank part skipped: $gpus GPU (needs 2)"
fi

python3 - "$tmp" "$ranks" <<'PY'
import json, sys
tmp, ranks = sys.argv[1], int(sys.argv[2])
def losses(path):
    return {(j["key"], j["step"]): j["value"] for j in map(json.loads, open(path))
            if j.get("type") == "metric" and j["key"] in ("train/loss", "eval/loss")}
def dist(path):
    return [j for j in map(json.loads, open(path)) if j.get("type") == "summary"][-1]["dist"]
a = losses(f"{tmp}/one/journal.jsonl")
runs = ["group1"] + (["two"] if ranks == 2 else [])
for run in runs:
    d = dist(f"{tmp}/{run}/journal.jsonl")
    assert d["backend"] == "nccl", (run, d)
    b = losses(f"{tmp}/{run}/journal.jsonl")
    assert a.keys() == b.keys() and len(a) == 7, (run, sorted(a), sorted(b))
    for k in a:
        assert abs(a[k] - b[k]) <= 2e-3 * max(1.0, abs(a[k])), (run, k, a[k], b[k])
    print("nccl_test:", run, "matches one process;", d)
PY
