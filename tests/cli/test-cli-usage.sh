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
fails "negative threads" 2 'threads must be between 0' -- "$LMGC" compress x --threads -1
# Every invalid value is refused with exit 2 (issue 10), never silently changed or ignored.
fails "too many threads" 2 'threads must be between 0 .* and 1024' -- "$LMGC" compress x --threads 100000
check "--help says more threads than cores is allowed" 0 'more than the cores is allowed' '' -- "$LMGC" compress --help
fails "empty codec name" 2 'codec needs a codec name' -- "$LMGC" compress x -c ''
fails "empty codec name, before reading" 2 'codec needs a codec name' -- "$LMGC" compress none.npy --codec=
fails "level out of range" 2 'level must be 1 to 9' -- "$LMGC" compress x --level 10
fails "level and codec" 2 'exclude each other' -- "$LMGC" compress x -3 -c zstd
fails "lm setting without a model" 2 '--device is a setting of the lm codec' -- "$LMGC" compress x --device tpu
fails "--batch 0" 2 'batch must be at least 1' -- "$LMGC" compress x --model /nonexistent --batch 0
fails "decompress to standard output" 2 'give -o FILE' -- "$LMGC" decompress x.lmgc -o -
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
check "codecs lists the levels" 0 'levels \(lmgc compress -N\)' '' -- "$LMGC" codecs
check "codecs lists settings" 0 '\| cm .*mantissa_bits' '' -- "$LMGC" codecs

# Levels: -1 .. -9 and --level N round trip, and info shows the level.
for l in 1 2 3 4 5 6 7 8 9; do
  check "compress -$l" 0 '' '' -- "$LMGC" compress -q -f -$l "$TMP/w/g.orig" --format npy -o "$TMP/w/l.lmgc"
  check "info shows level $l" 0 "level: +$l" '' -- "$LMGC" info "$TMP/w/l.lmgc"
  check "decompress level $l" 0 '' '' -- "$LMGC" decompress -q -f "$TMP/w/l.lmgc" -o "$TMP/w/l.npy"
  expect_true "level $l round trip is exact" cmp -s "$TMP/w/l.npy" "$TMP/w/g.orig"
done
check "--level 9" 0 '' '' -- "$LMGC" compress -q -f --level 9 "$TMP/w/g.orig" --format npy -o "$TMP/w/l.lmgc"
# Level 1 is planes; level 2 is fast without lag classes, and info says so; the setting
# takes 0 or 1 only.
check "compress -1 again" 0 '' '' -- "$LMGC" compress -q -f -1 "$TMP/w/g.orig" --format npy -o "$TMP/w/l.lmgc"
check "info shows level 1's codec" 0 '\| planes +\|' '' -- "$LMGC" info "$TMP/w/l.lmgc"
check "compress -2 again" 0 '' '' -- "$LMGC" compress -q -f -2 "$TMP/w/g.orig" --format npy -o "$TMP/w/l.lmgc"
check "info shows level 2's setting" 0 'fast +\| lag_classes=0' '' -- "$LMGC" info "$TMP/w/l.lmgc"
fails "lag_classes out of range" 2 'lag_classes' -- "$LMGC" compress -q -f "$TMP/w/g.orig" --format npy -c fast --set lag_classes=2 -o "$TMP/w/l.lmgc"
check "compress --help lists the levels" 0 '^  -9 ' '' -- "$LMGC" compress --help

# --verify: decodes every chunk again before reporting success.
check "--verify" 0 'verified' '^$' -- "$LMGC" compress -f --verify "$TMP/w/g.orig" --format npy -o "$TMP/w/v.lmgc"
# --chunk-bytes 0 means one chunk per stream, as in bench; sizes below 8 are refused.
check "--chunk-bytes 0 is unchunked" 0 '' '' -- "$LMGC" compress -q -f --chunk-bytes 0 "$TMP/w/g.orig" --format npy -o "$TMP/w/u.lmgc"
check "info: unchunked" 0 'unchunked' '' -- "$LMGC" info "$TMP/w/u.lmgc"
fails "--chunk-bytes 3" 2 'chunk size 3 is out of range' -- "$LMGC" compress "$TMP/w/g.orig" --chunk-bytes 3 -o "$TMP/w/x.lmgc"
fails "unknown codec setting" 2 "codec 'zstd' has no setting 'bogus'" -- "$LMGC" compress "$TMP/w/g.orig" -c zstd --set bogus=1 -o "$TMP/w/x.lmgc"
fails "decompress: a setting no codec of the file has" 2 "has a setting 'bogus'" -- "$LMGC" decompress "$TMP/w/v.lmgc" --set bogus=1 -o "$TMP/w/x.npy"

# Standard input and output (compress): a pipe in, a pipe out.
expect_true "compress - -o - round trip" bash -c "cat '$TMP/w/g.orig' | '$LMGC' compress -q - -o - >'$TMP/w/p.lmgc' && '$LMGC' decompress -q -f '$TMP/w/p.lmgc' -o '$TMP/w/p.npy' && cmp -s '$TMP/w/p.npy' '$TMP/w/g.orig'"
fails "standard input needs -o" 2 'needs -o' -- "$LMGC" compress -
rm -f "$TMP/w/l.lmgc" "$TMP/w/l.npy" "$TMP/w/v.lmgc" "$TMP/w/u.lmgc" "$TMP/w/p.lmgc" "$TMP/w/p.npy"

# (lm needs a model folder: tests/model covers it.)
for codec in $("$LMGC" codecs | awk -F'|' 'NR > 2 && $3 ~ /built in/ {gsub(/ |\(default\)/, "", $2); if ($2 != "lm") print $2}'); do
  check "round trip with --codec $codec" 0 '' '' -- "$LMGC" compress -q -f "$TMP/w/g.orig" --format npy --codec "$codec" -o "$TMP/w/c.lmgc"
  check "decompress $codec" 0 '' '' -- "$LMGC" decompress -q -f "$TMP/w/c.lmgc" -o "$TMP/w/c.npy"
  expect_true "$codec round trip is exact" cmp -s "$TMP/w/c.npy" "$TMP/w/g.orig"
done
finish
