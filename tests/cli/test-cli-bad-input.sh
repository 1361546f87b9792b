#!/usr/bin/env bash
# Bad input never crashes, hangs or leaves a file behind: malformed .npy/.safetensors/
# torch files, zero-length files, --raw sizes that are not a multiple of 4, and truncated,
# bit-flipped or foreign .lmgc files each get one line on stderr and exit code 1, and the
# output folder holds no partial or temporary file afterwards. Failing writes (unwritable
# folder) also leave nothing.
source "$(dirname "$0")/cli-lib.sh"
set -e
"$PY" "$SRC/tests/cli/make-inputs.py" "$TMP/in"
mkdir "$TMP/out"

# Malformed tensor files: name -> expected message.
declare -A why=(
  [zero-length.npy]='empty file'
  [not-a-tensor.txt]='unrecognized file format'
  [truncated-magic.npy]='unrecognized file format'
  [huge-shape.npy]='npy: shape too large'
  [huge-dim.npy]='npy: bad header'
  [negative-shape.npy]='npy: bad header \(negative dimension'
  [short-data.npy]='npy: shape needs 400 bytes of data but the file has 396'
  [bad-dtype.npy]="npy: dtype '<x9' is not supported"
  [junk-header.npy]='npy: bad header'
  [header-past-end.npy]='npy: header length 65535 runs past the end'
  [structured.npy]='npy: bad header \(structured dtypes'
  [junk-json.safetensors]='safetensors header: '
  [not-an-object.safetensors]='unrecognized file format'
  [offsets-past-end.safetensors]="safetensors: tensor 'a': data_offsets \[0, 16\] outside the data"
  [size-mismatch.safetensors]="safetensors: tensor 'a' has 16 bytes but shape and dtype need 20"
  [negative-shape.safetensors]="safetensors: tensor 'a': negative dimension -4"
  [huge-shape.safetensors]='shape too large'
  [overlap.safetensors]="tensor 'b' overlaps"
  [bad-dtype.safetensors]="unsupported dtype 'Q3'"
  [header-past-end.safetensors]='unrecognized file format'
  [truncated.pt]='torch: no zip end-of-central-directory record'
  [legacy.pt]='torch: this is the legacy torch.save format'
)
for f in "$TMP"/in/bad/*; do
  name=$(basename "$f")
  [ "$name" = odd-size.raw ] && continue
  re=${why[$name]:-}
  expect_true "message known for $name" [ -n "$re" ]
  fails "compress $name" 1 "$re" -- "$LMGC" compress "$f" -o "$TMP/out/x.lmgc"
done
# Forcing the format gives that parser's message.
fails "not-an-object as safetensors" 1 'safetensors header: expected an object|must be an object|object' -- \
  "$LMGC" compress --format safetensors "$TMP/in/bad/not-an-object.safetensors" -o "$TMP/out/x.lmgc"
fails "text as npy" 1 'npy: not a .npy file' -- "$LMGC" compress --format npy "$TMP/in/bad/not-a-tensor.txt" -o "$TMP/out/x.lmgc"
fails "text as torch" 1 'torch: not a torch.save file' -- "$LMGC" compress --format torch "$TMP/in/bad/not-a-tensor.txt" -o "$TMP/out/x.lmgc"
fails "--raw size not a multiple of 4" 1 'raw: file size 4001 is not a multiple of 4' -- \
  "$LMGC" compress --raw "$TMP/in/bad/odd-size.raw" -o "$TMP/out/x.lmgc"
fails "zero-length file without --raw" 1 'empty file \(use --raw' -- "$LMGC" compress "$TMP/in/good/empty.raw" -o "$TMP/out/x.lmgc"
expect_true "no output after bad tensor files" only_files "$TMP/out"

# Damaged .lmgc files. Start from a good one.
"$LMGC" compress -q --chunk-bytes 4096 "$TMP/in/good/grad.npy" -o "$TMP/good.lmgc"
size=$(stat -c %s "$TMP/good.lmgc")
damage() { # damage NAME: writes $TMP/out/NAME.lmgc per NAME
  case "$1" in
    truncated-half) head -c $((size / 2)) "$TMP/good.lmgc" ;;
    truncated-header) head -c 30 "$TMP/good.lmgc" ;;
    truncated-by-one) head -c $((size - 1)) "$TMP/good.lmgc" ;;
    empty) : ;;
    bitflip-payload | bitflip-header)
      local at=$((size * 3 / 4))
      [ "$1" = bitflip-header ] && at=25
      "$PY" -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[$at]^=4; sys.stdout.buffer.write(b)" "$TMP/good.lmgc" ;;
    foreign-npy) cat "$TMP/in/good/grad.npy" ;;
    foreign-text) echo "this is not compressed" ;;
    newer-version) "$PY" -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[8]=7; sys.stdout.buffer.write(b)" "$TMP/good.lmgc" ;;
    bad-end-marker) head -c $((size - 1)) "$TMP/good.lmgc"; printf 'X' ;;
    trailing-junk) cat "$TMP/good.lmgc"; printf 'junk' ;;
  esac >"$TMP/bad-$1.lmgc"
}
declare -A lmgc_why=(
  [truncated-half]='truncated|checksum'
  [truncated-header]='truncated'
  [truncated-by-one]='truncated|end marker'
  [empty]='empty file, not a .lmgc file'
  [bitflip-payload]='checksum mismatch in its coded data'
  [bitflip-header]='header checksum mismatch'
  [foreign-npy]='not a .lmgc file \(bad magic\)'
  [foreign-text]='not a .lmgc file \(bad magic\)'
  [newer-version]='format version 7\.0 is newer than this lmgc reads'
  [bad-end-marker]='bad end marker'
  [trailing-junk]='bad end marker'
)
for d in "${!lmgc_why[@]}"; do
  damage "$d"
  fails "decompress $d" 1 "${lmgc_why[$d]}" -- "$LMGC" decompress "$TMP/bad-$d.lmgc" -o "$TMP/out/restored.npy"
  if [ "$d" = bitflip-payload ]; then # info reads the header and the index, not the payload
    check "info $d" 0 'format:' '^$' -- "$LMGC" info "$TMP/bad-$d.lmgc"
  else
    fails "info $d" 1 "${lmgc_why[$d]}" -- "$LMGC" info "$TMP/bad-$d.lmgc"
  fi
done
expect_true "no partial output after damaged .lmgc files" only_files "$TMP/out"

# Output that cannot be written: nothing is left behind, the error names the path.
fails "missing output folder" 1 "cannot create a file in '$TMP/nowhere/'" -- \
  "$LMGC" compress "$TMP/in/good/grad.npy" -o "$TMP/nowhere/x.lmgc"
if [ -d /proc/self ]; then # not writable even for root
  fails "unwritable output folder (/proc)" 1 "cannot create a file in '/proc/self/'" -- \
    "$LMGC" decompress "$TMP/good.lmgc" -o /proc/self/x.npy
fi
mkdir "$TMP/ro"
chmod 555 "$TMP/ro"
if [ ! -w "$TMP/ro" ]; then # as root every folder is writable
  fails "read-only output folder" 1 "cannot create a file in '$TMP/ro/'" -- \
    "$LMGC" decompress "$TMP/good.lmgc" -o "$TMP/ro/x.npy"
fi
chmod 755 "$TMP/ro"
expect_true "nothing left in the read-only folder" only_files "$TMP/ro"
fails "output is a folder" 1 "is a directory" -- "$LMGC" decompress "$TMP/good.lmgc" -o "$TMP/ro"
expect_true "no temporary files anywhere" [ -z "$(find "$TMP" -name '.*.lmgc-tmp')" ]
finish
