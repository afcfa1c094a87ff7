#!/usr/bin/env bash
# End-to-end for Table 3 with the real gpas binary, files made here in the real formats: pretrain a
# tiny Pre + GPAS model, export it folded into a plain LLaMA (logits checked), evaluate it zero-shot
# (journal and store), finetune it with LISA on instruction data (gates frozen) with evaluation at
# the end, rebuild Table 3, and measure layer importance by downstream accuracy.
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export GPAS_THREADS=${GPAS_THREADS:-2}
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 - <<'PY'
import json, os, random
rng = random.Random(3)
noun = "house river city garden teacher letter window road market winter child story".split()
verb = "sees builds finds carries opens reads follows answers paints".split()
adj = "small old green quiet long bright cold early".split()
def sent(): return f"the {rng.choice(adj)} {rng.choice(noun)} {rng.choice(verb)} the {rng.choice(noun)}."
os.makedirs("corpus")
with open("corpus/a.jsonl", "w") as f:
    for i in range(300): f.write(json.dumps({"text": " ".join(sent() for _ in range(rng.randint(2, 6)))}) + "\n")
rows = [{"instruction": f"Which {rng.choice(noun)} {rng.choice(verb)}?", "input": "" if i % 2 else sent(),
         "output": f"the {rng.choice(noun)}"} for i in range(24)]
