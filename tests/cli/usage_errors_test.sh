#!/usr/bin/env bash
# Usage errors name the first thing that is wrong: a mistyped subcommand before the options that
# follow it (they belong to the subcommand meant), and an unknown option of a command that has
# subcommands; every command's description is capitalised alike. Seconds, no workdir.
# Usage: usage_errors_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$(realpath "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect CODE LINE CMD...: exit CODE and the first line of stderr exactly LINE
expect() {
  local want=$1 line=$2; shift 2
  set +e; "$@" > /dev/null 2> err.txt; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat err.txt; fail "exit $rc, not $want: $*"; }
  [ "$(head -1 err.txt)" = "$line" ] || fail "$*: got '$(head -1 err.txt)', wanted '$line'"
}
cd "$(mktemp -d)"
trap 'rm -rf "$PWD"' EXIT
expect 2 'gpas: error: gpas runs: unknown command `lst`; did you mean `list`?' "$gpas" runs lst --json
expect 2 'gpas: error: gpas runs: unknown command `lst`; did you mean `list`?' "$gpas" runs lst -w x --where a=b
expect 2 'gpas: error: gpas: unknown command `rnus`; did you mean `runs`?' "$gpas" rnus list --json
expect 2 'gpas: error: gpas runs: unknown option `--jsn`; valid: --help, -h' "$gpas" runs --jsn list
expect 2 'gpas: error: gpas runs list: unknown option `--jsn`; did you mean `--json`?' "$gpas" runs list --jsn
# Every command's description (gpas --help, the man page) starts with a capital, as gpas --help lists them.
"$gpas" man > gpas.1
lower=$(awk '/^\.SS /{getline d; if (d ~ /^[a-z]/) print $0 ": " d}' gpas.1)
[ -z "$lower" ] || fail "descriptions not capitalised: $lower"
[ "$(grep -c '^\.SS ' gpas.1)" -gt 40 ] || fail "the man page lists too few commands to check"
echo "usage_errors_test: ok"
