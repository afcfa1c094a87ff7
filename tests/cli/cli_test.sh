#!/usr/bin/env bash
# The command line's conventions with the real binary: help for a command without its subcommand,
# `gpas: error:` + exit 2 + a suggestion for typos, -w/--workdir and GPAS_WORKDIR everywhere, no
# silent empty answers (unknown metric, --where key, --compare-paper without paper numbers), the
# terminal table format, runs compare / tag / note / delete (refusing a live run), sweep list,
# completion and the man page. Runs on hand-written journals: seconds, no training.
# Usage: cli_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect CODE CMD...: runs CMD, checks its exit code, keeps stdout in out.txt and stderr in err.txt
expect() {
  local want=$1; shift
  set +e; "$@" > out.txt 2> err.txt; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat out.txt err.txt; fail "exit $rc, not $want: $*"; }
}

# ---- help, usage errors, exit codes ----
expect 0 "$gpas"
grep -q "Exit codes: 0 success, 1 error" out.txt || fail "bare gpas does not print its help with the exit codes"
for sub in runs report sweep model data; do
  expect 0 "$gpas" $sub
  # CLI11 2.1 (bookworm) starts the usage line with "Usage: ", 2.6 (sid) without.
  grep -qE "^(Usage: )?gpas $sub \[OPTIONS\]" out.txt || fail "gpas $sub does not print its help"
done
expect 2 "$gpas" runs lst
grep -qx 'gpas: error: gpas runs: unknown command `lst`; did you mean `list`?' <(head -1 err.txt) || fail "no suggestion: $(cat err.txt)"
expect 2 "$gpas" rnus
grep -q 'did you mean `runs`' err.txt || fail "no suggestion for a top-level typo"
expect 2 "$gpas" runs list --wokdir x
grep -q '^gpas: error: .*unknown option `--wokdir`; did you mean `--workdir`' err.txt || fail "unknown option: $(cat err.txt)"
expect 2 "$gpas" runs show
grep -q "^gpas: error: gpas runs show: run is required" err.txt || fail "missing argument: $(cat err.txt)"
expect 2 "$gpas" report table2 --format docx
grep -q "^gpas: error:" err.txt || fail "bad --format value"
expect 1 "$gpas" runs list -w "$tmp/nowhere"
grep -q "^gpas: error: .*nowhere/gpas.db" err.txt || fail "a missing store"

# Every command that reads or writes a workdir takes -w/--workdir and GPAS_WORKDIR.
for c in "ingest" "query" "runs list" "runs show" "runs compare" "runs delete" "runs tag" "runs note" \
         "report table2" "report schemes" "report ablations" "report pivot" "report figures" "report html" "report mechanism" \
         "sweep plan" "sweep run" "sweep status" "sweep cancel" "sweep list" "ablate" "train" "analyze importance" \
         "export-runs" "serve"; do
  "$gpas" $c --help > help.txt
  grep -q -- "-w, *--workdir.*(Env:GPAS_WORKDIR)" help.txt || fail "gpas $c has no -w/--workdir with GPAS_WORKDIR"
done
for c in "query" "runs list" "runs show" "runs compare" "runs tag" "runs delete" "report table2" "report schemes" "report pivot" \
         "report ablations" "report figures" "report mechanism" "sweep list" "sweep plan" "sweep status" "ablate" "train" "model info" \
         "model forward" "export" "ingest" "data tokenizer" "data prepare" "data inspect" "data encode" "data brown" \
         "bench train" "bench head" "bench plan" "analyze importance" "export-runs" "libtorch"; do
  "$gpas" $c --help | grep -q -- "--json" || fail "gpas $c has no --json"
done

# bench head times ATen's GEMMs everywhere, and gpas's beside them (the same results) where they run.
"$gpas" bench head --rows 13 --hidden 64 --vocab 100 --reps 1 --json | python3 -c "
import json, sys
r = json.load(sys.stdin)
sides = [s['side'] for s in r['sides']]
assert sides == (['gpas', 'aten'] if r['gpas_kernels'] else ['aten']), r
assert all(p['gflops'] > 0 for s in r['sides'] for p in s['products']), r
assert not r['gpas_kernels'] or r['max_relative_difference'] < 1e-5, r
" || fail "bench head --json"
expect 2 "$gpas" bench head --rows 0
grep -q "^gpas: error: bench head: --rows" err.txt || fail "bench head --rows 0: $(cat err.txt)"