json.dump(rows, open("sft.json", "w"))
os.makedirs("tasks")
def w(name, rows): open(f"tasks/{name}.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in rows))
w("piqa", [{"goal": sent(), "sol1": sent(), "sol2": sent(), "label": i % 2} for i in range(8)])
w("boolq", [{"question": "is the house old", "passage": sent(), "label": i % 2} for i in range(6)])
w("winogrande", [{"sentence": f"the {rng.choice(noun)} sees _ today.", "option1": "the city", "option2": "the road",
                  "answer": str(1 + i % 2)} for i in range(6)])
w("arc_easy", [{"question": sent(), "choices": {"text": [sent(), sent(), sent()], "label": ["A", "B", "C"]},
                "answerKey": "ABC"[i % 3]} for i in range(6)])
PY

"$gpas" data tokenizer --input corpus --vocab-size 56 --character-coverage 1.0 --out tok.model > /dev/null
"$gpas" data prepare --corpus corpus --tokenizer tok.model --out prep --val-fraction 0.1 > /dev/null
"$gpas" train --set model.gpas.enabled=true --set model.layers=3 --set data.source=prepared --set data.path=prep \
  --set data.tokenizer=tok.model --set train.steps=30 --set train.seq_len=64 --set train.eval_tokens=2000 \
  --set train.lr=3e-3 --json > parent.json
parent=$(python3 -c 'import json; print(json.load(open("parent.json"))["run_id"])')
ckpt=$(ls runs/$parent/checkpoints/*.pt | tail -1)

# --- export: folded into a plain LLaMA; the unfolded export warns ----------------------------------
"$gpas" export "$ckpt" --out plain 2> plain.err > /dev/null
grep -q "not a plain LLaMA" plain.err || fail "plain export of a GPAS model did not warn"
"$gpas" export "$ckpt" --out folded --fold-gates > folded.txt
cat folded.txt
python3 - <<'PY' || fail "folded export"
import json, re, struct
cfg = json.load(open("folded/config.json"))
assert cfg["architectures"] == ["LlamaForCausalLM"] and not any("gpas" in k for k in cfg), cfg.keys()
raw = open("folded/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
names = [k for k in json.loads(raw[8:8 + n]) if k != "__metadata__"]
assert names and not any("gpas" in k for k in names), names
d = float(re.search(r"max \|logit difference\| vs the unfolded model ([0-9.e+-]+)", open("folded.txt").read()).group(1))
assert d < 1e-3, d
# The tokenizer travels with the export, folded or not, and its ids are in config.json.
for d in ("folded", "plain"):
    c = json.load(open(f"{d}/config.json"))
    assert open(f"{d}/tokenizer.model", "rb").read() == open("tok.model", "rb").read(), d
    assert isinstance(c["eos_token_id"], int) and isinstance(c["pad_token_id"], int) and "bos_token_id" in c, c
PY
# ... so a folded export is evaluated as it is (it was "no tokenizer known for this model").
"$gpas" eval folded --tasks-dir tasks --limit 5 --no-record --json > eval_folded.json || fail "eval of a folded export"

# --- zero-shot evaluation of the pretrained run: journal and store -----------------------------
"$gpas" eval "$parent" --tasks-dir tasks --limit 5 --json > eval.json
python3 - <<'PY' || fail "eval output"
import json
j = json.load(open("eval.json"))
assert set(j["tasks"]) == {"piqa", "boolq", "winogrande", "arc_easy"}, j["tasks"].keys()
assert j["tasks"]["piqa"]["n"] == 5 and "acc_norm" in j["tasks"]["piqa"] and "acc_norm" not in j["tasks"]["boolq"]
PY
"$gpas" eval "$parent" --tasks-dir tasks --limit 5 --json --no-record > eval2.json
cmp <(python3 -c 'import json; print(json.load(open("eval.json"))["tasks"])') \
    <(python3 -c 'import json; print(json.load(open("eval2.json"))["tasks"])') || fail "eval is not deterministic"
"$gpas" query "SELECT count(*) FROM metrics WHERE run_id = '$parent' AND key LIKE 'downstream/%'" | grep -q "[1-9]" \
  || fail "eval results not in the store"
"$gpas" eval "$parent" --tasks-dir tasks --tasks squad 2> bad.err && fail "unknown task accepted"
grep -q "unknown task 'squad'" bad.err || fail "unknown task message: $(cat bad.err)"

# --- finetune (20 training examples x 2 epochs / batch 16 = 3 updates): LISA, gates frozen, evaluation at the end; a run in the store with its parent ----
"$gpas" finetune "$parent" --data sft.json --tasks-dir tasks --set data.val_examples=4 --set train.epochs=2 \
  --set train.warmup_steps=0 --set train.lisa_layers=1 --set train.lisa_interval=2 --set downstream.limit=5 \
  --set train.seq_len=512 --json > ft.json
cat ft.json
ft=$(python3 -c 'import json; j = json.load(open("ft.json")); assert j["status"] == "completed", j; print(j["run_id"])')
python3 -c 'import json; j = json.load(open("ft.json")); assert j["steps"] == 3 and j["parent"] == "run:'"$parent"'", j' \
  || fail "finetune steps/parent"
"$gpas" query "SELECT value FROM params WHERE run_id = '$ft' AND key = 'train.init_from'" | grep -q "run:$parent" \
  || fail "finetune's parent not in the store"
"$gpas" query "SELECT count(*) FROM metrics WHERE run_id = '$ft' AND key = 'downstream/average/acc'" | grep -q 1 \
  || fail "finetune's downstream results not in the store"
# The same finetune again is the same run: nothing to do.
"$gpas" finetune "$parent" --data sft.json --tasks-dir tasks --set data.val_examples=4 --set train.epochs=2 \
  --set train.warmup_steps=0 --set train.lisa_layers=1 --set train.lisa_interval=2 --set downstream.limit=5 \
  --set train.seq_len=512 --json | grep -q "\"run_id\":\"$ft\"" || fail "finetune identity"

# --- Table 3 and layer importance by downstream accuracy ---------------------------------------
"$gpas" report table3 --compare-paper --format md > t3.md
cat t3.md
grep -q "| Pre + GPAS |" t3.md || fail "table3 row"
grep -q "44.32" t3.md || fail "table3 paper numbers"
"$gpas" analyze importance "$ft" --tasks-dir tasks --limit 3 --json > imp.json
python3 -c 'import json; j = json.load(open("imp.json")); assert len(j["layers"]) == 3, j' || fail "importance"
"$gpas" query "SELECT count(*) FROM layer_stats WHERE run_id = '$ft' AND kind = 'importance_acc'" | grep -q 3 \
  || fail "importance_acc not in the store"
echo "sft_test: ok"
