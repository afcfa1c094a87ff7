#!/usr/bin/env bash
# TensorBoard event files with the real binary: a short synthetic run writes <run_dir>/tb/, and
# `gpas export-runs --tensorboard` writes the same from the journal. A reader written here apart
# from gpas's writer (its own bitwise CRC-32C, its own protobuf wire decoding) checks both CRCs of
# every record, that each file starts with file_version "brain.Event:2", that the scalars are the
# journal's metric points (key, step, value as float32, wall time) one for one, and that the hparams
# carry the start line's config; a copy with one flipped byte (in a length, in an Event) is refused.
# A second attempt (--fresh) adds a second file; export-runs writes one file per attempt.
# Usage: tensorboard_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export GPAS_THREADS=1

cat > read_tb.py <<'EOF'
# read_tb.py JOURNAL TB_DIR: checks TB_DIR's event files against JOURNAL; exit 1 naming what differs.
import glob, json, math, os, struct, sys

def crc32c(data):  # bitwise, reflected Castagnoli polynomial
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF

assert crc32c(b"123456789") == 0xE3069283

def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

def records(path):
    raw = open(path, "rb").read()
    at = 0
    while at < len(raw):
        if at + 12 > len(raw): sys.exit(f"{path}: torn header at byte {at}")
        head = raw[at:at + 8]
        (n,) = struct.unpack("<Q", head)
        (hc,) = struct.unpack("<I", raw[at + 8:at + 12])
        if hc != masked(head): sys.exit(f"{path}: length CRC wrong at byte {at}")
        data = raw[at + 12:at + 12 + n]
        if len(data) != n or at + 16 + n > len(raw): sys.exit(f"{path}: torn record at byte {at}")
        (dc,) = struct.unpack("<I", raw[at + 12 + n:at + 16 + n])
        if dc != masked(data): sys.exit(f"{path}: data CRC wrong at byte {at}")
        yield data
        at += 16 + n

def fields(buf):  # protobuf wire format -> [(field, wire type, value)]
    out, i = [], 0
    def varint():
        nonlocal i
        v, s = 0, 0
        while True:
            b = buf[i]; i += 1
            v |= (b & 0x7F) << s; s += 7
            if not b & 0x80: return v
    while i < len(buf):
        k = varint()
        f, w = k >> 3, k & 7
        if w == 0: v = varint()
        elif w == 1: v = buf[i:i + 8]; i += 8
        elif w == 5: v = buf[i:i + 4]; i += 4
        elif w == 2:
            n = varint(); v = buf[i:i + n]; i += n
        else: sys.exit(f"wire type {w}")
        out.append((f, w, v))
    return out

def one(fs, f):
    got = [v for g, _, v in fs if g == f]
    return got[-1] if got else None

def pvalue(buf):  # google.protobuf.Value
    for f, w, v in fields(buf):
        if f == 2: return struct.unpack("<d", v)[0]
        if f == 3: return v.decode()
        if f == 4: return bool(v)
    return None

def f32(x):
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else struct.unpack("<f", struct.pack("<f", x))[0]

def flatten(d, p=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict): out.update(flatten(v, p + k + "."))
        else: out[p + k] = v
    return out

journal = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
files = sorted(glob.glob(os.path.join(sys.argv[2], "events.out.tfevents.*")))
if not files: sys.exit(f"no event files in {sys.argv[2]}")
scalars, hparams = [], []
for path in files:
    evs = [fields(d) for d in records(path)]
    if not evs or one(evs[0], 3) != b"brain.Event:2" or one(evs[0], 2) not in (None, 0):
        sys.exit(f"{path}: does not start with file_version brain.Event:2")
    for ev in evs[1:]:
        if one(ev, 3) is not None: sys.exit(f"{path}: a second file_version")
        wall = struct.unpack("<d", one(ev, 1))[0]
        step = one(ev, 2) or 0
        for f, _, value in fields(one(ev, 5)):
            assert f == 1
            v = fields(value)
            tag = one(v, 1).decode()
            if tag == "_hparams_/session_start_info":
                pd = fields(one(fields(one(v, 9)), 1))
                if one(pd, 1) != b"hparams": sys.exit("hparams without plugin_name hparams")
                content = fields(one(pd, 2))
                if one(content, 1) not in (None, 0): sys.exit("hparams version is not 0")
                hp = {}
                for g, _, e in fields(one(content, 3)):
                    if g == 1:
                        ent = fields(e)
                        hp[one(ent, 1).decode()] = pvalue(one(ent, 2))
                hparams.append(hp)
            else:
                sv = one(v, 2)
                if sv is None: sys.exit(f"{tag}: no simple_value")
                scalars.append((tag, step, f32(struct.unpack("<f", sv)[0]), wall))
want = sorted((j["key"], j["step"], f32(j["value"]), j["time"]) for j in journal if j["type"] == "metric")
if sorted(scalars, key=str) != sorted(want, key=str):
    a, b = set(scalars), set(want)
    sys.exit(f"scalars differ from the journal: {len(scalars)} vs {len(want)}; only in the file "
             f"{sorted(a - b, key=str)[:5]}, only in the journal {sorted(b - a, key=str)[:5]}")
