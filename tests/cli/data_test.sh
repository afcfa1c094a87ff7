#!/usr/bin/env bash
# End-to-end: the data commands of the real gpas binary on a small corpus written here (plain text,
# JSONL, gzipped JSONL): tokenizer (unigram, BPE, --max-docs), prepare (and its rerun), inspect,
# 3 training steps on the prepared data, bench data --json, and every bad input of the data issue:
# a non-zero exit, stderr naming the file (and line), no manifest left behind; --skip-bad-lines.
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# ~400 documents of English-like sentences; docs.json keeps them for the decode checks.
python3 - <<'PY'
import gzip, json, os, random
rng = random.Random(7)
det = "the a this that every some one no each another my our their".split()
adj = ("small old green quiet long bright cold early strange heavy simple open dark warm famous "
       "narrow gentle broken careful empty hungry silver wooden distant sudden yellow proud").split()
noun = ("house river city garden teacher letter window road market winter child story machine "
        "mountain doctor village question paper forest kitchen bridge morning voice harbour "
        "engine island painter journey library orchard soldier camera theatre blanket weather "
        "merchant lantern valley festival chimney compass meadow factory sailor pocket").split()
verb = ("sees builds finds carries opens reads follows answers paints remembers crosses watches "
        "covers brings describes borrows repairs visits imagines explains gathers forgets "
        "measures invites").split()
adv = "slowly often never again quickly together nearly always outside later perhaps gladly".split()
def sentence():
    s = [rng.choice(det), rng.choice(adj), rng.choice(noun), rng.choice(verb), rng.choice(det),
         rng.choice(noun)]
    if rng.random() < 0.5: s.append(rng.choice(adv))
    if rng.random() < 0.3: s += ["and", rng.choice(verb), rng.choice(det), rng.choice(noun)]
    return " ".join(s).capitalize() + rng.choice(".....?!")
def doc(n):
    return " ".join(sentence() for _ in range(n))
docs = {"text": [], "jsonl": []}
os.makedirs("corpus/text")
for i in range(40):  # one document per file
    d = "\n".join(doc(rng.randint(2, 5)) for _ in range(rng.randint(1, 4)))
    open(f"corpus/text/doc{i:03d}.txt", "w").write(d + "\n")
    docs["text"].append(d)
lines = []
for i in range(360):
    d = doc(rng.randint(1, 8))
    docs["jsonl"].append(d)
    lines.append(json.dumps({"url": f"https://example.org/{i}", "text": d}))
open("corpus/a.jsonl", "w").write("\n".join(lines[:180]) + "\n")
with gzip.open("corpus/b.jsonl.gz", "wt") as f:
    f.write("\n".join(lines[180:]) + "\n")
json.dump(docs, open("docs.json", "w"))
PY

# --- tokenizers -------------------------------------------------------------------------------
"$gpas" data tokenizer --input corpus --vocab-size 128 --character-coverage 1.0 --out tok.model > tok.txt
grep -q "wrote tok.model: unigram, 128 pieces, pad 0, eos 1" tok.txt
grep -q "trained on 400 documents$" tok.txt
"$gpas" data tokenizer --input corpus --model-type bpe --vocab-size 128 --character-coverage 1.0 \
  --out bpe.model > bpe.txt
grep -q "wrote bpe.model: bpe, 128 pieces" bpe.txt
"$gpas" data tokenizer --input corpus/a.jsonl --max-docs 100 --vocab-size 64 --out few.model > few.txt
grep -q "trained on 100 documents (stopped at --max-docs)" few.txt
cmp -s tok.model bpe.model && { echo "unigram and bpe models are identical"; exit 1; }

# --- prepare, rerun, inspect ------------------------------------------------------------------
"$gpas" data prepare --corpus corpus --tokenizer tok.model --out prep --val-fraction 0.1 --json > prep1.json
"$gpas" data prepare --corpus corpus --tokenizer tok.model --out prep --val-fraction 0.1 > prep2.txt
grep -q "prep is already complete" prep2.txt
"$gpas" data prepare --corpus corpus --tokenizer tok.model --out prep7 --val-fraction 0.1 \
  --split-seed 7 --json > prep7.json
"$gpas" data inspect prep > inspect.txt
grep -q "files: 42, parts:" inspect.txt
grep -Eq "^  train +[0-9]+ documents +[0-9]+ tokens" inspect.txt
"$gpas" data inspect prep --json --samples 1000 > inspect.json
"$gpas" data inspect prep7 --json --samples 1000 > inspect7.json
python3 - <<'PY'
import json
docs = json.load(open("docs.json"))
norm = lambda s: " ".join(s.split())  # SentencePiece folds newlines and runs of spaces
want = sorted(norm(d) for d in docs["text"] + docs["jsonl"])
p = json.load(open("prep1.json"))
m = p["manifest"]
assert not p["already_complete"] and m["dtype"] == "uint16" and m["split"]["method"] == "hash", p
c = m["counts"]
assert c["train"]["docs"] + c["validation"]["docs"] == 400, c
assert 10 <= c["validation"]["docs"] <= 80, c
assert len(m["corpus"]["files"]) == 42 and m["skipped_lines"] == 0, m["corpus"]
got = json.load(open("inspect.json"))["samples"]
assert sorted(norm(s["text"]) for s in got) == want, "decoded documents differ from the corpus"
val = lambda f: sorted(s["text"] for s in json.load(open(f))["samples"] if s["split"] == "validation")
assert json.load(open("prep7.json"))["manifest"]["split"]["seed"] == 7
assert val("inspect.json") != val("inspect7.json"), "--split-seed did not change the split"
PY

