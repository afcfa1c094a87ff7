#!/usr/bin/env bash
# Damaged and hostile inputs, with the real binary: each gives a clear error (what, where, what to
# do) and a non-zero exit: a journal line of the wrong types, a corrupt or zero-byte gpas.db
# (rebuilt by `gpas ingest --rebuild`), `extends:` naming a directory, a duplicated YAML key, a
# query past its --timeout, control characters in sweep and job names (never raw in job.yaml); and
# from issue 25: nested YAML aliases, sweep names that cannot name files, .inf, --set on an axis
# key, queries that change the connection, an unreadable or misplaced run directory in ingest.
# Usage: inputs_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export GPAS_THREADS=1
refused() {  # refused <what> <expected text> <command...>: exits non-zero and says <expected text>
  local what=$1 want=$2; shift 2
  if "$@" > out.txt 2>&1; then cat out.txt; fail "$what was accepted"; fi
  grep -qF -- "$want" out.txt || { cat out.txt; fail "$what: the error does not say '$want'"; }
}
tiny=(--set model.size=tiny --set data.source=synthetic --set train.warmup_steps=1 --set train.batch_size=4
      --set train.micro_batch=4 --set train.seq_len=16 --set train.device=cpu --set train.eval_tokens=256
      --set train.steps=2)
