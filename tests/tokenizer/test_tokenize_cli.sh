#!/usr/bin/env bash
# `anemone tokenize` / `anemone detokenize` on the test-model tokenizers. Expected ids and
# texts are read from the committed goldens (written by HF tokenizers / sentencepiece).
bin=${ANEMONE_BIN:-./anemone}
PY=${PYTHON:-python3}
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
expect() { # name, got, want
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}
QWEN=tests/fixtures/qwen3-fp16-c1
LLAMA=tests/fixtures/llama-fp16-c1
if [ ! -d "$QWEN" ] || [ ! -d "$LLAMA" ]; then
    echo "SKIP tokenize_cli: the test-model fixtures are missing"
    exit 0
fi

# golden FILE TEXT ADD_SPECIAL FIELD: a field of the golden record for that text
golden() {
    "$PY" - "$@" <<'PYEOF'
import gzip, json, sys
path, text, add, field = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
for line in gzip.open(path, "rt", encoding="utf-8"):
    r = json.loads(line)
    if r.get("text") == text and r["add_special"] == add:
        v = r[field]
        if v is True:  # the same as the input text
            v = text
        print(json.dumps(v, separators=(", ", ":")) if isinstance(v, list) else v, end="")
        break
PYEOF
}

T="The quick brown fox jumps over the lazy dog."
for m in "$QWEN:fixture-qwen3" "$LLAMA:fixture-llama"; do
    dir=${m%%:*}; name=${m##*:}; g=tests/tokenizer/golden/$name.jsonl.gz
    expect "${name}_tokenize" "$("$bin" tokenize "$dir" "$T")" "$(golden "$g" "$T" 1 ids)"
    expect "${name}_no_special" "$("$bin" tokenize --no-special "$dir" "$T")" "$(golden "$g" "$T" 0 ids)"
    ids=$(golden "$g" "$T" 1 ids)
    expect "${name}_detokenize" "$("$bin" detokenize "$dir" "$ids")" "$(golden "$g" "$T" 1 decoded)"
    expect "${name}_detokenize_skip" "$("$bin" detokenize --skip-special "$dir" $(tr -d '[],' <<<"$ids"))" \
        "$(golden "$g" "$T" 1 decoded_skip)"
done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf 'line1\nline2\r\nline3\rline4' >"$tmp"
want=$(golden tests/tokenizer/golden/fixture-qwen3.jsonl.gz "$(cat "$tmp")" 1 ids)
expect tokenize_file "$("$bin" tokenize "$QWEN/tokenizer.json" -f "$tmp")" "$want"
expect tokenize_stdin "$("$bin" tokenize "$QWEN/meta.yaml" - <"$tmp")" "$want"
expect tokenize_words_joined "$("$bin" tokenize "$QWEN" Hello world)" "$("$bin" tokenize "$QWEN" "Hello world")"
printf -- '-x' >"$tmp"
expect tokenize_dashdash "$("$bin" tokenize "$QWEN" -- -x)" "$("$bin" tokenize "$QWEN" -f "$tmp")"

"$bin" tokenize "$QWEN" >/dev/null 2>&1; expect tokenize_no_text_exit2 $? 2
"$bin" tokenize --bogus "$QWEN" x >/dev/null 2>&1; expect tokenize_bad_option_exit2 $? 2
err=$("$bin" tokenize tests/no-such-model x 2>&1 >/dev/null); rc=$?
expect tokenize_missing_model_exit1 $rc 1
expect tokenize_missing_model_message "$(head -c 9 <<<"$err")" "anemone: "
"$bin" detokenize "$QWEN" 12x >/dev/null 2>&1; expect detokenize_bad_id_exit2 $? 2
"$bin" detokenize "$QWEN" 99999999 >/dev/null 2>&1; expect detokenize_out_of_range_exit1 $? 1
out=$("$bin" help tokenize); expect tokenize_help "$(head -1 <<<"$out" | cut -c1-23)" "usage: anemone tokenize"