# --- train 3 steps on it ----------------------------------------------------------------------
GPAS_THREADS=2 "$gpas" train --set data.source=prepared --set data.path="$tmp/prep" \
  --set data.tokenizer="$tmp/tok.model" --set model.size=tiny --set train.steps=3 \
  --set train.batch_size=4 --set train.micro_batch=4 --set train.seq_len=32 \
  --set train.eval_tokens=256 --run-dir run --no-index --json > train.json
python3 -c 'import json; j = json.load(open("train.json")); assert j["status"] == "completed", j'

# --- bad inputs: non-zero exit, the file (and line) named on stderr, no manifest -------------
fails() {  # fails NAME PATTERN OUTDIR -- command...: the command must fail with PATTERN on stderr
  local name=$1 pattern=$2 out=$3
  shift 4
  if "$@" > "$name.out" 2> "$name.err"; then echo "$name: succeeded on bad input"; exit 1; fi
  grep -Eq -- "$pattern" "$name.err" || { echo "$name: stderr lacks /$pattern/:"; cat "$name.err"; exit 1; }
  [ -z "$out" ] || [ ! -e "$out/manifest.json" ] || { echo "$name: left $out/manifest.json"; exit 1; }
}
prep() { "$gpas" data prepare --tokenizer tok.model --val-fraction 0 "$@"; }
mkdir -p bad/json bad/field bad/gz bad/empty
printf '{"text": "A good line."}\n{"text": "Another one."}\nnot json {\n' > bad/json/x.jsonl
printf '{"text": "A good line."}\n{"body": "no text field"}\n' > bad/field/y.jsonl
head -c $(( $(stat -c %s corpus/b.jsonl.gz) / 2 )) corpus/b.jsonl.gz > bad/gz/z.jsonl.gz
printf '\n   \n\n' > bad/empty/blank.txt
printf 'this is not a sentencepiece model\n' > junk.model

fails missing "$tmp/nope: corpus path not found" o1 -- prep --corpus "$tmp/nope" --out o1
fails json "bad/json/x.jsonl:3: not valid JSON.*--skip-bad-lines" o2 -- prep --corpus bad/json --out o2
fails field "bad/field/y.jsonl:2: JSON line has no 'text' field" o3 -- prep --corpus bad/field --out o3
fails gzip "bad/gz/z.jsonl.gz:[0-9]+: corrupt gzip data" o4 -- prep --corpus bad/gz --out o4
[ "$(grep -o "z.jsonl.gz" gzip.err | wc -l)" = 1 ] || { echo "gzip: path repeated:"; cat gzip.err; exit 1; }
fails empty "bad/empty: empty corpus" o5 -- prep --corpus bad/empty --out o5
fails notsp "junk.model: not a SentencePiece model" o6 -- \
  "$gpas" data prepare --corpus corpus --tokenizer junk.model --out o6
fails tokjson "bad/json/x.jsonl:3: not valid JSON" "" -- \
  "$gpas" data tokenizer --input bad/json --vocab-size 20 --out t.model
[ ! -e t.model ] || { echo "tokjson: wrote t.model"; exit 1; }
fails othertok "prep: prepared with another tokenizer.*bpe.model" "" -- \
  "$gpas" train --set data.source=prepared --set data.path="$tmp/prep" --set data.tokenizer="$tmp/bpe.model" \
  --set model.size=tiny --set train.steps=1 --run-dir run2 --no-index --json
fails nodir "$tmp/none: prepared data directory not found" "" -- "$gpas" data inspect "$tmp/none"

# --skip-bad-lines: succeeds and reports what it skipped.
prep --corpus bad/json bad/field --out skip --skip-bad-lines > skip.txt
grep -q "skipped lines: 2" skip.txt
[ -e skip/manifest.json ]

# --- bench data --json --------------------------------------------------------------------------
"$gpas" bench data --corpus corpus --tokenizer tok.model --prepared prep --seconds 0.2 --threads 1 \
  --batch 8 --seq 64 --json > bench.json
python3 - <<'PY'
import json
r = json.load(open("bench.json"))
t, l, v = r["tokenize"], r["loader"], r["verdict"]
assert t["mb_per_second_one_core"] > 0 and t["mb_per_second_per_core"] > 0, t
for m in ("pad", "pack"):
    assert l[m]["tokens_per_second"] > 0 and l[m]["batches"] > 0, l
slow = min(l["pad"]["tokens_per_second"], l["pack"]["tokens_per_second"])
assert v["loader_tokens_per_second"] == slow and v["target_tokens_per_second"] == 2e6, v
assert v["meets_target"] == (slow >= 2e6) and v["trainer"]["tokens_per_second"] > 1e6, v
PY
echo "data_test: ok"
