#!/usr/bin/env bash
# Interrupted runs leave nothing behind (issue 10): SIGINT and SIGTERM remove the temporary
# output and the process dies of the signal; after SIGKILL the temporary (".NAME.lmgc-tmp",
# named so a user sees what it is) stays, and the next run writing that output removes it;
# two runs writing the same output at once: the second is refused. Also: input that is no
# known format, from a device, is refused after a bounded prefix.
source "$(dirname "$0")/cli-lib.sh"
set -e

mkdir "$TMP/w"
# ~16 MB of gradient-like float32: long enough under cm at one thread to be interrupted.
"$PY" - "$TMP/w/big.raw" <<'EOF'
import random, struct, sys
rng = random.Random(1)
vals = [rng.gauss(0, 1e-3) if rng.random() < 0.7 else 0.0 for _ in range(1 << 16)]
block = struct.pack('<%df' % len(vals), *vals)
with open(sys.argv[1], 'wb') as f:
    for i in range(64):  # 64 perturbed copies of a 256 KiB block
        f.write(bytes(b ^ (i & 0x0f) if j % 4 == 0 else b for j, b in enumerate(block)))
EOF

# waits (up to 20 s) until FILE exists; returns 1 if it never does
wait_for() {
  for _ in $(seq 200); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# interrupt SIGNAL COMMAND...: starts the command, signals it once its temporary exists,
# and sets RC to its exit status.
interrupt() {
  local sig=$1 tmpfile=$2
  shift 2
  "$@" >/dev/null 2>&1 &
  local pid=$!
  if wait_for "$tmpfile"; then kill -s "$sig" "$pid"; fi
  set +e
  wait "$pid"
  RC=$?
  set -e
}

cmd=("$LMGC" compress "$TMP/w/big.raw" --raw -c cm -t 1 -o "$TMP/w/out.lmgc")
interrupt INT "$TMP/w/.out.lmgc.lmgc-tmp" "${cmd[@]}"
expect_true "SIGINT: died of the signal (exit 130)" [ "$RC" -eq 130 ]
expect_true "SIGINT: no output, no temporary" only_files "$TMP/w" big.raw
interrupt TERM "$TMP/w/.out.lmgc.lmgc-tmp" "${cmd[@]}"
expect_true "SIGTERM: died of the signal (exit 143)" [ "$RC" -eq 143 ]
expect_true "SIGTERM: no output, no temporary" only_files "$TMP/w" big.raw
interrupt KILL "$TMP/w/.out.lmgc.lmgc-tmp" "${cmd[@]}"
expect_true "SIGKILL: the temporary stays, named for its output" \
  only_files "$TMP/w" big.raw .out.lmgc.lmgc-tmp

# The next run writing that output takes the stale temporary over.
check "the next run succeeds" 0 '' '' -- "$LMGC" compress -q "$TMP/w/big.raw" --raw -c zstd -o "$TMP/w/out.lmgc"
expect_true "and leaves no temporary" only_files "$TMP/w" big.raw out.lmgc

# Two runs writing the same output at once: the second is refused, the first completes.
"${cmd[@]}" -f >/dev/null 2>&1 &
first=$!
wait_for "$TMP/w/.out.lmgc.lmgc-tmp" || true
fails "a second writer of the same output is refused" 1 'another process is writing' -- \
  "${cmd[@]}" -f
set +e
wait "$first"
first_rc=$?
set -e
expect_true "the first writer completes" [ "$first_rc" -eq 0 ]
expect_true "no temporary left" only_files "$TMP/w" big.raw out.lmgc

# Decompression too.
interrupt INT "$TMP/w/.back.raw.lmgc-tmp" "$LMGC" decompress -t 1 "$TMP/w/out.lmgc" -o "$TMP/w/back.raw"
expect_true "decompress SIGINT: exit 130" [ "$RC" -eq 130 ]
expect_true "decompress SIGINT: nothing left" only_files "$TMP/w" big.raw out.lmgc

# A device of endless zeros is no known format: refused after a bounded prefix, at once.
fails "compress /dev/zero" 1 'unrecognized file format in the first 4096 bytes' -- \
  timeout 10 "$LMGC" compress /dev/zero -o "$TMP/w/z.lmgc"
fails "decompress /dev/zero" 1 'not a .lmgc file' -- timeout 10 "$LMGC" decompress /dev/zero -o "$TMP/w/z"
fails "compress /dev/zero --raw stops at the bound" 1 'not a regular file and holds more than' -- \
  timeout 60 "$LMGC" compress /dev/zero --raw -o "$TMP/w/z.lmgc"
expect_true "nothing written for /dev/zero" only_files "$TMP/w" big.raw out.lmgc
finish
