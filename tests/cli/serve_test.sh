#!/usr/bin/env bash
# `gpas serve` with real runs: a finished run and one still training. The page, loaded twice in
# headless Chromium (its JavaScript run), shows the live run's step advance; /api/runs, the metrics,
# compare and tables endpoints answer; the server listens on 127.0.0.1 only; a second server on
# the same port is refused naming the port; a workdir without runs says so on the page.
# Skips (exit 77) only without Chromium.
# Usage: serve_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$1
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "SKIP: chromium not found (scripts/install-deps.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2> /dev/null || true; done; rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
export GPAS_THREADS=1
tiny=(--set model.size=tiny --set data.source=synthetic --set train.warmup_steps=1 --set train.batch_size=4
      --set train.micro_batch=4 --set train.seq_len=16 --set train.device=cpu --set train.eval_tokens=256)

# The DOM after the page's scripts ran (its first answers from the server included).
dom() { timeout 60 "$chromium" --headless --disable-gpu --no-sandbox --disable-background-networking \
          --user-data-dir="$tmp/chrome" --virtual-time-budget=4000 --dump-dom "$1" 2> chrome.err; }
# GET URL: the body; exit 1 on an HTTP error. code URL: the HTTP status. (python3, not curl: the
# set-up installs python3.)
get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' "$1"; }
code() { python3 -c '
import sys, urllib.error, urllib.request
try: print(urllib.request.urlopen(sys.argv[1], timeout=30).status)
except urllib.error.HTTPError as e: print(e.code)' "$1"; }
# Starts `gpas serve -w DIR --port 0` and sets url to what it printed.
serve() {
  "$gpas" serve -w "$1" --port 0 > "serve-$1.txt" 2>&1 &
  pids+=($!)
  url=""
  for _ in $(seq 300); do
    url=$(sed -n 's|^gpas serve: \(http://[^ ]*\) .*|\1|p' "serve-$1.txt")
    [ -n "$url" ] && return
    sleep 0.1
  done
  cat "serve-$1.txt"; fail "gpas serve -w $1 printed no address"
}

"$gpas" train "${tiny[@]}" --set train.steps=20 --set name=done -w w > done.txt 2>&1 || { cat done.txt; fail "the short run failed"; }
"$gpas" train "${tiny[@]}" --set train.steps=1000000 --set train.log_every=5 --set name=live -w w > live.txt 2>&1 &
pids+=($!)
for _ in $(seq 600); do
  journal=$(grep -ls '"name":"live"' w/runs/*/journal.jsonl 2>/dev/null || true)
  [ -n "$journal" ] && grep -q '"type":"metric"' "$journal" && break
  sleep 0.1
done
serve w
port=${url##*:}; port=${port%/}

# Listening on 127.0.0.1 and nowhere else (/proc/net/tcp{,6}: state 0A is LISTEN).
python3 - "$port" <<'EOF' || fail "gpas serve does not listen on 127.0.0.1 only"
import sys
port, found = int(sys.argv[1]), []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).readlines()[1:]:
        f = line.split()
        addr, p = f[1].split(":")
        if int(p, 16) == port and f[3] == "0A":
            found.append(addr)
print("listening on", found)
sys.exit(found != ["0100007F"])
EOF

# /api/runs: both runs, the live one running with its step target.
get "${url}api/runs" > runs.json || fail "/api/runs did not answer"
live_id=$(python3 - <<'EOF' || { cat runs.json; fail "/api/runs does not show the two runs as they are"; }
import json
j = json.load(open("runs.json"))
runs = {r["name"]: r for r in j["runs"]}
assert set(runs) == {"done", "live"}, runs
assert runs["done"]["status"] == "completed" and runs["done"]["last_step"] == 20 and runs["done"]["eval_ppl"] > 0, runs["done"]
assert runs["live"]["status"] == "running" and runs["live"]["steps"] == 1000000 and runs["live"]["last_step"] > 0, runs["live"]
print(runs["live"]["id"])
EOF
)
done_id=$(python3 -c 'import json; print([r["id"] for r in json.load(open("runs.json"))["runs"] if r["name"] == "done"][0])')

# The page twice: the live run's step (set by the page's script from /api/runs) advances.
step_of() { sed -n "s|.*<tr data-run=\"$live_id\" data-step=\"\([0-9]*\)\".*|\1|p" "$1"; }
start=$(date +%s.%N)
dom "$url" > page1.html
echo "page load (chromium start to DOM): $(python3 -c "import time; print(round(time.time() - $start, 2))") s"
sleep 2
dom "$url" > page2.html
s1=$(step_of page1.html); s2=$(step_of page2.html)
[ -n "$s1" ] && [ -n "$s2" ] || { cat page1.html chrome.err; fail "the page shows no row for the live run"; }
[ "$s2" -gt "$s1" ] || fail "the live run's step did not advance between two loads of the page ($s1, then $s2)"
echo "live run's step on the page: $s1, then $s2"
grep -q "<tr data-run=\"$done_id\" data-step=\"20\"" page2.html || fail "the page does not show the finished run"
grep -q 'id="problem"[^>]* hidden' page2.html || { grep 'id="problem"' page2.html; fail "the page reports a problem"; }
grep -q '<canvas id="chart"[^>]*style=' page2.html || fail "Chart.js did not draw the chart"
grep -q '<figcaption><b>Table 2.</b>' page2.html || fail "the page does not show Table 2 first"
dom "${url}#table=schemes" > schemes.html
grep -q '<figcaption><b>Schemes.</b>' schemes.html || fail "#table=schemes does not show the schemes table"

# The other endpoints: a growing loss curve, the differing config keys, the report's own table.
n_points() { get "${url}api/runs/$live_id/metrics?key=train/loss" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))'; }
p1=$(n_points); sleep 1.5; p2=$(n_points)
[ "$p2" -gt "$p1" ] || fail "the live run's loss curve did not grow ($p1 points, then $p2)"
get "${url}api/compare?ids=$done_id,$live_id" | python3 -c '
import json, sys
c = json.load(sys.stdin)["config"]
assert c["train.steps"] == ["20", "1000000"] and c["name"] == ["done", "live"], c
assert "model.size" not in c, "a key with equal values is listed"' || fail "/api/compare"
get "${url}api/tables/table2?format=md" > t2.md || fail "/api/tables/table2 did not answer"
"$gpas" report table2 -w w --format md | diff - t2.md || fail "/api/tables/table2 differs from gpas report table2"
get "${url}api/tables/schemes?format=md" > schemes.md || fail "/api/tables/schemes did not answer"
"$gpas" report schemes -w w --format md | diff - schemes.md || fail "/api/tables/schemes differs from gpas report schemes"
[ "$(code "${url}api/runs/nosuchrun/metrics")" = 404 ] || fail "an unknown run is not a 404"

# A second server on the same port: refused, naming the port and what to do.
set +e; timeout 20 "$gpas" serve -w w --port "$port" > busy.txt 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { cat busy.txt; fail "a second gpas serve on port $port exited $rc (want 1)"; }
grep -q "cannot listen on 127.0.0.1:$port: the port is in use.*--port" busy.txt || { cat busy.txt; fail "the refusal does not say what to do"; }

# A workdir without runs: the page says so.
mkdir empty
serve empty
dom "$url" > empty.html
grep -q '<p id="no-runs">' empty.html || { grep 'no-runs' empty.html; fail "the page of an empty workdir does not say it has no runs"; }
echo "serve_test: ok"
