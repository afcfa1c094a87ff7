#!/usr/bin/env bash
# End-to-end: the result subcommands of the real gpas binary on hand-written run directories
# (journal.jsonl as the trainer writes it): ingest, runs list/show, query (and its refusal),
# report table2/ablations/pivot/figures/html.
set -euo pipefail
gpas="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

write_run() {  # id norm gpas seed ppl status
  local dir="runs/$1"
  mkdir -p "$dir"
  local cfg="{\"name\":\"r-$1\",\"model\":{\"size\":\"9m\",\"norm\":\"$2\",\"gpas\":{\"enabled\":$3}},\"train\":{\"seed\":$4}}"
  {
    echo "{\"seq\":0,\"type\":\"start\",\"time\":1.0,\"run_id\":\"$1\",\"attempt\":1,\"host\":\"h\",\"pid\":1,\"config\":$cfg}"
    echo "{\"seq\":1,\"type\":\"metric\",\"time\":2.0,\"step\":10,\"key\":\"train/loss\",\"value\":4.0}"
    echo "{\"seq\":2,\"type\":\"metric\",\"time\":3.0,\"step\":20,\"key\":\"train/loss\",\"value\":3.5}"
    echo "{\"seq\":3,\"type\":\"metric\",\"time\":3.0,\"step\":20,\"key\":\"eval/loss\",\"value\":3.4}"
    echo "{\"seq\":4,\"type\":\"metric\",\"time\":3.0,\"step\":20,\"key\":\"eval/ppl\",\"value\":$5}"
    local seq=10
    for l in 0 1; do
      for k in gate act_var grad_norm attn_wnorm ffn_wnorm importance_ppl; do
        seq=$((seq + 1))
        echo "{\"seq\":$seq,\"type\":\"layer\",\"time\":3.0,\"step\":20,\"layer\":$l,\"kind\":\"$k\",\"value\":1.$l}"
      done
    done
    echo "{\"seq\":90,\"type\":\"status\",\"time\":4.0,\"status\":\"$6\",\"step\":20}"
  } > "$dir/journal.jsonl"
}
write_run aaaaaaaaaaa1 pre false 0 30.5 completed
write_run aaaaaaaaaaa2 pre true 0 29.5 completed
write_run aaaaaaaaaaa3 post false 0 0 diverged

"$gpas" ingest | grep -q "from 3 run directories"
"$gpas" ingest | grep -q "ingested 0 new journal lines"
"$gpas" runs list | grep -q "aaaaaaaaaaa3.*diverged"
"$gpas" runs list --where model.norm=pre --json | grep -c '"id"' | grep -qx 2
"$gpas" runs show aaaaaaaaaaa2 | grep -q "Pre + GPAS"
[ "$("$gpas" query "SELECT COUNT(*) AS n FROM metrics" --format csv)" = $'n\n12' ]
[ "$("$gpas" query "SELECT COUNT(*) AS n FROM layer_stats" --format csv)" = $'n\n36' ]
if "$gpas" query "DELETE FROM runs" 2>err.txt; then echo "a write was not refused"; exit 1; fi
grep -q "read-only" err.txt
"$gpas" report table2 | grep -q "| Pre + GPAS | \*\*29.50 (-1.00)\*\* |"
"$gpas" report table2 --format latex | grep -q '\\textit{diverged}'
"$gpas" report table2 --format csv --compare-paper | head -1 | grep -q ",paper$"
"$gpas" report pivot --rows method --cols model.size | grep -q "Pre-LN | 30.50"
"$gpas" report figures --out-dir figs | grep -c "figs/fig" | grep -qx 12
"$gpas" report html --out page.html
grep -q "<svg" page.html
echo "results_test: ok"
