#!/usr/bin/env bash
# Byte-exact agreement with Hugging Face tokenizers (and sentencepiece for .model files):
# encode with and without special tokens, decode with and without skip_special_tokens,
# and the streaming detokenizer. See tests/tokenizer/README.md for where goldens come from.
set -u
BUILD=${ANEMONE_BUILD:-build}
CHECK=$BUILD/tests/tokenizer/tool_tokcheck
SHARED=${ANEMONE_SHARED:-../shared}
GEN=scripts/make-tokenizer-goldens
PY=.venv/bin/python
# Sanitizer builds stream-check only the first 2000 ids of the 100 KB inputs (time budget).
case $BUILD in *san*) export TOKCHECK_QUICK=1 ;; esac
have_ref=0
# Committed goldens are gzipped (gzip -n -9): unpacked into the build directory to use.
unpacked() { # committed.jsonl.gz name -> prints the path of the unpacked copy
    local out=$BUILD/tokenizer-goldens/committed-$2.jsonl
    mkdir -p "$(dirname "$out")"
    gzip -dc "$1" > "$out" && printf '%s' "$out"
}
if [ -x "$PY" ] && "$PY" -c 'import tokenizers, sentencepiece' 2>/dev/null; then have_ref=1; fi

# The test-model tokenizers: goldens committed in tests/tokenizer/golden/.
for pair in qwen3-fp16-c1/tokenizer.json:fixture-qwen3 llama-fp16-c1/tokenizer.model:fixture-llama; do
    file=tests/fixtures/${pair%%:*}
    name=${pair##*:}
    committed=tests/tokenizer/golden/$name.jsonl.gz
    if [ ! -f "$file" ]; then
        echo "SKIP $name: $file is missing"
        continue
    fi
    golden=$(unpacked "$committed" "$name") || { echo "FAIL $name: cannot unpack $committed"; continue; }
    "$CHECK" "$name" "$file" "$golden"
    if [ $have_ref = 1 ]; then
        # the committed goldens must be what the pinned reference gives today
        fresh=$BUILD/tokenizer-goldens/$name.jsonl
        mkdir -p "$(dirname "$fresh")"
        if "$GEN" --random 100 "$file" "$fresh" 2>/dev/null && cmp -s "$fresh" "$golden"; then
            echo "PASS $name goldens are up to date"
        else
            echo "FAIL $name goldens: $committed differs from what $GEN --random 100 writes now"
        fi
    fi
done

# The feature tokenizers (scripts/make-tokenizer-features): the components and flags the
# real tokenizers do not use. Goldens committed beside them (make-tokenizer-goldens --small).
for dir in tests/tokenizer/features/*/; do
    dir=${dir%/}
    name=feature-$(basename "$dir")
    golden=$(unpacked "$dir/golden.jsonl.gz" "$name") || { echo "FAIL $name: cannot unpack its goldens"; continue; }
    "$CHECK" "$name" "$dir" "$golden"
    if [ $have_ref = 1 ]; then
        fresh=$BUILD/tokenizer-goldens/$name.jsonl
        mkdir -p "$(dirname "$fresh")"
        if "$GEN" --small "$dir/tokenizer.json" "$fresh" 2>/dev/null && cmp -s "$fresh" "$golden"; then
            echo "PASS $name goldens are up to date"
        else
            echo "FAIL $name goldens: $dir/golden.jsonl.gz differs from what $GEN --small writes now"
        fi
    fi
done

# The real tokenizers of the shared data: goldens regenerated beside the build when the
# dev venv has the reference, else the golden.jsonl shipped with the data.
for t in qwen3 llama3 mistral gemma3; do
    dir=$SHARED/data/tokenizers/$t
    if [ ! -f "$dir/tokenizer.json" ]; then
        echo "SKIP $t: no shared data ($dir); set ANEMONE_SHARED"
        continue
    fi
    if [ $have_ref = 1 ]; then
        golden=$BUILD/tokenizer-goldens/$t.jsonl
        mkdir -p "$(dirname "$golden")"
        if [ ! -s "$golden" ] || [ "$GEN" -nt "$golden" ] || [ "$dir/tokenizer.json" -nt "$golden" ]; then
            "$GEN" "$dir/tokenizer.json" "$golden" 2>/dev/null ||
                { echo "FAIL $t: $GEN failed"; continue; }
        fi
        "$CHECK" "$t" "$dir" "$golden"
    else
        "$CHECK" "$t" "$dir" "$dir/golden.jsonl"
        echo "SKIP $t extended suite: needs the dev venv with tokenizers (scripts/requirements-dev.txt); checked the shipped golden.jsonl only"
    fi
done
exit 0