# ---- a store of three runs ----
write_run() {  # id norm gpas ppl status [host pid]
  local dir="w/runs/$1"
  mkdir -p "$dir"
  local cfg="{\"name\":\"r-$1\",\"model\":{\"size\":\"9m\",\"norm\":\"$2\",\"gpas\":{\"enabled\":$3}},\"train\":{\"seed\":0}}"
  {
    echo "{\"seq\":0,\"type\":\"start\",\"time\":1.0,\"run_id\":\"$1\",\"attempt\":1,\"host\":\"${6:-h}\",\"pid\":${7:-1},\"config\":$cfg}"
    local s=1
    for step in 10 20 30 40; do
      echo "{\"seq\":$s,\"type\":\"metric\",\"time\":2.0,\"step\":$step,\"key\":\"train/loss\",\"value\":$(awk "BEGIN{print 5 - $step / 20 + $4 / 100}")}"
      s=$((s + 1))
    done
    echo "{\"seq\":10,\"type\":\"metric\",\"time\":3.0,\"step\":40,\"key\":\"eval/loss\",\"value\":3.4}"
    echo "{\"seq\":11,\"type\":\"metric\",\"time\":3.0,\"step\":40,\"key\":\"eval/ppl\",\"value\":$4}"
    [ "$5" = running ] || echo "{\"seq\":90,\"type\":\"status\",\"time\":4.0,\"status\":\"$5\",\"step\":40}"
  } > "$dir/journal.jsonl"
}
write_run aaaaaaaaaaa1 pre false 30.5 completed
write_run bbbbbbbbbbb2 pre true 29.5 completed
write_run ccccccccccc3 post false 0 running "$(hostname)" $$
export GPAS_WORKDIR="$tmp/w"   # from here on, no command names the workdir
"$gpas" ingest > /dev/null

# ---- no silent empty answers ----
expect 2 "$gpas" report table2 --metric eval/pplx
grep -q "unknown metric 'eval/pplx'; did you mean \`eval/ppl\`" err.txt || fail "unknown metric: $(cat err.txt)"
expect 2 "$gpas" runs list --where model.nrom=pre
grep -q "did you mean \`model.norm\`" err.txt || fail "unknown --where key: $(cat err.txt)"
expect 0 "$gpas" runs list --where model.norm=pree
grep -q "no run has model.norm=pree (values in the store: post, pre)" err.txt || fail "empty --where answer not explained"
expect 2 "$gpas" report pivot --rows method --cols model.sise
grep -q "did you mean \`model.size\`" err.txt || fail "unknown pivot key"
expect 0 "$gpas" report table2 --compare-paper
grep -q "warning: --compare-paper: the paper's Table 2 has no numbers for 9m" err.txt || fail "no paper-column warning"
grep -q "has no numbers for 9m" out.txt || fail "the table does not state the missing paper column"

# ---- formats: md in a pipe, aligned text on a terminal, by --out's extension ----
"$gpas" report table2 | grep -q '| Pre + GPAS | \*\*29.50 (-1.00)\*\* |' || fail "md in a pipe"
"$gpas" report table2 --format text | grep -q '^Pre + GPAS  *29.50 (-1.00)▲$' || fail "text format (best marked ▲)"
"$gpas" report schemes | grep -q '^| Pre-LN |  | \*\*30.50\*\* | \*\*29.50\*\* | -1.00 |$' || fail "report schemes: one row per scheme"
if command -v script > /dev/null; then
  script -qec "$gpas report table2" /dev/null > tty.txt
  grep -q '<u>' tty.txt && fail "a terminal gets <u> tags"
  grep -q $'\033\\[1m29.50 (-1.00)' tty.txt || fail "a terminal does not get an aligned, emphasised table"
fi
"$gpas" report table2 --out t.tex 2> /dev/null && grep -q 'begin{tabular}' t.tex || fail "--out t.tex is not LaTeX"
"$gpas" report table2 --json | python3 -c "import json,sys; t=json.load(sys.stdin); assert t['title']=='Table 2'"
"$gpas" query "SELECT id FROM runs ORDER BY id" --json | python3 -c "import json,sys; assert len(json.load(sys.stdin))==3"

# ---- figures that cannot be drawn are named with the command that makes their data ----
"$gpas" report figures --out figs > figs.txt 2> figs.err
grep -qx "figs/fig2_loss.png" figs.txt || fail "figure 2 was not drawn"
grep -q "fig3_gates not drawn: .*train.probe_every" figs.err || fail "a figure without probes is not named: $(cat figs.err)"
grep -q "fig7_layer_importance not drawn: .*gpas analyze importance aaaaaaaaaaa1" figs.err || fail "fig 7 without its command"
"$gpas" report html --out page.html 2> /dev/null
grep -q "Figure 7: .*not drawn; .*gpas analyze importance" page.html || fail "the HTML page does not name the missing figure"
grep -q "<h2>Runs</h2>" page.html && grep -q "<summary><code>bbbbbbbbbbb2</code> r-bbbbbbbbbbb2</summary>" page.html \
  || fail "the HTML page does not list the runs and their configs"
grep -q "model.gpas.enabled = true" page.html || fail "the HTML page lacks the configs"

