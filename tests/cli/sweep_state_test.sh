#!/usr/bin/env bash
# Sweep state with the real binary: the sweep record keeps the invocation (sets, device), so
# `sweep status`, `sweep cancel` and a plain rerun need only the file and the workdir, and the
# hints they print work when pasted; a cell shared by two sweeps is trained once and listed,
# reported and planned in both (many-to-many membership in gpas.db); checks before launch; the
# ablation presets are found from any directory.
# Usage: sweep_state_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export GPAS_THREADS=1
mkdir -p bin && ln -s "$gpas" bin/gpas && export PATH="$tmp/bin:$PATH"  # hints say `gpas ...`
for name in q other; do
  cat > $name.yaml <<YAML
sweep: $name
base:
  model: {size: tiny}
  data: {source: synthetic}
  train: {steps: 6, warmup_steps: 1, batch_size: 4, micro_batch: 4, seq_len: 16, eval_tokens: 256}
grid:
  method: [pre, pre+gpas]
YAML
done
starts() { cat w2/runs/*/journal.jsonl | grep -c '"type":"start"'; }

# 6. Run with --set and --cpu into a workdir; status needs only the file and the workdir.
gpas sweep run q.yaml --set train.steps=3 --cpu --workdir w2 -q > run1.txt || { cat run1.txt; fail "sweep run failed"; }
gpas sweep status q.yaml --workdir w2 > status.txt || { cat status.txt; fail "sweep status failed"; }
[ "$(grep -c ' completed ' status.txt)" = 2 ] || { cat status.txt; fail "status without the flags does not show the 2 finished jobs"; }
grep -q " 3/3 " status.txt || { cat status.txt; fail "status does not see the --set train.steps=3 jobs"; }
hint=$(grep -o 'no orchestrator running; `[^`]*`' status.txt | sed 's/.*`\(.*\)`/\1/')
[ "$hint" = "gpas sweep run q.yaml --workdir w2" ] || { cat status.txt; fail "status hint is '$hint'"; }
eval "$hint" > rerun.txt || { cat rerun.txt; fail "the pasted hint failed"; }
grep -q "2 completed" rerun.txt || { cat rerun.txt; fail "the pasted rerun did not find the finished jobs"; }
grep -q "on the CPU" rerun.txt || { cat rerun.txt; fail "the pasted rerun did not keep --cpu"; }
[ "$(starts)" = 2 ] || fail "the plain rerun trained again"
gpas sweep cancel q.yaml --workdir w2 | grep -q "not running" || fail "cancel with only the file and workdir"

# 3. A second sweep with the same cells: nothing trained again, the runs are listed in both.
gpas sweep run other.yaml --set train.steps=3 --cpu --workdir w2 -q > run2.txt || { cat run2.txt; fail "second sweep failed"; }
grep -q "2 completed" run2.txt || { cat run2.txt; fail "the second sweep did not find the shared cells completed"; }
[ "$(starts)" = 2 ] || fail "a cell shared by two sweeps was trained twice"
for s in q other; do
  n=$(gpas runs list --workdir w2 --sweep $s --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [ "$n" = 2 ] || fail "runs list --sweep $s shows $n runs (want 2)"
done
gpas sweep plan other.yaml --workdir w2 | grep -c ' completed ' | grep -qx 2 || fail "plan of the second sweep"
# ... and a store rebuilt from the run dirs keeps both memberships (the run dirs record every sweep).
gpas ingest --rebuild --workdir w2 > rebuild.txt || { cat rebuild.txt; fail "ingest --rebuild failed"; }
for s in q other; do
  n=$(gpas runs list --workdir w2 --sweep $s --json 2>&1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || true)
  [ "$n" = 2 ] || fail "after ingest --rebuild, runs list --sweep $s shows $n runs (want 2)"
done
# 4. Checks before launching: a missing data path, a GPU that is not there, a Slurm option on the
# local backend are refused before any job starts (and are warnings in `sweep plan`).
cat > nodata.yaml <<YAML
sweep: nodata
base:
  model: {size: tiny}
  data: {source: prepared, path: $tmp/no-such-data}
  train: {steps: 2, batch_size: 4, micro_batch: 4, seq_len: 16}
grid:
  method: [pre, post]
YAML
if gpas sweep run nodata.yaml --cpu --workdir w4 -q > nd.txt 2>&1; then fail "a sweep with a missing data.path started"; fi
grep -q "was not started" nd.txt && grep -q "no-such-data" nd.txt && grep -q "and 1 more" nd.txt \
  || { cat nd.txt; fail "the missing data path is not named before launch"; }
[ ! -d w4/runs ] || fail "a job was launched despite the missing data path"
gpas sweep plan nodata.yaml --workdir w4 > ndp.txt 2>&1 || fail "sweep plan failed on a missing data path"
grep -q "warning: job nodata/pre and 1 more: .*no-such-data" ndp.txt || { cat ndp.txt; fail "plan does not warn"; }
if [ "$(python3 -c 'import os; print(int(os.path.exists("/dev/nvidia0")))')" = 0 ]; then
  if gpas sweep run q.yaml --gpus 0 --workdir w5 -q > g.txt 2>&1; then fail "--gpus 0 without a GPU was accepted"; fi
  grep -q "there is no CUDA device 0" g.txt || { cat g.txt; fail "--gpus 0 without a GPU: $(cat g.txt)"; }
fi
if gpas sweep run q.yaml --cpu --partition gpu --workdir w5 -q > p.txt 2>&1; then fail "--partition with the local backend was accepted"; fi
grep -q -- "--partition gpu: a Slurm option" p.txt || { cat p.txt; fail "--partition with the local backend"; }
# 7. gpas ablate finds the paper preset from any directory (installed beside the binary); a
# --presets directory without paper.yaml is an error, not a silent other experiment.
gpas ablate --suite gate --plan --workdir wa > ab1.txt 2> ab1.err || { cat ab1.err; fail "ablate from $tmp"; }
(cd "$2" && gpas ablate --suite gate --plan --presets experiments/presets --workdir "$tmp/wa") > ab2.txt 2> ab2.err \
  || { cat ab2.err; fail "ablate from the source tree"; }
[ ! -s ab1.err ] || { cat ab1.err; fail "ablate from another directory warned"; }
diff <(awk '{print $1}' ab1.txt) <(awk '{print $1}' ab2.txt) > /dev/null \
  || fail "ablate from another directory plans other jobs than with the source tree's preset"
if gpas ablate --suite gate --plan --presets "$tmp/nowhere" > ab3.txt 2>&1; then fail "a missing preset was accepted"; fi
grep -q "no paper.yaml there" ab3.txt || { cat ab3.txt; fail "a missing preset: $(cat ab3.txt)"; }
echo "sweep_state_test: ok"
