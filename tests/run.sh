#!/usr/bin/env bash
# run.sh — runs every test and ends with one line a CI reader understands:
# "N passed, N failed". Unit tests (cmocka) run twice: plain and under ASan+UBSan.
# Integration tests are tests/integration/test_*.{sh,py,js}; each prints TAP-style
# "ok - name" / "not ok - name" lines, and a script that exits non-zero without a
# "not ok" line counts as one failure.
set -uo pipefail
cd "$(dirname "$0")/.."

pass=0 fail=0 failed_names=()
mode=${1:-all}
export BRAID_BIN=${BRAID_BIN:-$PWD/build/braid}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_cmocka() { # $1 binary
  local out rc p f
  out=$("$1" 2>&1); rc=$?
  echo "$out" | grep -E '^\[ *(RUN|  OK|FAILED|PASSED|  ERROR) *\]|error|Error|ERROR' | grep -v '^\[ RUN' | sed 's/^/  /' | head -40
  p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "$out" | tail -20; fi
  pass=$((pass + p)); fail=$((fail + f))
  [ "$f" -eq 0 ] || failed_names+=("$1")
}

if [ "$mode" = all ]; then
  for t in build/tests/test_*; do [ -x "$t" ] || continue; echo "== unit: $t"; run_cmocka "$t"; done
  for t in build/tests-asan/test_*; do [ -x "$t" ] || continue; echo "== unit (asan+ubsan): $t"; run_cmocka "$t"; done
fi

for t in tests/integration/test_*; do
  [ -f "$t" ] || continue
  case "$t" in
    *.sh) cmd=(bash "$t") ;;
    *.py) cmd=(/usr/bin/python3 "$t") ;;
    *.js|*.mjs) cmd=(node "$t") ;;
    *) continue ;;
  esac
  if [ -n "${ONLY:-}" ] && [[ "$t" != *"$ONLY"* ]]; then continue; fi
  echo "== integration: $t"
  start=$(date +%s)
  out=$(timeout "${TEST_TIMEOUT:-600}" "${cmd[@]}" 2>&1); rc=$?
  echo "$out" | grep -E '^(ok|not ok|#)' | sed 's/^/  /' | head -100
  p=$(echo "$out" | grep -c '^ok ' || true)
  f=$(echo "$out" | grep -c '^not ok' || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "  (exit $rc) last output:"; echo "$out" | tail -25 | sed 's/^/  | /'; fi
  [ "$f" -eq 0 ] || { failed_names+=("$t"); echo "$out" | grep -B2 -A8 '^not ok' | head -60 | sed 's/^/  | /'; }
  echo "  ($(( $(date +%s) - start ))s)"
  pass=$((pass + p)); fail=$((fail + f))
done

if ((${#failed_names[@]})); then echo "failing: ${failed_names[*]}"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
