#!/usr/bin/env bash
# The test models themselves, with coremltools (the dev venv; skipped without it):
# every fixture loads and matches ANEMLL's interfaces (scripts/check-test-models), and the
# generator reproduces every committed file byte for byte (scripts/make-test-models --check).
cd "$(dirname "$0")/../.." || exit 1
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import coremltools' 2>/dev/null; then
    echo "SKIP test_models_in_coremltools: the dev venv with coremltools is absent (scripts/dev-venv.sh)"
    echo "SKIP test_models_regenerate_bit_for_bit: the dev venv with coremltools is absent (scripts/dev-venv.sh)"
    exit 0
fi
scripts/check-test-models || exit 1
if out=$(scripts/make-test-models --check 2>&1); then
    echo "PASS test_models_regenerate_bit_for_bit"
else
    printf '%s\n' "$out" | tail -20
    echo "FAIL test_models_regenerate_bit_for_bit: scripts/make-test-models --check found differences"
fi
