#!/usr/bin/env bash
# The README's tour, every line as written, in a scratch copy of the places it names (experiments/,
# data/ for the Brown cache, build/cli/gpas): first the quickstart sweep as scripts/main.sh runs it
# (shortened to 20 steps), then the tour's lines taken from README.md itself, so the two cannot
# drift. Then: the files the tour promises exist, and a few of its outputs say what they should.
# Usage: tour_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
src=$2
tmp=$(mktemp -d)
# The tour's `gpas serve ... &` lives until the end (its pid in tour.jobs).
trap 'kill $(cat "$tmp/tour.jobs" 2> /dev/null) 2> /dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_CACHE_HOME="$tmp/cache"  # the tour's `gpas bench train` records its rate there, not in ~/.cache
mkdir -p build/cli
ln -s "$gpas" build/cli/gpas
ln -s "$(dirname "$gpas")/libgpas_spm.so" build/cli/ 2> /dev/null || true
ln -s "$src/experiments" experiments
ln -s "$src/data" data
ln -s "$src/scripts" scripts

# scripts/main.sh's sweep, short; its output is not a terminal, so it prints a progress line
# every --progress-every seconds while a job runs, not only when a job changes state.
build/cli/gpas sweep run experiments/quickstart.yaml --cpu --workdir work --progress-every 1 \
  --set train.steps=20 --set train.eval_every=10 --set train.eval_tokens=2000 --set train.checkpoint_every=10 \
  --set train.probe_every=5 \
  > main.log 2>&1 || { tail -20 main.log; fail "the quickstart sweep failed"; }

[ "$(grep -c '^\[0/2 done\] [12] running.*| quickstart/pre' main.log)" -ge 2 ] \
  || { cat main.log; fail "no steady progress lines outside a terminal"; }

# The tour: the indented lines of README.md's "## A tour" section up to the next heading.
awk '/^## A tour/ {on = 1; next} /^## / {on = 0} on && /^    / {sub(/^    /, ""); print}' "$src/README.md" > tour.sh
[ "$(grep -c '^gpas ' tour.sh)" -ge 15 ] || fail "README's tour has too few gpas lines: $(cat tour.sh)"
(trap 'jobs -p > tour.jobs' EXIT; set -x; source tour.sh) > tour.out 2> tour.err || { tail -30 tour.err; fail "a tour line failed (above)"; }

for f in compare/compare_loss.png hf/model.safetensors tokens.safetensors out.safetensors \
         figures/fig2_loss.png report.html; do
  [ -s "$f" ] || fail "the tour did not make $f"
done
grep -q "equals Pre-LN" tour.out || fail "model info --norm mix at tiny does not say it equals Pre-LN"
grep -q "Peri-LN's layer is Sandwich-LN's" tour.out || fail "model info --norm peri does not say where it is Sandwich-LN"
ls tb-out/*/events.out.tfevents.* > /dev/null || fail "export-runs --tensorboard wrote no event file"
grep -q "Pre-LN:      x'_{l+1} = x_l + f(LN(x_l))" tour.out || fail "model info does not print the formula"
grep -q "training tiny (tiny pre): .* parameters, data brown, fp32 on cpu, 60 steps; run dir work/runs/tiny-pre" tour.err \
  || fail "train does not say what it trains"
grep -q '^model.gpas.enabled  *false  *true$' tour.out || fail "runs compare does not show the differing key"
grep -q "loss .* over 1 x" tour.out || fail "model forward did not report a loss"
for _ in $(seq 100); do
  url=$(sed -n 's|^gpas serve: \(http://[^ ]*\) .*|\1|p' tour.out)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || fail "gpas serve did not print its address"
python3 -c 'import json, sys, urllib.request
names = {r["name"] for r in json.load(urllib.request.urlopen(sys.argv[1] + "api/runs", timeout=30))["runs"]}
assert {"tiny", "tiny-gpas"} <= names, names' "$url" || fail "gpas serve does not list the tour's runs"
echo "tour_test: ok"
