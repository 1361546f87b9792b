#!/bin/bash
# scripts/train-tiny-llama, a few steps of a very small model: the checkpoint it writes loads
# in lmgc, its Python forward agrees with `lmgc predict` (--check, which exits non-zero
# otherwise), and the lm codec round-trips a file with it in both token schemes. Skipped
# (77) without python3-torch, python3-numpy or the sentencepiece tools.
set -eu
LMGC=${LMGC_BIN:?LMGC_BIN must point at the lmgc binary}
SRC=${LMGC_SOURCE:?LMGC_SOURCE must point at the source tree}
PY=/usr/bin/python3
if ! "$PY" -c 'import numpy, torch' 2>/dev/null || ! command -v spm_train >/dev/null; then
  echo "skipped: needs $PY with numpy and torch, and spm_train"
  exit 77
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lmgc-tiny-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$PY" - "$TMP" <<'PYEOF'
import sys, numpy as np
g = np.random.default_rng(1)
for name, n in (("train", 3000), ("held", 300)):
    a = (g.standard_normal(n) * 1e-3).astype("<f4")
    a[g.random(n) < 0.3] = 0
    np.save(f"{sys.argv[1]}/{name}.npy", a)
PYEOF
"$PY" "$SRC/scripts/train-tiny-llama" --lmgc "$LMGC" --out "$TMP/m" --steps 3 --context 64 \
  --vocab 400 --hidden 32 --intermediate 64 --layers 2 --heads 4 --kv-heads 2 --batch 2 \
  --log-every 1 "$TMP/train.npy" >"$TMP/log" || { cat "$TMP/log"; exit 1; }
grep -q '^check: 63 tokens' "$TMP/log" || { cat "$TMP/log"; exit 1; }
for f in config.json model.safetensors tokenizer.model training.json; do
  [ -s "$TMP/m/$f" ] || { echo "missing $f"; exit 1; }
done
for t in canonical symbol; do
  "$LMGC" compress "$TMP/held.npy" --model "$TMP/m" --tokens "$t" --context 64 -q -f \
    -o "$TMP/held.$t.lmgc"
  "$LMGC" decompress "$TMP/held.$t.lmgc" --model "$TMP/m" -q -f -o "$TMP/back.npy"
  cmp "$TMP/held.npy" "$TMP/back.npy"
done
echo "passed"
