#!/usr/bin/env bash
# Every good input of make-inputs.py (special floats: NaN payloads, +-Inf, -0.0, denormals;
# empty tensors; zero-length raw files; both byte orders; Fortran order; .safetensors with
# metadata; genuine numpy and torch.save files where python3 has them) must come back bit
# for bit from `lmgc compress` + `lmgc decompress`, chunked and unchunked.
source "$(dirname "$0")/cli-lib.sh"
set -e
"$PY" "$SRC/tests/cli/make-inputs.py" "$TMP/in"
mkdir "$TMP/out"
n=0
for f in "$TMP"/in/good/*; do
  name=$(basename "$f")
  raw=()
  case "$name" in *.raw) raw=(--raw) ;; esac
  for mode in "--chunk-bytes 512" "--unchunked"; do
    # shellcheck disable=SC2086
    check "compress $name $mode" 0 '' '^$' -- "$LMGC" compress "${raw[@]}" $mode -t 2 "$f" -o "$TMP/out/$name.lmgc" -f
    check "decompress $name $mode" 0 'restored' '^$' -- "$LMGC" decompress "$TMP/out/$name.lmgc" -o "$TMP/out/$name" -f
    expect_true "$name $mode is bit-exact" cmp "$f" "$TMP/out/$name"
  done
  n=$((n + 1))
done
expect_true "at least 12 inputs" [ "$n" -ge 12 ]

# What info reports for some of them.
check "empty raw file has no tensors" 0 'tensors \(0\)' '' -- "$LMGC" info "$TMP/out/empty.raw.lmgc"
check "empty tensor kept in the manifest of safetensors" 0 'raw, 0 bytes|tensors \(0\)' '' -- "$LMGC" info "$TMP/out/only-empty.safetensors.lmgc"
check "safetensors tensors keep their names" 0 '\| special +\| f32' '' -- "$LMGC" info "$TMP/out/model.safetensors.lmgc"
if [ -f "$TMP/in/good/collector.pt" ]; then
  check "torch views share one storage, named by the first path" 0 '\| state_dict\.conv\.weight +\| f32 +\| \[5000\]' '' -- "$LMGC" info "$TMP/out/collector.pt.lmgc"
  check "torch bf16 tensor" 0 '\| state_dict\.fc\.weight +\| bf16' '' -- "$LMGC" info "$TMP/out/collector.pt.lmgc"
  check "torch source format" 0 'torch file' '' -- "$LMGC" info "$TMP/out/collector.pt.lmgc"
fi
expect_true "no temporary files left" [ -z "$(find "$TMP/out" -name '.*tmp*')" ]
finish