starts = [flatten(j["config"]) for j in journal if j["type"] == "start"]
if len(hparams) != len(starts): sys.exit(f"{len(hparams)} hparams, {len(starts)} start lines")
for hp, cfg in zip(hparams, starts):
    for k, v in cfg.items():
        w = v if isinstance(v, (bool, str)) else float(v) if isinstance(v, (int, float)) else json.dumps(v, separators=(",", ":"))
        if k not in hp: sys.exit(f"hparams lack {k}")
        if hp[k] != w and not (isinstance(w, str) and json.loads(hp[k]) == v):
            sys.exit(f"hparams {k} = {hp[k]!r}, config {v!r}")
    if set(hp) != set(cfg): sys.exit(f"hparams have keys the config lacks: {sorted(set(hp) - set(cfg))}")
print(f"{len(files)} files, {len(scalars)} scalars, {len(hparams)} hparams: OK")
EOF

# ---- a run writes its own event file ----
train=(train --workdir w --set model.size=tiny --set data.source=synthetic --set train.steps=12
  --set train.log_every=3 --set train.eval_every=6 --set train.warmup_steps=2 --set train.batch_size=4
  --set train.micro_batch=4 --set train.seq_len=16 --set train.device=cpu --set train.eval_tokens=256)
"$gpas" "${train[@]}" > train.txt 2>&1 || { cat train.txt; fail "the run failed"; }
rd=$(dirname w/runs/*/journal.jsonl)
run_id=$(basename "$rd")
ls "$rd"/tb/events.out.tfevents.*."$(hostname)" > /dev/null || fail "no $rd/tb/events.out.tfevents.<secs>.<host>"
[ "$(grep -c '"type":"metric"' "$rd/journal.jsonl")" -ge 16 ] || fail "the run journalled fewer metric points than it should"
grep -q '"key":"eval/loss"' "$rd/journal.jsonl" || fail "no eval metric in the journal"
python3 read_tb.py "$rd/journal.jsonl" "$rd/tb" || fail "the run's event file"

# ---- the checks refuse a damaged copy ----
f=$(ls "$rd"/tb/events.out.tfevents.* | head -1)
for at in 3 20 60; do  # in the first record's length, its Event; in the second record's Event
  rm -rf bad && mkdir bad && cp "$f" bad/
  python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[$at]^=0x10; open(p,'wb').write(b)" bad/*
  if python3 read_tb.py "$rd/journal.jsonl" bad > bad.txt 2>&1; then fail "a flipped byte at $at went unseen"; fi
  grep -q "CRC wrong" bad.txt || { cat bad.txt; fail "a flipped byte at $at: not a CRC error"; }
done

# ---- a second attempt in the same run directory adds a file (TensorBoard reads them all) ----
"$gpas" "${train[@]}" --fresh > train2.txt 2>&1 || { cat train2.txt; fail "the second attempt failed"; }
[ "$(ls "$rd"/tb/events.out.tfevents.* | wc -l)" = 2 ] || fail "two attempts, not two event files: $(ls "$rd/tb")"
python3 read_tb.py "$rd/journal.jsonl" "$rd/tb" | grep -q "^2 files, .* 2 hparams: OK" || fail "two attempts' event files"

# ---- export-runs: the same from the journal, for runs made before ----
mv "$rd/tb" live_tb  # as a run made before event files were written
"$gpas" export-runs --tensorboard out -w w > export.txt 2>&1 || { cat export.txt; fail "export-runs failed"; }
grep -q "^$run_id: .* in 2 event files" export.txt || { cat export.txt; fail "export-runs: not the run's two attempts"; }
python3 read_tb.py "$rd/journal.jsonl" "out/$run_id" || fail "export-runs' event files"
[ ! -e "$rd/tb" ] || fail "export-runs wrote into the run directory"
# Again, by the run's directory and with --json: the old file is replaced, not added to.
"$gpas" export-runs --tensorboard out "$rd" --json > export.json || fail "export-runs RUN_DIR --json"
python3 -c "import json,sys; j=json.load(open('export.json')); assert len(j)==1 and j[0]['files']==2 and j[0]['scalars']>=32, j" \
  || fail "export-runs --json: $(cat export.json)"
[ "$(ls out/"$run_id" | wc -l)" = 2 ] || fail "a second export added files: $(ls out/"$run_id")"
python3 read_tb.py "$rd/journal.jsonl" "out/$run_id" || fail "export-runs' event file, exported again"
# By run id, from the store.
"$gpas" export-runs --tensorboard out2 -w w "${run_id:0:6}" > /dev/null || fail "export-runs by id prefix"
python3 read_tb.py "$rd/journal.jsonl" "out2/$run_id" || fail "export-runs by id prefix: the event file"
set +e; "$gpas" export-runs --tensorboard out -w w no-such-run > err.txt 2>&1; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "^gpas: error: no-such-run" err.txt || { cat err.txt; fail "an unknown run: exit $rc"; }
echo "tensorboard_test: OK"