# ---- compare, tags, notes, delete, sweep list ----
expect 0 "$gpas" runs compare aaaaaaaaaaa1 bbbbbbbbbbb2 --out cmp
grep -q "^model.gpas.enabled  *false  *true$" out.txt || fail "compare does not show the differing key"
grep -q "^model.size" out.txt && fail "compare shows a key that does not differ"
grep -q "^eval/ppl  *30.5 / 30.5 @40  *29.5 / 29.5 @40$" out.txt || fail "compare metrics: $(cat out.txt)"
[ -s cmp/compare_loss.png ] && [ -s cmp/compare_loss.svg ] || fail "no comparison figure"
"$gpas" runs tag aaaaaaaaaaa1 baseline owner=me > /dev/null
"$gpas" runs note aaaaaaaaaaa1 "first try" > /dev/null
[ "$("$gpas" runs list --tag baseline --json | python3 -c "import json,sys; r=json.load(sys.stdin); print(len(r), r[0]['tags']['owner'])")" = "1 me" ] \
  || fail "tag filter"
"$gpas" runs show aaaaaaaaaaa1 | grep -q "^note  *first try$" || fail "the note is not shown"
"$gpas" runs tag aaaaaaaaaaa1 owner --remove | grep -qx "run aaaaaaaaaaa1: baseline" || fail "tag removal"
expect 1 "$gpas" runs delete ccccccccccc3
grep -q "is running" err.txt || fail "a live run was not refused"
[ -d w/runs/ccccccccccc3 ] || fail "the refused run lost its files"
expect 0 "$gpas" runs delete bbbbbbbbbbb2
[ ! -e w/runs/bbbbbbbbbbb2 ] || fail "delete left the run directory"
[ "$("$gpas" query "SELECT COUNT(*) FROM metrics WHERE run_id = 'bbbbbbbbbbb2'" --format csv | tail -1)" = 0 ] || fail "delete left metrics"
"$gpas" ingest > /dev/null
"$gpas" runs list | grep -q bbbbbbbbbbb2 && fail "a deleted run came back on ingest"
# --keep-files moves the directory out of runs/: out of every view (which index runs/), kept.
expect 0 "$gpas" runs delete aaaaaaaaaaa1 --keep-files
grep -q "moved to .*w/deleted-runs/aaaaaaaaaaa1" out.txt || fail "delete --keep-files does not say where: $(cat out.txt)"
[ -f w/deleted-runs/aaaaaaaaaaa1/journal.jsonl ] && [ ! -e w/runs/aaaaaaaaaaa1 ] || fail "delete --keep-files did not move the run"
"$gpas" runs list | grep -q aaaaaaaaaaa1 && fail "a run deleted with --keep-files came back in runs list"
expect 0 "$gpas" sweep list
grep -q "no sweeps" err.txt || fail "sweep list of a store without sweeps is silent"

# ---- train says what it trains; a run stopped before its first evaluation prints no nan ----
"$gpas" train --set train.steps=100000 --set train.eval_every=100000 -w "$tmp/tw" > train.out 2> train.err &
pid=$!
for _ in $(seq 100); do grep -q "^.*training run (tiny pre): .* parameters, data synthetic" train.err && break; sleep 0.2; done
grep -q "training run (tiny pre)" train.err || { kill $pid; cat train.err; fail "train does not say what it trains"; }
sleep 1
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" = 130 ] || { cat train.out train.err; fail "a stopped train exited $rc, not 130"; }
grep -q "cancelled after .* steps, no evaluation yet" train.out || fail "cancelled summary: $(cat train.out)"
grep -qi "nan" train.out && fail "a cancelled run printed nan: $(cat train.out)"
ckpt=$(ls "$tmp"/tw/runs/*/checkpoints/step_*.pt | tail -1)
"$gpas" export "$ckpt" --out hfx --json | python3 -c "import json,sys; j=json.load(sys.stdin); assert j['tensors'] > 0, j" \
  || fail "export --json"

# ---- completion and man page from the same tables ----
"$gpas" completion bash > gpas.bash
bash -c "source gpas.bash; COMP_WORDS=(gpas runs l); COMP_CWORD=2; _gpas; echo \${COMPREPLY[*]}" | grep -qx list \
  || fail "bash completion of gpas runs l"
bash -c "source gpas.bash; COMP_WORDS=(gpas report table2 --comp); COMP_CWORD=3; _gpas; echo \${COMPREPLY[*]}" \
  | grep -qx -- --compare-paper || fail "bash completion of an option"
bash -c "source gpas.bash; COMP_WORDS=(gpas report table2 --format l); COMP_CWORD=4; _gpas; echo \${COMPREPLY[*]}" \
  | grep -qx latex || fail "bash completion of an option's values"
bash -c "source gpas.bash; COMP_WORDS=(gpas completion z); COMP_CWORD=2; _gpas; echo \${COMPREPLY[*]}" \
  | grep -qx zsh || fail "bash completion of a positional's values"
"$gpas" completion zsh | sed -n 1p | grep -qx "#compdef gpas" || fail "zsh completion"
"$gpas" man --out gpas.1 2> /dev/null
grep -q '^\.SS "gpas runs compare"' gpas.1 || fail "man page lacks a command"
grep -q '^\.SH EXIT STATUS' gpas.1 || fail "man page lacks exit codes"
if command -v groff > /dev/null; then groff -man -Tutf8 gpas.1 2>&1 >/dev/null | grep -q . && fail "groff warns"; fi
echo "cli_test: ok"
