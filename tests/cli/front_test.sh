#!/usr/bin/env bash
# The two binaries (cli/CMakeLists.txt): the front gpas links no LibTorch (ldd, so indirectly
# neither), a LibTorch command typed to the front reaches gpas-torch with argv unchanged (but
# bench plan, which needs none, runs in the front), the front's help, completion and man page
# still cover the LibTorch commands, and a missing gpas-torch is an error that names its path. Start times are measured by bench/startup.sh, not here.
# Usage: front_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$(realpath "$1")
torch=$(dirname "$gpas")/gpas-torch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Linking: the front none of LibTorch's libraries, gpas-torch all of them (the check can fail).
grep -q 'libtorch' <(ldd "$torch") || fail "ldd finds no libtorch in $torch: the check below would prove nothing"
if grep -E 'libtorch|libc10|libcuda|libnccl' <(ldd "$gpas"); then fail "the front $gpas links LibTorch (above)"; fi

# A LibTorch command through the front is gpas-torch's: same help, byte for byte, and what only
# gpas-torch can answer (libtorch loads LibTorch).
"$gpas" train --help > "$tmp/front.txt" || fail "gpas train --help failed"
"$torch" train --help > "$tmp/torch.txt"
cmp -s "$tmp/front.txt" "$tmp/torch.txt" || fail "gpas train --help differs from gpas-torch's: $(diff "$tmp/front.txt" "$tmp/torch.txt")"
grep -q -- '--config' "$tmp/front.txt" || fail "gpas train --help lists no --config: $(cat "$tmp/front.txt")"
grep -q '^libtorch [0-9]' <("$gpas" libtorch) || fail "gpas libtorch (in gpas-torch) did not name LibTorch's version"
grep -q '^gpas ' <("$gpas" --version) || fail "gpas --version: $("$gpas" --version)"

# argv unchanged, global options before the command included: a stand-in gpas-torch echoes it.
mkdir "$tmp/echo"
cp "$gpas" "$tmp/echo/gpas"
printf '#!/bin/sh\necho "gpas-torch got: $*"\n' > "$tmp/echo/gpas-torch"
chmod +x "$tmp/echo/gpas-torch"
[ "$("$tmp/echo/gpas" -v train --help --set 'a b=1')" = "gpas-torch got: -v train --help --set a b=1" ] \
  || fail "the front did not hand argv over unchanged: $("$tmp/echo/gpas" -v train --help)"
[ "$("$tmp/echo/gpas" model info --size tiny)" = "gpas-torch got: model info --size tiny" ] || fail "model: not handed over"
grep -q 'List, inspect' <("$tmp/echo/gpas" runs --help) || fail "gpas runs --help went to gpas-torch"
[ "$("$tmp/echo/gpas" --help train)" = "gpas-torch got: --help train" ] || fail "gpas --help train: not handed over"
# bench plan needs no LibTorch: the front runs it (commands.h's kFrontSubcommands), with the same
# help as gpas-torch's; bench's other subcommands, and bench's help, which lists all four, are
# gpas-torch's.
grep -q '"jobs":4' <("$tmp/echo/gpas" bench plan --jobs 4 --repeat 1 --json) || fail "gpas bench plan did not run in the front"
cmp -s <("$gpas" bench plan --help) <("$torch" bench plan --help) || fail "gpas bench plan --help differs from gpas-torch's"
[ "$("$tmp/echo/gpas" bench train --steps 1)" = "gpas-torch got: bench train --steps 1" ] || fail "bench train: not handed over"
[ "$("$tmp/echo/gpas" bench --help)" = "gpas-torch got: bench --help" ] || fail "gpas bench --help: not handed over"
for c in train head data plan; do
  grep -q "^  $c " <("$gpas" bench --help) || fail "gpas bench --help does not list $c: $("$gpas" bench --help)"
done

# The front's help, completion and man page cover both binaries' commands.
"$gpas" --help > "$tmp/help.txt"
for c in model train eval bench data analyze libtorch runs report sweep ablate completion; do
  grep -q "^  $c " "$tmp/help.txt" || fail "gpas --help does not list $c: $(cat "$tmp/help.txt")"
done
"$gpas" completion bash > "$tmp/completion.bash"
grep -q '" train") subs=""; opts=".*--config ' "$tmp/completion.bash" || fail "the completion has no options of train"
"$gpas" man > "$tmp/gpas.1"
grep -q '^\.SS "gpas bench train"' "$tmp/gpas.1" || fail "the man page has no gpas bench train"
grep -q 'did you mean `train`' <("$gpas" trian 2>&1) || fail "a mistyped LibTorch command is not suggested"

# Without gpas-torch: the front's commands work, a LibTorch command says what is missing and where.
mkdir "$tmp/alone"
cp "$gpas" "$tmp/alone/gpas"
"$tmp/alone/gpas" --version > /dev/null || fail "gpas --version needs gpas-torch"
"$tmp/alone/gpas" sweep --help > /dev/null || fail "gpas sweep --help needs gpas-torch"
set +e
"$tmp/alone/gpas" -v train --config x.yaml > "$tmp/out.txt" 2> "$tmp/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] || fail "gpas train without gpas-torch exited $rc, not 1"
grep -q "gpas train.* $tmp/alone/gpas-torch cannot be run (No such file or directory); build it" "$tmp/err.txt" \
  || fail "gpas train without gpas-torch: $(cat "$tmp/err.txt")"
echo "front_test: ok"