"$gpas" train "${tiny[@]}" --workdir w > /dev/null 2>&1 || fail "training failed"
dir=$(ls -d w/runs/*)

# A journal line with wrong types: path:line and the key, not a bare json type_error.
cp "$dir/journal.jsonl" journal.good
echo '{"seq":"seven","type":"metric","step":2,"key":"x","value":1}' >> "$dir/journal.jsonl"
n=$(wc -l < "$dir/journal.jsonl")
refused "a journal line of wrong types" "journal.jsonl:$n: key \"seq\" should be an integer" \
  "$gpas" train "${tiny[@]}" --workdir w
cp journal.good "$dir/journal.jsonl"

# A corrupt and a zero-byte gpas.db: the error says how to rebuild it, and --rebuild does.
"$gpas" ingest --workdir w > /dev/null
printf 'this is not an SQLite database, it was overwritten by accident....................' \
  | dd of=w/gpas.db bs=1 seek=0 conv=notrunc 2> /dev/null
refused "a corrupt gpas.db" "gpas ingest --rebuild --workdir w" "$gpas" runs list --workdir w
"$gpas" ingest --rebuild --workdir w | tee rebuild.txt | grep -q "rebuilt w/gpas.db from 1 run directories" \
  || { cat rebuild.txt; fail "ingest --rebuild did not rebuild"; }
ls w/gpas.db.broken-* > /dev/null || fail "the damaged database was not kept"
"$gpas" runs list --workdir w | grep -q " completed " || fail "the rebuilt store lacks the run"
: > w/gpas.db; rm -f w/gpas.db-wal w/gpas.db-shm
refused "a zero-byte gpas.db" "the file is empty (0 bytes)" "$gpas" runs list --workdir w
grep -q "gpas ingest --rebuild" out.txt || fail "the zero-byte error does not say how to rebuild"

# A query past its time limit stops with a clear error; the limit has a default.
"$gpas" ingest --rebuild --workdir w > /dev/null
refused "an endless query" "query: stopped after 1 s (--timeout 1)" \
  timeout 60 "$gpas" query --timeout 1 --workdir w \
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
"$gpas" query --help | grep -q -- "--timeout.*60" || fail "gpas query --timeout has no default"

# extends: naming a directory; a duplicated key in a run config and in a sweep file.
mkdir cfgdir
printf 'sweep: ext\nextends: cfgdir\ngrid:\n  method: [pre]\n' > ext.yaml
refused "extends: naming a directory" "ext.yaml:2: extends: cfgdir is a directory" "$gpas" sweep plan ext.yaml
printf 'train:\n  steps: 4\nmodel:\n  size: tiny\ntrain:\n  steps: 5\n' > dup.yaml
refused "a duplicated key in a run config" "dup.yaml:5: train: this key appears twice" "$gpas" train --config dup.yaml
printf 'sweep: d\ngrid:\n  method: [pre]\n  method: [post]\n' > dupsweep.yaml
refused "a duplicated key in a sweep file" "dupsweep.yaml:4: method: this key appears twice" "$gpas" sweep plan dupsweep.yaml

# Control characters: refused in a sweep name and in a job name, and never raw in job.yaml.
printf 'sweep: "a\\nb"\ngrid:\n  method: [pre]\n' > ctl.yaml
refused "a sweep name with a newline" "control characters" "$gpas" sweep plan ctl.yaml
printf 'sweep: c\nbase:\n  data: {source: synthetic}\ngrid:\n  data.path: ["x\\ny: 1"]\n' > ctljob.yaml
refused "a job name with a newline" "holds a control character" "$gpas" sweep plan ctljob.yaml
# Issue 25. Nested aliases (9^9 nodes from a few hundred bytes) are refused at once, in a sweep
# file and in a run config (they took 92 s).
{ echo 'a: &a [s, s, s, s, s, s, s, s, s]'; p=a
  for n in b c d e f g h i j; do echo "$n: &$n [*$p, *$p, *$p, *$p, *$p, *$p, *$p, *$p, *$p]"; p=$n; done; } > bomb.txt
{ cat bomb.txt; printf 'sweep: bomb\ngrid:\n  method: [pre]\n'; } > bomb.yaml
{ cat bomb.txt; printf 'train:\n  steps: 2\n'; } > bombcfg.yaml
refused "a sweep file of nested aliases" "expand to more than 100000 nodes" timeout 10 "$gpas" sweep plan bomb.yaml
refused "a run config of nested aliases" "expand to more than 100000 nodes" timeout 10 "$gpas" train --config bombcfg.yaml
# A 6 MB sweep file (a list of 10^6 seeds) is refused by its size before yaml-cpp parses it.
python3 -c "print('sweep: huge\ngrid:\n  seed: [' + ','.join(str(i) for i in range(1000000)) + ']')" > huge.yaml
refused "a 6 MB sweep file" "huge.yaml: 6 MiB is more than a sweep file needs (at most 4 MiB are read)" \
  timeout 10 "$gpas" sweep plan huge.yaml
# Sweep names that cannot name files; .inf where a number is read, in a file as on the command line.
printf 'sweep: ".."\ngrid:\n  method: [pre]\n' > dots.yaml
refused "the sweep name .." "dots.yaml:1: sweep: '..' names a directory" "$gpas" sweep plan dots.yaml
printf 'sweep: "a\377b"\ngrid:\n  method: [pre]\n' > utf.yaml
refused "a sweep name of invalid UTF-8" "not valid UTF-8" "$gpas" sweep plan utf.yaml
printf 'train:\n  lr: .inf\n' > inf.yaml
refused "lr: .inf" "inf.yaml:2: train.lr: expected a finite number, got '.inf'" "$gpas" train --config inf.yaml
# --set on a key an axis names: refused, naming the axis and its line (it ran 4 jobs as 2).
printf 'sweep: mine\ngrid:\n  method: [pre, pre+gpas]\n  seed: [1, 2]\n' > mine.yaml
refused "--set on an axis key" "--set model.gpas.enabled: the sweep's axis 'method' (mine.yaml:3)" \
  "$gpas" sweep plan mine.yaml --set model.gpas.enabled=yes
"$gpas" sweep plan mine.yaml --set train.steps=3 > /dev/null || fail "--set on a key no axis names was refused"

# Statements that change the connection are refused by `gpas query` like writes.
"$gpas" ingest --workdir w > /dev/null
for sql in "PRAGMA writable_schema=ON" "PRAGMA query_only=0" "SAVEPOINT x"; do
  refused "query $sql" "query: refused:" "$gpas" query --workdir w "$sql"
done
"$gpas" query --workdir w "PRAGMA table_info(runs)" | grep -q status || fail "PRAGMA table_info was refused"

# One unreadable run directory and one whose journal is another run's: ingest indexes the rest,
# names both, exits 1.
cp -r "$dir" w/runs/0123456789ab
mkdir -p w/runs/fedcba987654/journal.jsonl
refused "ingest with a damaged run directory" "2 run directories were skipped" "$gpas" ingest --workdir w
grep -qF "w/runs/fedcba987654/journal.jsonl: not a regular file (a directory)" out.txt || { cat out.txt; fail "the unreadable directory is not named"; }
grep -qF "w/runs/0123456789ab/journal.jsonl: the journal is run" out.txt || { cat out.txt; fail "the misplaced journal is not named"; }
"$gpas" runs list --workdir w 2> /dev/null | grep -q " completed " || fail "the readable run is not listed"

echo "inputs_test: ok"
