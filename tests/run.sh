#!/usr/bin/env bash
# tests/run.sh — run every test and print one summary line: "N passed, N failed, N skipped".
#
# Tests are: the C programs built from tests/*/test_*.c (in $BUILD/tests/...), and the
# scripts tests/*/test_*.py (run with $PYTHON) and tests/*/test_*.sh (run with bash).
# Each prints lines "PASS name", "FAIL name: why" or "SKIP name: why". A program that
# exits non-zero without printing a FAIL line counts as one failure (a crash, say).
# Run from the repository root. Environment passed to tests:
#   ANEMONE_BIN     the anemone binary under test      ANEMONE_BUILD  the build directory
#   ANEMONE_SHARED  the shared data (default ../shared; tests skip when it is absent)
# TEST_FILTER=regex runs only the test files whose path matches.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
# the system Python carries the test dependencies (install-deps.sh); the Makefile picks the same
PYTHON=${PYTHON:-$(test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)}
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
export ANEMONE_BUILD="$BUILD" ANEMONE_BIN="$PWD/$BUILD/anemone" PYTHON
export ANEMONE_SHARED=${ANEMONE_SHARED:-$(cd .. && pwd)/shared}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 skipped=0
failures=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run_one() { # label, command...
    local label=$1; shift
    local start=$SECONDS
    timeout "$TEST_TIMEOUT" "$@" >"$out" 2>&1
    local rc=$?
    local p f s
    p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^SKIP ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        if [ "$rc" -eq 124 ]; then echo "FAIL $label: timed out after ${TEST_TIMEOUT}s" >>"$out"
        else echo "FAIL $label: exited with status $rc" >>"$out"; fi
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    printf '%-44s %4d passed %3d failed %3d skipped  (%ds)\n' "$label" "$p" "$f" "$s" $((SECONDS - start))
    if [ "$f" -gt 0 ]; then
        # Show the whole output of a failing test: the FAIL lines and whatever it printed.
        grep -v '^PASS ' "$out" | sed 's/^/    /' | tail -n 60
        failures+=("$label")
    fi
    grep '^SKIP ' "$out" | sed 's/^/    /' | head -n 5
}

filter=${TEST_FILTER:-.}
for t in $(find "$BUILD/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
    [[ $t =~ $filter ]] || continue
    run_one "${t#"$BUILD"/}" "$t"
done
for t in $(ls tests/*/test_*.py tests/*/*/test_*.py 2>/dev/null | sort); do
    [[ $t =~ $filter ]] || continue
    run_one "$t" "$PYTHON" "$t"
done
for t in $(ls tests/*/test_*.sh tests/*/*/test_*.sh 2>/dev/null | sort); do
    [[ $t =~ $filter ]] || continue
    run_one "$t" bash "$t"
done

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
