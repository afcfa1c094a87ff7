#!/usr/bin/env bash
# A real 2-node Slurm job of gpas: a private Slurm of two slurmd on this host (nodes n1, n2, both
# 127.0.0.1) runs `gpas sweep run --backend slurm --cpu --gpus-per-job 2 --gpus-per-node 1`, one Gloo
# rank per node; its losses equal a 1-rank run's and the task log shows both ranks' exits by node.
# Skips (exit 77, saying why) where the daemons cannot start (not root, no Slurm packages).
# Usage: slurm_nodes_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
src=$2
tmp=$(mktemp -d)
cluster=$src/tests/sweeps/slurm_cluster.sh
cleanup() {
  if [ -f "$tmp/slurm/slurm.conf" ]; then
    SLURM_CONF=$tmp/slurm/slurm.conf scancel --quiet --name=gpas-sweep 2>/dev/null || true
    "$cluster" stop "$tmp/slurm"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir slurm
if ! "$cluster" start "$tmp/slurm" 2 > slurm.out 2> slurm.err; then
  echo "SKIP: no 2-node test Slurm: $(cat slurm.err)"
  exit 77
fi
export SLURM_CONF=$tmp/slurm/slurm.conf

cat > nodes.yaml <<'YAML'
sweep: nodes
base:
  model: {size: tiny}
  data: {source: synthetic}
  train: {steps: 6, warmup_steps: 1, batch_size: 8, micro_batch: 4, seq_len: 32, device: cpu,
          eval_tokens: 1024, log_every: 1}
grid:
  method: [pre+gpas]
YAML
export GPAS_THREADS=1
"$gpas" sweep run nodes.yaml --cpu --workdir one -q || fail "the 1-rank sweep failed: $(tail -20 one/runs/*/worker*.log)"
timeout 120 "$gpas" sweep run nodes.yaml --workdir two -q --backend slurm --cpu --gpus-per-job 2 --gpus-per-node 1 \
  || fail "the 2-node sweep failed: $(tail -n 20 two/sweeps/nodes/array-*/*.log two/runs/*/worker*.log 2>/dev/null)"

log=$(echo two/sweeps/nodes/array-*/*.log)
cat "$log"
grep -q "^gpas: rank exits (rank:code@host): 0:0@n1 1:0@n2$" "$log" \
  || fail "the task log does not show rank 0 exiting 0 on n1 and rank 1 on n2"

python3 - one/runs/*/journal.jsonl two/runs/*/journal.jsonl <<'PY'
import json, sys
def read(path):
    lines = [json.loads(l) for l in open(path)]
    losses = {(l["key"], l["step"]): l["value"] for l in lines
              if l["type"] == "metric" and l["key"] in ("train/loss", "eval/loss")}
    status = [l["status"] for l in lines if l["type"] == "status"][-1]
    dist = ([l for l in lines if l["type"] == "summary"] or [{}])[-1].get("dist", {})
    return losses, status, dist
(a, sa, _), (b, sb, db) = read(sys.argv[1]), read(sys.argv[2])
assert sa == sb == "completed", (sa, sb)
# Without the collective each rank would train the whole batch alone and match trivially.
assert db.get("world") == 2 and db.get("backend") == "gloo", db
assert a.keys() == b.keys() and len(a) == 7, (sorted(a), sorted(b))
for k in a:
    assert abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(a[k])), (k, a[k], b[k])
print("slurm_nodes_test: ok, 2 ranks on nodes n1, n2:", len(a), "losses equal a 1-rank run's within 1e-4")
PY
