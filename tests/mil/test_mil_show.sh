#!/usr/bin/env bash
# test_mil_show.sh — `anemone show` on Core ML components: description, --program,
# pipelines, missing weights, errors and exit statuses (CLI.md).
set -u
BIN=${ANEMONE_BIN:-build/anemone}
SHARED=${ANEMONE_SHARED:-../shared}
SAMPLES=$SHARED/data/coreml-samples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# A fixture with LUT weights: functions, states, metadata, histogram, compression.
fx=tests/fixtures/llama-lut4-c2/llama_FFN_PF_lut4_chunk_01of02.mlmodelc
if [ -d "$fx" ]; then
    out=$("$BIN" show "$fx" 2>"$tmp/err"); rc=$?
    if [ $rc -eq 0 ] && grep -q '^function infer <ios18> (default)' <<<"$out" &&
        grep -q '^function prefill <ios18>$' <<<"$out" &&
        grep -Eq '^      model_model_kv_cache_0 +fp16 +\[[0-9]+, [0-9]+, [0-9]+, [0-9]+\]' <<<"$out" &&
        grep -q 'com.anemll.context_length: ' <<<"$out" &&
        grep -Eq '^      constexpr_lut_to_dense +[0-9]+' <<<"$out" &&
        grep -Eq 'LUT 4-bit, group size [0-9]+' <<<"$out"; then
        pass show_describes_fixture
    else
        fail show_describes_fixture "rc=$rc: $(head -c 600 <<<"$out") $(cat "$tmp/err")"
    fi
    # No weight file needed for the description.
    cp -r "$fx" "$tmp/noweights.mlmodelc" && rm -rf "$tmp/noweights.mlmodelc/weights"
    if "$BIN" show "$tmp/noweights.mlmodelc" >/dev/null 2>&1 && "$BIN" show --program "$tmp/noweights.mlmodelc" >/dev/null 2>&1; then
        pass show_without_weights
    else
        fail show_without_weights "exit status $?"
    fi
else
    echo "SKIP show_describes_fixture: no fixture $fx"
fi

# The two forms of one component print the same program.
a=tests/fixtures/llama-lut4-c1/llama_lm_head_lut6.mlpackage b=tests/fixtures/llama-lut4-c2/llama_lm_head_lut6.mlmodelc
if [ -d "$a" ] && [ -d "$b" ]; then
    "$BIN" show --program "$a" >"$tmp/a.mil" && "$BIN" show --program "$b" >"$tmp/b.mil"
    if cmp -s "$tmp/a.mil" "$tmp/b.mil" && [ -s "$tmp/a.mil" ]; then pass program_text_same_for_both_forms
    else fail program_text_same_for_both_forms "$(diff "$tmp/a.mil" "$tmp/b.mil" | head -5 | cut -c1-200)"; fi
    if "$BIN" show "$a" | grep -q '^format: mlpackage (protobuf)'; then pass show_package
    else fail show_package "no package format line"; fi
else
    echo "SKIP program_text_same_for_both_forms: fixtures missing"
fi

if [ -d "$SAMPLES" ]; then
    n=0 bad=0
    while read -r d; do
        n=$((n + 1))
        "$BIN" show "$d" >"$tmp/o" 2>"$tmp/e" || { bad=$((bad + 1)); echo "    $d: $(cat "$tmp/e")"; }
    done < <(find "$SAMPLES" -name '*.mlmodelc' -o -name 'coremltools-add_model' | sort)
    if [ $bad -eq 0 ] && [ $n -ge 15 ]; then pass show_every_sample; else fail show_every_sample "$bad of $n failed"; fi
    out=$("$BIN" show "$SAMPLES/mlmodelc-export/cast/expected.mlmodelc")
    if grep -q '^pipeline model 1 of ' <<<"$out" && grep -q '^      cast ' <<<"$out"; then pass show_pipeline
    else fail show_pipeline "$(head -c 300 <<<"$out")"; fi
    out=$("$BIN" show "$SAMPLES/mlmodelc-export/flexible-enumerated/expected-macos.mlmodelc")
    if grep -Eq 'input +fp32 +\[\?\]  shapes \[1\] \| \[2\] \| \[4\]  default \[4\]' <<<"$out"; then pass show_enumerated_shapes
    else fail show_enumerated_shapes "$(grep input <<<"$out")"; fi
else
    echo "SKIP show_every_sample: no shared data"
fi

# Errors: exit 1 with the file and place; usage errors exit 2.
mkdir -p "$tmp/bad.mlmodelc"
printf 'program(1.3)\n{\n    func main<ios18>(tensor<fp99, [1]> x) {\n' >"$tmp/bad.mlmodelc/model.mil"
"$BIN" show "$tmp/bad.mlmodelc" >/dev/null 2>"$tmp/e"; rc=$?
if [ $rc -eq 1 ] && grep -q "bad.mlmodelc/model.mil:3:29: unknown dtype 'fp99'" "$tmp/e"; then pass show_reports_position
else fail show_reports_position "rc=$rc $(cat "$tmp/e")"; fi
"$BIN" show "$tmp/nothing-here" >/dev/null 2>"$tmp/e"; rc=$?
if [ $rc -eq 1 ] && grep -q 'nothing-here' "$tmp/e"; then pass show_missing_path; else fail show_missing_path "rc=$rc"; fi
mkdir -p "$tmp/empty.mlpackage"
"$BIN" show "$tmp/empty.mlpackage" >/dev/null 2>"$tmp/e"; rc=$?
if [ $rc -eq 1 ] && grep -q 'no Manifest.json' "$tmp/e"; then pass show_empty_package; else fail show_empty_package "rc=$rc $(cat "$tmp/e")"; fi
"$BIN" show >/dev/null 2>&1; rc1=$?
"$BIN" show --bogus x >/dev/null 2>&1; rc2=$?
if [ $rc1 -eq 2 ] && [ $rc2 -eq 2 ]; then pass show_usage_errors; else fail show_usage_errors "rc=$rc1,$rc2"; fi
