#!/usr/bin/env bash
# `gpas completion zsh` in a real interactive zsh: zsh's zpty module starts `zsh -f -i` in a
# pseudo-terminal, loads the completion (sourced after compinit, sourced with no compinit yet, and
# autoloaded from $fpath), types a line ending in TAB and reads the line editor's buffer back through
# a widget bound to ^T. A negative control (the script pointed at a function that does not exist)
# must leave the line as typed, so the check can fail. The LibTorch commands (train, bench: in
# gpas-torch) complete from the front's script like the others. Skips (77) where zsh is not installed.
# Usage: zsh_completion_test.sh GPAS SOURCE_DIR
set -euo pipefail
gpas=$(realpath "$1")
command -v zsh > /dev/null || { echo "SKIP: zsh is not installed (scripts/install-deps.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir bin fn
ln -s "$gpas" bin/gpas
"$gpas" completion zsh > gpas.zsh
cp gpas.zsh fn/_gpas
sed 's/compdef _gpas gpas/compdef _gpas_missing gpas/' gpas.zsh > broken.zsh
touch tinyfile.yaml

# drive.zsh SETUP OUT LINE...: each LINE typed, then TAB, then ^T (writes $BUFFER to OUT, clears it)
cat > drive.zsh <<'EOF'
zmodload zsh/zpty zsh/datetime || { print "zsh has no zpty or datetime module"; exit 2 }
setup=$1 out=$2; shift 2
: > $out
zpty gz zsh -f -i
zpty -w gz "PS1='> '; cd ${(q)PWD}; path=(${(q)PWD}/bin \$path)"
zpty -w gz "dump() { print -r -- \"\$BUFFER\" >> ${(q)out}; BUFFER=; }; zle -N dump; bindkey '^T' dump"
zpty -w gz "$setup"
integer n=0
for line in "$@"; do
  zpty -w -n gz "$line"$'\t\x14'
  (( n++ ))
  float t0=$EPOCHREALTIME
  while (( $(wc -l < $out) < n )); do
    while zpty -rt gz chunk; do print -rn -- "$chunk" >> $out.tty; done
    (( EPOCHREALTIME - t0 > 60 )) && { print "no answer from zsh after 60 s to: $line"; zpty -d gz; exit 1 }
    sleep 0.05
  done
done
zpty -d gz
EOF
fail() { echo "FAIL: $*" >&2; [ -f tty.txt.tty ] && { echo "--- the pty said:"; cat -v tty.txt.tty; } >&2; exit 1; }
lines=("gpas ru" "gpas runs li" "gpas sweep run --wor" "gpas report table2 --format la" "gpas completion z"
       "gpas runs show tinyf" "gpas train --conf" "gpas bench tr")
want=$'gpas runs \ngpas runs list \ngpas sweep run --workdir \ngpas report table2 --format latex \ngpas completion zsh \ngpas runs show tinyfile.yaml \ngpas train --config \ngpas bench train '
for setup in "autoload -Uz compinit && compinit -u -D; source gpas.zsh" \
             "source gpas.zsh" \
             "fpath=(\$PWD/fn \$fpath); autoload -Uz compinit && compinit -u -D"; do
  rm -f tty.txt tty.txt.tty
  zsh -f drive.zsh "$setup" tty.txt "${lines[@]}" || fail "zsh ($setup)"
  got=$(cat tty.txt)
  [ "$got" = "$want" ] || fail "zsh completion ($setup): got
$got
wanted
$want"
done
# Negative control: compdef names a function that does not exist, so TAB completes nothing.
rm -f tty.txt tty.txt.tty
zsh -f drive.zsh "autoload -Uz compinit && compinit -u -D; source broken.zsh" tty.txt "gpas ru" || fail "zsh (broken)"
[ "$(cat tty.txt)" = "gpas ru" ] || fail "the broken completion completed: $(cat tty.txt)"
echo "zsh_completion_test: ok (zsh $(zsh --version | cut -d' ' -f2), 3 ways of loading, 8 lines each; a broken script completes nothing)"
