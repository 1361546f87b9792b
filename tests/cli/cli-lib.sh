# Helpers for the CLI tests (sourced). Each check runs lmgc, compares the exit code and
# matches stdout/stderr against extended regular expressions, and counts the result; the
# script ends with `finish`, which prints "N passed, N failed" and sets the exit status.
set -u
LMGC=${LMGC_BIN:?LMGC_BIN must point at the lmgc binary}
SRC=${LMGC_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
  echo "$(basename "$0"): skipped: $PY (which writes the test inputs) not found"
  exit 77
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lmgc-cli-XXXXXX")
trap 'chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
passed=0
failed=0
OUT=""
ERR=""
RC=0

# run CMD...: runs it, keeping stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
  set +e
  "$@" >"$TMP/.out" 2>"$TMP/.err" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$TMP/.out")
  ERR=$(cat "$TMP/.err")
}

ok() { passed=$((passed + 1)); }
bad() {
  failed=$((failed + 1))
  echo "FAIL: $1" >&2
  echo "  exit code: $RC" >&2
  echo "  stdout: $(printf '%s' "$OUT" | head -c 600)" >&2
  echo "  stderr: $(printf '%s' "$ERR" | head -c 600)" >&2
}

# matches TEXT ERE: '' matches anything, '^$' only empty text.
matches() {
  case "$2" in
    '') return 0 ;;
    '^$') [ -z "$1" ] ;;
    *) printf '%s\n' "$1" | grep -Eq -- "$2" ;;
  esac
}

# check NAME EXIT STDOUT_ERE STDERR_ERE -- CMD...   ('' matches anything; '^$' means empty)
check() {
  local name=$1 want_rc=$2 out_re=$3 err_re=$4
  shift 4
  [ "$1" = "--" ] && shift
  run "$@"
  if [ "$RC" != "$want_rc" ]; then bad "$name (want exit $want_rc)"; return; fi
  if ! matches "$OUT" "$out_re"; then bad "$name (stdout !~ $out_re)"; return; fi
  if ! matches "$ERR" "$err_re"; then bad "$name (stderr !~ $err_re)"; return; fi
  ok
}

# fails NAME EXIT STDERR_ERE -- CMD...: a failure must print exactly one line on stderr,
# starting with "lmgc <command>:" (or "lmgc:"), and nothing on stdout.
fails() {
  local name=$1 want_rc=$2 err_re=$3
  shift 3
  check "$name" "$want_rc" '^$' "$err_re" "$@"
  if [ "$RC" = "$want_rc" ] && [ "$(printf '%s\n' "$ERR" | wc -l)" != 1 ]; then
    passed=$((passed - 1)); bad "$name (stderr is not one line)"
  elif [ "$RC" = "$want_rc" ] && ! printf '%s' "$ERR" | grep -Eq '^lmgc( [a-z]+)?: '; then
    passed=$((passed - 1)); bad "$name (stderr does not start with 'lmgc <command>:')"
  fi
}

# expect_true NAME CMD...: a plain assertion.
expect_true() {
  local name=$1
  shift
  if "$@"; then ok; else RC=?; OUT=""; ERR=""; bad "$name"; fi
}

# No file but the expected ones in a folder: no partial output, no temporary file.
only_files() {
  local dir=$1
  shift
  local want got
  want=$(printf '%s\n' "$@" | sort | sed '/^$/d')
  got=$(cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)
  [ "$want" = "$got" ] || { echo "  folder $dir holds: $(echo $got)" >&2; return 1; }
}

finish() {
  echo "$(basename "$0"): $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
