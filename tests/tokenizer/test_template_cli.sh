#!/usr/bin/env bash
# `anemone template`: the built-in templates against the prompts llama.cpp builds for
# those families (written out below), the fallback for a model without a template,
# --chat-template NAME|FILE, --var, --no-generation-prompt, and the error paths.
bin=${ANEMONE_BIN:-./anemone}
shared=${ANEMONE_SHARED:-../shared}/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# expect NAME EXPECTED_TEXT ARGS... — stdout must be exactly the text (no newline added).
expect() {
    local name=$1 want=$2; shift 2
    printf '%s' "$want" >"$tmp/want"
    "$bin" template "$@" >"$tmp/got" 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne 0 ]; then fail "$name" "exit $rc: $(head -c 300 "$tmp/err")"
    elif cmp -s "$tmp/want" "$tmp/got"; then pass "$name"
    else fail "$name" "got $(head -c 300 "$tmp/got" | od -c | head -5 | tr -s ' ' | tr '\n' ' ')"; fi
}

mkdir -p "$tmp/plain"
echo '{"bos_token": "<s>", "eos_token": "</s>"}' >"$tmp/plain/tokenizer_config.json"
cat >"$tmp/conv.json" <<'EOF'
[{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
 {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"}]
EOF
c=(--messages "$tmp/conv.json")

expect builtin_chatml $'<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n' "$tmp/plain" "${c[@]}" --chat-template chatml
expect builtin_llama3 $'<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n' "$tmp/plain" "${c[@]}" --chat-template llama3
expect builtin_gemma $'<start_of_turn>user\nS\n\nU1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n<start_of_turn>user\nU2<end_of_turn>\n<start_of_turn>model\n' "$tmp/plain" "${c[@]}" --chat-template gemma
expect builtin_mistral $'[INST] S\n\nU1[/INST] A1</s>[INST] U2[/INST]' "$tmp/plain" "${c[@]}" --chat-template mistral
expect builtin_mistral_v7 $'[SYSTEM_PROMPT] S[/SYSTEM_PROMPT][INST] U1[/INST] A1</s>[INST] U2[/INST]' "$tmp/plain" "${c[@]}" --chat-template mistral-v7
expect builtin_llama2 $'[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST]A1</s>[INST] U2 [/INST]' "$tmp/plain" "${c[@]}" --chat-template llama2
expect builtin_phi3 $'<|system|>\nS<|end|>\n<|user|>\nU1<|end|>\n<|assistant|>\nA1<|end|>\n<|user|>\nU2<|end|>\n<|assistant|>\n' "$tmp/plain" "${c[@]}" --chat-template phi3
expect builtin_phi4 $'<|im_start|>system<|im_sep|>S<|im_end|><|im_start|>user<|im_sep|>U1<|im_end|><|im_start|>assistant<|im_sep|>A1<|im_end|><|im_start|>user<|im_sep|>U2<|im_end|><|im_start|>assistant<|im_sep|>' "$tmp/plain" "${c[@]}" --chat-template phi4
expect builtin_zephyr $'<|system|>\nS<|endoftext|>\n<|user|>\nU1<|endoftext|>\n<|assistant|>\nA1<|endoftext|>\n<|user|>\nU2<|endoftext|>\n<|assistant|>\n' "$tmp/plain" "${c[@]}" --chat-template zephyr
expect builtin_deepseek3 $'S\n\n<｜User｜>U1<｜Assistant｜>A1<｜end▁of▁sentence｜><｜User｜>U2<｜Assistant｜>' "$tmp/plain" "${c[@]}" --chat-template deepseek3

# Fallback: no template in the folder → ChatML; special tokens that show a family → it.
expect fallback_chatml $'<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n' "$tmp/plain" "${c[@]}" --no-generation-prompt
mkdir -p "$tmp/l3"
echo '{"bos_token": "<|begin_of_text|>", "added_tokens_decoder": {"128006": {"content": "<|start_header_id|>"}, "128007": {"content": "<|end_header_id|>"}}}' >"$tmp/l3/tokenizer_config.json"
expect fallback_detects_llama3 $'<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n' "$tmp/l3" "${c[@]}"
if [ -d "$shared/tokenizers/mistral" ]; then
    expect fallback_shared_mistral_tokenizer $'<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\n' "$shared/tokenizers/mistral" --messages <(echo '[{"role":"user","content":"U1"}]')
else
    echo "SKIP fallback_shared_mistral_tokenizer: no shared data"
fi

# --chat-template FILE, --var, the bos/eos tokens, a meta.yaml path, stdin, object form.
printf '%s' '{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ greeting }}{{ eos_token if add_generation_prompt else "." }}' >"$tmp/t.jinja"
expect template_file_and_vars '<s>[system:S][user:U1][assistant:A1][user:U2]héllo</s>' "$tmp/plain" "${c[@]}" --chat-template "$tmp/t.jinja" --var 'greeting="héllo"'
touch "$tmp/plain/meta.yaml"
expect meta_yaml_path '<s>[user:x].' "$tmp/plain/meta.yaml" --messages - --chat-template "$tmp/t.jinja" --no-generation-prompt <<<'[{"role":"user","content":"x"}]'
echo '{"messages": [{"role": "user", "content": "y"}], "greeting": 42}' >"$tmp/obj.json"
expect object_form '<s>[user:y]42</s>' "$tmp/plain" --messages "$tmp/obj.json" --chat-template "$tmp/t.jinja"
cp "$tmp/t.jinja" "$tmp/plain/chat_template.jinja"
expect chat_template_jinja_beside '<s>[user:y]7</s>' "$tmp/plain" --messages "$tmp/obj.json" --var greeting=7
rm "$tmp/plain/chat_template.jinja"

# Errors: usage (2), raise_exception reaching the user (1), syntax error with position (1).
"$bin" template >/dev/null 2>&1; [ $? -eq 2 ] && pass usage_no_model || fail usage_no_model "exit not 2"
"$bin" template "$tmp/plain" >/dev/null 2>&1; [ $? -eq 2 ] && pass usage_no_messages || fail usage_no_messages "exit not 2"
"$bin" template "$tmp/plain" "${c[@]}" --var 'x=nope' >/dev/null 2>&1; [ $? -eq 2 ] && pass usage_bad_var || fail usage_bad_var "exit not 2"
"$bin" template "$tmp/nowhere" "${c[@]}" >/dev/null 2>&1; [ $? -eq 1 ] && pass missing_model || fail missing_model "exit not 1"
"$bin" template "$tmp/plain" --messages "$tmp/nope.json" >/dev/null 2>&1; [ $? -eq 1 ] && pass missing_messages || fail missing_messages "exit not 1"
printf '%s' '{% if messages[0].role == "system" %}{{ raise_exception("System role not supported") }}{% endif %}' >"$tmp/raise.jinja"
err=$("$bin" template "$tmp/plain" "${c[@]}" --chat-template "$tmp/raise.jinja" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$err" = "anemone: chat template: System role not supported" ] && pass raise_exception_reaches_user || fail raise_exception_reaches_user "rc=$rc err=$err"
printf 'line one\n{%% for x in %%}\n' >"$tmp/bad.jinja"
err=$("$bin" template "$tmp/plain" "${c[@]}" --chat-template "$tmp/bad.jinja" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && grep -q "bad.jinja:2:13: " <<<"$err" && pass syntax_error_position || fail syntax_error_position "rc=$rc err=$err"
"$bin" template "$tmp/plain" "${c[@]}" --chat-template no-such-name >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no-such-name" "$tmp/err" && pass unknown_chat_template || fail unknown_chat_template "rc=$rc"
if [ -d "$shared/chat-templates/mistral-7b-instruct-v0.2" ]; then
    err=$("$bin" template "$shared/chat-templates/mistral-7b-instruct-v0.2" "${c[@]}" 2>&1 >/dev/null); rc=$?
    [ $rc -eq 1 ] && grep -q "Conversation roles must alternate" <<<"$err" && pass real_raise_exception || fail real_raise_exception "rc=$rc err=$err"
fi
"$bin" help template | grep -q -- "--chat-template" && pass help_template || fail help_template "no --chat-template in help"
