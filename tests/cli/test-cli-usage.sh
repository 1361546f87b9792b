#!/usr/bin/env bash
# The lmgc command line: help everywhere, usage errors (exit 2), never overwriting without
# --force, default output names, and info/codecs output.
source "$(dirname "$0")/cli-lib.sh"
set -e

# Help and version: exit 0, on stdout.
check "lmgc --help" 0 'Usage: lmgc <command>' '^$' -- "$LMGC" --help
check "lmgc help" 0 'compress' '' -- "$LMGC" help
check "lmgc --version" 0 '^lmgc [0-9]+\.[0-9]+' '^$' -- "$LMGC" --version
for cmd in compress decompress info codecs; do
  check "lmgc $cmd --help" 0 "^Usage: lmgc $cmd" '^$' -- "$LMGC" "$cmd" --help
  check "lmgc $cmd -h" 0 "^Usage: lmgc $cmd" '^$' -- "$LMGC" "$cmd" -h
done
check "compress --help lists options" 0 '--force' '' -- "$LMGC" compress --help
check "compress --help lists --raw" 0 '--raw' '' -- "$LMGC" compress --help

# Usage errors: exit 2, a hint on stderr, nothing on stdout.
check "no command" 2 '^$' 'Usage: lmgc' -- "$LMGC"
fails "unknown command" 2 "unknown command 'frobnicate'" -- "$LMGC" frobnicate
fails "unknown option" 2 "unknown option '--bogus'" -- "$LMGC" compress --bogus x
fails "missing argument" 2 'missing argument IN' -- "$LMGC" compress
fails "option without value" 2 '--codec needs a value' -- "$LMGC" compress x --codec
fails "bad number" 2 "expects a number" -- "$LMGC" compress x --threads many
fails "negative threads" 2 'threads must be >= 0' -- "$LMGC" compress x --threads -1
fails "bad --format" 2 'format must be' -- "$LMGC" compress x --format zip
fails "extra argument" 2 "unexpected argument 'b'" -- "$LMGC" info a b
fails "flag with value" 2 'takes no value' -- "$LMGC" compress x --force=yes
fails "--unchunked with --chunk-bytes" 2 'exclude each other' -- "$LMGC" compress x --unchunked --chunk-bytes 512

# Missing files are bad input (exit 1), naming the file.
fails "missing input" 1 "cannot open '$TMP/none.npy'" -- "$LMGC" compress "$TMP/none.npy"
fails "missing .lmgc" 1 "cannot open '$TMP/none.lmgc'" -- "$LMGC" decompress "$TMP/none.lmgc"
fails "info of missing file" 1 "cannot open" -- "$LMGC" info "$TMP/none.lmgc"
fails "directory as input" 1 "Is a directory" -- "$LMGC" compress "$TMP"

# A real round trip through default names.
mkdir "$TMP/w"
"$PY" "$SRC/tests/cli/make-inputs.py" "$TMP/in"
cp "$TMP/in/good/grad.npy" "$TMP/w/g.npy"
fails "unknown codec" 2 "unknown codec 'nope'" -- "$LMGC" compress "$TMP/w/g.npy" --codec nope -o "$TMP/x.lmgc"
check "compress default output" 0 'g\.npy\.lmgc: .* of .* tensor data' '^$' -- "$LMGC" compress "$TMP/w/g.npy"
expect_true "compress wrote IN.lmgc" only_files "$TMP/w" g.npy g.npy.lmgc
check "compress --quiet prints nothing" 0 '^$' '^$' -- "$LMGC" compress -q "$TMP/w/g.npy" -o "$TMP/w/q.lmgc"
rm "$TMP/w/q.lmgc"

# Never overwrite without --force; the existing file stays as it was.
echo "precious" >"$TMP/w/keep.lmgc"
fails "compress refuses to overwrite" 1 "already exists \(use --force" -- "$LMGC" compress "$TMP/w/g.npy" -o "$TMP/w/keep.lmgc"
expect_true "existing output untouched" grep -qx precious "$TMP/w/keep.lmgc"
check "compress --force overwrites" 0 '' '' -- "$LMGC" compress "$TMP/w/g.npy" -o "$TMP/w/keep.lmgc" --force
expect_true "forced output is a .lmgc" cmp -s "$TMP/w/keep.lmgc" "$TMP/w/g.npy.lmgc"
fails "decompress refuses to overwrite" 1 "'$TMP/w/g.npy' already exists" -- "$LMGC" decompress "$TMP/w/g.npy.lmgc"
cp "$TMP/w/g.npy" "$TMP/w/g.orig"
echo "other" >"$TMP/w/g.npy"
check "decompress --force overwrites" 0 'restored' '^$' -- "$LMGC" decompress -f "$TMP/w/g.npy.lmgc"
expect_true "decompressed equals original" cmp -s "$TMP/w/g.npy" "$TMP/w/g.orig"
cp "$TMP/w/g.npy.lmgc" "$TMP/w/noext"
check "decompress without .lmgc suffix" 0 'noext\.out: restored' '' -- "$LMGC" decompress "$TMP/w/noext"
expect_true "IN.out written" cmp -s "$TMP/w/noext.out" "$TMP/w/g.orig"
expect_true "no temporary files left" only_files "$TMP/w" g.npy g.npy.lmgc g.orig keep.lmgc noext noext.out

# info and codecs.
check "info shows the header" 0 'format: +\.lmgc 2\.0' '^$' -- "$LMGC" info "$TMP/w/g.npy.lmgc"
check "info shows the source" 0 'npy file, [0-9]+ bytes' '' -- "$LMGC" info "$TMP/w/g.npy.lmgc"
check "info shows tensors" 0 '\| array +\| f32 +\| \[5000\]' '' -- "$LMGC" info "$TMP/w/g.npy.lmgc"
check "info --all" 0 'chunks \(' '' -- "$LMGC" info --all "$TMP/w/g.npy.lmgc"
check "codecs lists store" 0 '\| store ' '^$' -- "$LMGC" codecs
check "codecs marks the default" 0 '\(default\)' '' -- "$LMGC" codecs
# (lm needs a model folder: tests/model covers it.)
for codec in $("$LMGC" codecs | awk -F'|' 'NR > 2 && $3 ~ /built in/ {gsub(/ |\(default\)/, "", $2); if ($2 != "lm") print $2}'); do
  check "round trip with --codec $codec" 0 '' '' -- "$LMGC" compress -q -f "$TMP/w/g.orig" --format npy --codec "$codec" -o "$TMP/w/c.lmgc"
  check "decompress $codec" 0 '' '' -- "$LMGC" decompress -q -f "$TMP/w/c.lmgc" -o "$TMP/w/c.npy"
  expect_true "$codec round trip is exact" cmp -s "$TMP/w/c.npy" "$TMP/w/g.orig"
done
finish
