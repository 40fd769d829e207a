#!/usr/bin/env bash
# `anemone chat` in a real terminal: drives the readline REPL inside a detached tmux pane
# (send-keys in, capture-pane out) with a tiny random-weight model. Checks the prompts,
# the banner and footer, multi-line input, the slash commands, Ctrl-C / Ctrl-D, the
# history file and colour control. Every wait is a bounded poll; the tmux server is
# private (own socket and TMUX_TMPDIR) and is killed on exit.
set -u
bin=${ANEMONE_BIN:-./anemone}
model=tests/fixtures/qwen3-fp16-c1
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
check() { local name=$1 why=$2; shift 2; if "$@"; then pass "$name"; else fail "$name" "$why"; fi; }

names="banner_and_prompt turn_answer_and_footer multiline_quotes multiline_backslash help show
set_temp set_minus_one set_system clear regen think save_json load load_checks unknown_command ctrl_c_hint ctrl_c_drops_block ctrl_d_exit0
history_written history_bounded history_old_format history_multiline_file history_multiline_recall
history_multiline_submit ctrl_c_prefill ctrl_c_prefill_dropped ctrl_c_generation
ctrl_c_generation_kept ctrl_c_next_turn thinking_dimmed hide_thinking nohistory color_off no_color_env"
if ! command -v tmux >/dev/null 2>&1; then
    for n in $names; do echo "SKIP chat_tty_$n: tmux is not installed"; done
    exit 0
fi
if [ ! -f "$model/meta.yaml" ]; then
    for n in $names; do echo "SKIP chat_tty_$n: $model is missing"; done
    exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "FAIL chat_tty: python3 is needed"; exit 1; }

tmp=$(mktemp -d)
export TMUX_TMPDIR=$tmp
sock=anemone-test-$$-$RANDOM
echo 'set -g history-limit 20000' >"$tmp/tmux.conf" # the whole session stays in scroll-back
tm() { tmux -L "$sock" -f "$tmp/tmux.conf" "$@"; }
cleanup() { tm kill-server >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# A poll waits up to WAIT seconds (generous: the machine may be loaded, sanitizer builds are slow).
WAIT=${CHAT_TTY_WAIT:-20}

# start NAME ENV... -- ARGS...: run anemone chat in a new pane; its exit status lands in $tmp/NAME.rc
# and everything it writes to the terminal (escape codes included) in $tmp/NAME.log.
start() {
    local name=$1; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local cmd
    cmd=$(printf '%q ' env -u NO_COLOR TERM=screen "XDG_STATE_HOME=$tmp/state-$name" "${envs[@]}" \
          "$bin" chat "$model" "$@")
    if tm has-session 2>/dev/null; then
        tm new-window -d -n "$name" "$cmd; echo \$? > $tmp/$name.rc; sleep 600"
    else
        tm new-session -d -s main -n "$name" -x 200 -y 50 "$cmd; echo \$? > $tmp/$name.rc; sleep 600"
    fi
    tm pipe-pane -t "main:$name" "cat >> $tmp/$name.log"
}
# screen NAME: the pane's whole text (scroll-back included), wrapped lines joined
screen() { tm capture-pane -p -J -S - -t "main:$1" 2>/dev/null; }
# wait_for NAME COUNT REGEX: until REGEX (grep -E) matches at least COUNT lines of the pane
wait_for() {
    local name=$1 count=$2 re=$3 end=$((SECONDS + WAIT))
    while :; do
        [ "$(screen "$name" | grep -cE -- "$re")" -ge "$count" ] && return 0
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}
# wait_all NAME REGEX...: each REGEX matches at least once
wait_all() { local name=$1 re; shift; for re; do wait_for "$name" 1 "$re" || return 1; done; }
count() { screen "$1" | grep -cE -- "$2"; }
# bottom NAME TEXT: until the pane's last non-empty lines, joined with '|', are TEXT
bottom() {
    local name=$1 want=$2 n end=$((SECONDS + WAIT))
    n=$(($(printf '%s' "$want" | tr -cd '|' | wc -c) + 1))
    while :; do
        [ "$(screen "$name" | grep -v '^ *$' | tail -n "$n" | paste -sd '|')" = "$want" ] && return 0
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}
# wait_rc NAME: until the pane's program has exited
wait_rc() { local end=$((SECONDS + WAIT)); while [ ! -s "$tmp/$1.rc" ] && [ $SECONDS -lt $end ]; do sleep 0.1; done; }
keys() { local name=$1; shift; tm send-keys -t "main:$name" "$@"; }
# line NAME TEXT: type TEXT literally, then Enter
line() { tm send-keys -t "main:$1" -l -- "$2"; tm send-keys -t "main:$1" Enter; }
# json CODE FILE: run python CODE with m = the JSON in FILE
json() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); $1" "$2" 2>&1; }

footer='\[ prefill [0-9]+ tok, .* \| ctx [0-9]+/64 \]$'
prompt='^>>> '
W=a
# an old history longer than the REPL keeps
mkdir -p "$tmp/state-$W/anemone"
seq -f 'old entry %g' 1 1500 >"$tmp/state-$W/anemone/history"
start $W -- -n 4 --seed 1

check chat_tty_banner_and_prompt "no banner and '>>> ' prompt: $(screen $W | head -5)" \
    wait_all $W 'context 64 tokens, loaded in .*/help for commands' "$prompt\$"

# 1. a normal turn: an answer line, then the footer, then a fresh prompt
line $W "hello there"
if wait_for $W 1 "$footer" && wait_for $W 2 "$prompt"; then
    pass chat_tty_turn_answer_and_footer
else
    fail chat_tty_turn_answer_and_footer "no footer after a turn: $(screen $W | tail -5)"
fi

# 2. multi-line between """ and """: '... ' continuation prompts, one turn
line $W "/clear"
wait_for $W 1 '^\(conversation cleared\)'
line $W '"""'
wait_for $W 1 '^\.\.\. $'
line $W "first line"
line $W 'second line"""'
if wait_for $W 2 "$footer" && [ "$(count $W '^\.\.\. ')" -ge 2 ]; then
    line $W "/save $tmp/quotes.json"
    wait_for $W 1 "saved 2 messages to $tmp/quotes.json"
    got=$(json 'print(json.dumps(m[0]))' "$tmp/quotes.json")
    check chat_tty_multiline_quotes "saved: $got" \
        test "$got" = '{"role": "user", "content": "first line\nsecond line"}'
else
    fail chat_tty_multiline_quotes "no continuation prompt or no answer: $(screen $W | tail -6)"
fi

# 3. a trailing backslash continues the line
line $W "/clear"
wait_for $W 2 '^\(conversation cleared\)'
c0=$(count $W '^\.\.\. ')
line $W 'alpha\'
line $W "beta"
if wait_for $W 3 "$footer" && [ "$(count $W '^\.\.\. ')" -gt "$c0" ]; then
    line $W "/save $tmp/backslash.json"
    wait_for $W 1 "saved 2 messages to $tmp/backslash.json"
    got=$(json 'print(len(m), m[0]["role"], repr(m[0]["content"]), m[1]["role"])' "$tmp/backslash.json")
    check chat_tty_multiline_backslash "saved: $got" test "$got" = "2 user 'alpha\\nbeta' assistant"
else
    fail chat_tty_multiline_backslash "no continuation prompt or no answer: $(screen $W | tail -6)"
fi

# 4. /help, /show
line $W "/help"
check chat_tty_help "no command list" wait_for $W 1 '^Commands at the prompt:'
line $W "/show"
check chat_tty_show "no model or context lines: $(screen $W | tail -4)" \
    wait_all $W '^model: anemll-qwen3' 'context used: [0-9]+ of 64 tokens; 2 messages$'

# 5. /set temp 0 shows as greedy
line $W "/set temp 0"
line $W "/show"
check chat_tty_set_temp "/show does not say greedy after /set temp 0" wait_for $W 1 '^sampling: greedy; temp 0\.00'

# /set n_predict takes -1 (no limit) like -n; a negative temperature is refused
line $W "/set n_predict -1"
line $W "/set temp -1"
if wait_for $W 1 '^anemone: /set temp wants a non-negative number$'; then
    check chat_tty_set_minus_one "/set n_predict -1 refused" test "$(count $W 'n_predict wants')" -eq 0
else
    fail chat_tty_set_minus_one "no error for /set temp -1: $(screen $W | tail -3)"
fi
line $W "/set n_predict 4"

# 6. /set system puts a system message first
line $W "/set system Be brief."
line $W "/save $tmp/system.json"
wait_for $W 1 "saved 3 messages to $tmp/system.json"
got=$(json 'print(m[0]["role"], m[0]["content"], len(m))' "$tmp/system.json")
check chat_tty_set_system "saved: $got" test "$got" = "system Be brief. 3"

# 7. /regen answers the last message again: one more footer, same number of messages
n0=$(count $W "$footer")
line $W "/regen"
if wait_for $W $((n0 + 1)) "$footer"; then
    line $W "/save $tmp/regen.json"
    wait_for $W 1 "saved 3 messages to $tmp/regen.json"
    got=$(json 'print(len(m), [x["role"] for x in m])' "$tmp/regen.json")
    check chat_tty_regen "saved: $got" test "$got" = "3 ['system', 'user', 'assistant']"
else
    fail chat_tty_regen "no new answer: $(screen $W | tail -4)"
fi

# 8. /clear keeps the system prompt
line $W "/clear"
line $W "/save $tmp/clear.json"
wait_for $W 1 "saved 1 messages to $tmp/clear.json"
got=$(json 'print(len(m), m[0]["role"], m[0]["content"])' "$tmp/clear.json")
check chat_tty_clear "saved after /clear: $got" test "$got" = "1 system Be brief."

# 9. /think toggles
line $W "/think"
wait_for $W 1 '^\(thinking on\)'
line $W "/think"
check chat_tty_think "no '(thinking on)' then '(thinking off)'" wait_for $W 1 '^\(thinking off\)'

# 10. the JSON written by /save: a valid array of {role, content}
got=$(json 'print(all(set(x) == {"role", "content"} for x in m), type(m).__name__)' "$tmp/quotes.json")
check chat_tty_save_json "file: $got" test "$got" = "True list"

# 11. /load replaces the conversation
line $W "/load $tmp/quotes.json"
if wait_for $W 1 '^\(loaded 2 messages\)'; then
    line $W "/show"
    check chat_tty_load "/show does not count the loaded messages" wait_for $W 1 'tokens; 2 messages$'
else
    fail chat_tty_load "no '(loaded 2 messages)': $(screen $W | tail -3)"
fi

# a malformed file is refused and the conversation stays; a loaded system prompt is the
# one /clear keeps
echo '[{"role": "user"}]' >"$tmp/bad.json"
echo '[{"role": "system", "content": "From file."}, {"role": "user", "content": "q"}]' >"$tmp/sys.json"
line $W "/load $tmp/bad.json"
if wait_for $W 1 "^anemone: /load: $tmp/bad.json: "; then
    line $W "/save $tmp/afterbad.json"
    wait_for $W 1 "saved 2 messages to $tmp/afterbad.json"
    line $W "/load $tmp/sys.json"
    line $W "/clear"
    line $W "/save $tmp/loadsys.json"
    wait_for $W 1 "saved 1 messages to $tmp/loadsys.json"
    got=$(json 'print(len(m), m[0]["content"])' "$tmp/loadsys.json")
    check chat_tty_load_checks "after /load of a system prompt and /clear: $got" test "$got" = "1 From file."
else
    fail chat_tty_load_checks "no error for a malformed file: $(screen $W | tail -3)"
fi
line $W "/set system Be brief."

# 12. an unknown command is an error line, and the REPL carries on
line $W "/foo"
n0=$(count $W '^model: ')
if wait_for $W 1 '^anemone: unknown command /foo'; then
    line $W "/show"
    check chat_tty_unknown_command "the REPL did not answer after /foo" wait_for $W $((n0 + 1)) '^model: '
else
    fail chat_tty_unknown_command "no error line for /foo: $(screen $W | tail -3)"
fi

# 13. Ctrl-C at an empty prompt says how to leave and stays
keys $W C-c
if wait_for $W 1 '^\(type /bye or press Ctrl-D to leave\)'; then
    n0=$(count $W '^model: ')
    line $W "/show"
    check chat_tty_ctrl_c_hint "the REPL did not answer after Ctrl-C" wait_for $W $((n0 + 1)) '^model: '
else
    fail chat_tty_ctrl_c_hint "no hint after Ctrl-C: $(screen $W | tail -3)"
fi

# 14. Ctrl-C at a continuation prompt drops the block; the next line is a new input
line $W "/clear"
line $W '"""'
line $W "never sent"
n0=$(count $W '^\(input dropped\)')
keys $W C-c
if wait_for $W $((n0 + 1)) '^\(input dropped\)'; then
    line $W "/save $tmp/dropped.json"
    wait_for $W 1 "saved 1 messages to $tmp/dropped.json"
    got=$(json 'print(len(m), m[0]["role"])' "$tmp/dropped.json")
    check chat_tty_ctrl_c_drops_block "saved after the dropped block: $got" test "$got" = "1 system"
else
    fail chat_tty_ctrl_c_drops_block "no '(input dropped)': $(screen $W | tail -4)"
fi

# 15. Ctrl-D leaves with status 0 and writes the history
keys $W C-d
end=$((SECONDS + WAIT)); while [ ! -s "$tmp/$W.rc" ] && [ $SECONDS -lt $end ]; do sleep 0.1; done
check chat_tty_ctrl_d_exit0 "exit status '$(cat "$tmp/$W.rc" 2>/dev/null)'" test "$(cat "$tmp/$W.rc" 2>/dev/null)" = 0
hist=$tmp/state-$W/anemone/history
check chat_tty_history_written "history: $(head -c 300 "$hist" 2>/dev/null)" \
    bash -c 'grep -qx "hello there" "$1" && grep -qx "/show" "$1" && grep -qx "/set temp 0" "$1"' _ "$hist"
# (each entry follows a "#<time>" line)
check chat_tty_history_bounded "$(grep -cvE '^#[0-9]+$' "$hist" 2>/dev/null) entries, first '$(sed -n 2p "$hist" 2>/dev/null)'" \
    bash -c '[ "$(grep -cvE "^#[0-9]+\$" "$1")" -lt 1100 ] && ! grep -qx "old entry 500" "$1" && grep -qx "old entry 1500" "$1"' _ "$hist"

# 16. multi-line entries come back from the history file as one entry. A file written
# without timestamps (older versions) still reads as one entry per line.
mkdir -p "$tmp/state-h/anemone"
printf 'old one\nold two\n' >"$tmp/state-h/anemone/history"
start h -- -n 2 --seed 1
wait_for h 1 "$prompt\$"
keys h Up
if bottom h '>>> old two'; then
    keys h Up
    check chat_tty_history_old_format "second Up: $(screen h | grep -v '^ *$' | tail -2 | paste -sd '|')" \
        bottom h '>>> old one'
else
    fail chat_tty_history_old_format "first Up: $(screen h | grep -v '^ *$' | tail -2 | paste -sd '|')"
fi
keys h C-a C-k
line h '"""'
line h "one one"
line h 'two two"""'
wait_for h 1 "$footer"
line h 'alpha\'
line h "beta"
wait_for h 2 "$footer"
keys h C-d
wait_rc h
got=$(python3 - "$tmp/state-h/anemone/history" <<'PY' 2>&1
import re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "no final newline"
entries = []
for l in lines[:-1]:
    if re.fullmatch(r"#[0-9]+", l):
        entries.append([])
    else:
        entries[-1].append(l)
print(entries[-4:])
PY
)
check chat_tty_history_multiline_file "entries: $got" \
    test "$got" = "[['old one'], ['old two'], ['one one', 'two two'], ['alpha', 'beta']]"
start h2 XDG_STATE_HOME="$tmp/state-h" -- -n 2 --seed 1
wait_for h2 1 "$prompt\$"
keys h2 Up
if bottom h2 '>>> alpha|beta'; then
    keys h2 Up
    check chat_tty_history_multiline_recall "second Up: $(screen h2 | grep -v '^ *$' | tail -3 | paste -sd '|')" \
        bottom h2 '>>> one one|two two'
else
    fail chat_tty_history_multiline_recall "first Up: $(screen h2 | grep -v '^ *$' | tail -3 | paste -sd '|')"
fi
keys h2 Enter
if wait_for h2 1 "$footer"; then
    line h2 "/save $tmp/recalled.json"
    wait_for h2 1 "saved 2 messages to $tmp/recalled.json"
    got=$(json 'print(len(m), repr(m[0]["content"]))' "$tmp/recalled.json")
    check chat_tty_history_multiline_submit "saved: $got" test "$got" = "2 'one one\ntwo two'"
else
    fail chat_tty_history_multiline_submit "no answer to the recalled entry: $(screen h2 | tail -4)"
fi
keys h2 C-d

# 17. Ctrl-C during the prefill and during the answer: back to the prompt with a notice, the
# conversation consistent, the next turn normal. ANEMONE_DEBUG_DELAY_MS makes each model step
# (a prefill batch of 8 tokens, or one token) last 400 ms: the long prompt below (about 45
# tokens) takes over 2 s to prefill.
start i ANEMONE_DEBUG_DELAY_MS=400 -- -n 6 --seed 1
wait_for i 1 "$prompt\$"
line i "tell me a long story about the sea and the salt in the water"
# the prefill has begun when anemone sleeps in the delay (Linux: /proc/PID/wchan)
pid=$(pgrep -P "$(tm display-message -p -t main:i '#{pane_pid}')" | head -1)
end=$((SECONDS + WAIT))
[ -r "/proc/$pid/wchan" ] || { end=0; sleep 0.5; } # no way to see it: the prefill has 2 s to go
until grep -q nanosleep "/proc/$pid/wchan" 2>/dev/null || [ $SECONDS -ge $end ]; do sleep 0.02; done
keys i C-c
if wait_for i 1 '^\[interrupted\]$' && wait_for i 2 "$prompt"; then
    pass chat_tty_ctrl_c_prefill
    line i "/save $tmp/int1.json"
    wait_for i 1 "saved 0 messages to $tmp/int1.json"
    got=$(json 'print(len(m))' "$tmp/int1.json")
    check chat_tty_ctrl_c_prefill_dropped "the unanswered question stayed: $got" test "$got" = 0
else
    fail chat_tty_ctrl_c_prefill "no '[interrupted]' and prompt: $(screen i | tail -4)"
fi
line i "go"
# the answer has started when a visible character follows the input line
started() { [ "$(screen i | grep -v '^ *$' | tail -1)" != ">>> go" ]; }
end=$((SECONDS + WAIT)); until started || [ $SECONDS -ge $end ]; do sleep 0.05; done
keys i C-c
if wait_for i 2 '^\[interrupted\]$' && wait_for i 1 "$footer" && wait_for i 4 "$prompt"; then
    pass chat_tty_ctrl_c_generation
    line i "/save $tmp/int2.json"
    wait_for i 1 "saved 2 messages to $tmp/int2.json"
    got=$(json 'print(len(m), m[1]["role"], 0 < len(m[1]["content"]))' "$tmp/int2.json")
    check chat_tty_ctrl_c_generation_kept "the cut answer: $got" test "$got" = "2 assistant True"
    n0=$(count i "$footer")
    line i "/set n_predict 1"
    line i "again"
    if wait_for i $((n0 + 1)) "$footer"; then
        line i "/save $tmp/int3.json"
        wait_for i 1 "saved 4 messages to $tmp/int3.json"
        got=$(json 'print([x["role"] for x in m], m[2]["content"], len(m[3]["content"]) > 0)' "$tmp/int3.json")
        check chat_tty_ctrl_c_next_turn "after the cut answer: $got" \
            test "$got" = "['user', 'assistant', 'user', 'assistant'] again True"
    else
        fail chat_tty_ctrl_c_next_turn "no answer after the interrupted one: $(screen i | tail -4)"
    fi
else
    fail chat_tty_ctrl_c_generation "no '[interrupted]', footer and prompt: $(screen i | tail -5)"
fi
keys i C-d

# 18. thinking is dimmed (SGR 2 ... SGR 0) with colour on, and left out with --hide-thinking.
# The template's generation prompt opens a <think> section (as DeepSeek-R1's does), so the
# whole answer of the random-weight model is thinking.
start t -- -n 4 --seed 1 --chat-template tests/cli/think_open.jinja
start u -- -n 4 --seed 1 --chat-template tests/cli/think_open.jinja --hide-thinking
for w in t u; do
    wait_for $w 1 "$prompt\$"
    line $w "hi"
done
for w in t u; do
    wait_for $w 1 "$footer"
    keys $w C-d
done
for w in t u; do wait_rc $w; done
# the log's bytes after the input line "hi" up to the footer: the answer as written, less
# readline's terminal mode switches (ESC [ ? N h/l)
answer_bytes() {
    python3 - "$tmp/$1.log" <<'PY'
import re, sys
log = open(sys.argv[1], "rb").read()
start = log.index(b"hi\r\n") + 4
end = log.index(b"[ prefill", start)
print(repr(re.sub(rb"\x1b\[\?[0-9]+[hl]", b"", log[start:end])))
PY
}
got=$(answer_bytes t 2>&1)
check chat_tty_thinking_dimmed "the answer as written: $got" \
    python3 -c 'import re, sys; a = eval(sys.argv[1]); plain = re.sub(rb"\x1b\[2m[^\x1b]+\x1b\[0m", b"", a)
sys.exit(not (a.lstrip(b"\r").startswith(b"\x1b[2m") and b"\x1b[2m" in a and plain.strip() == b""))' "$got"
got=$(answer_bytes u 2>&1)
check chat_tty_hide_thinking "the answer as written: $got" \
    python3 -c 'import sys; a = eval(sys.argv[1]); sys.exit(not (a.strip() == b"" and b"\x1b" not in a))' "$got"

# 19. ANEMONE_NOHISTORY=1 writes none; --color off and NO_COLOR give no colour codes
start b ANEMONE_NOHISTORY=1 -- -n 4 --seed 1 --color off
start c NO_COLOR=1 -- -n 4 --seed 1
for w in b c; do
    wait_for $w 1 "$prompt\$"
    line $w "hi"
    wait_for $w 1 "$footer"
    line $w "/think"
    line $w "/regen"
    wait_for $w 2 "$footer"
    keys $w C-d
done
for w in b c; do
    end=$((SECONDS + WAIT)); while [ ! -s "$tmp/$w.rc" ] && [ $SECONDS -lt $end ]; do sleep 0.1; done
done
check chat_tty_nohistory "ANEMONE_NOHISTORY=1 wrote $(ls -R "$tmp/state-b" 2>/dev/null | tr '\n' ' ')" \
    test ! -e "$tmp/state-b/anemone/history"
# SGR sequences (ESC [ ... m) are colour; readline's own cursor and mode sequences are not
sgr() { grep -caP '\x1b\[[0-9;]*m' "$1" 2>/dev/null; }
check chat_tty_color_off "--color off: $(sgr "$tmp/b.log") lines with colour codes (log $(wc -c <"$tmp/b.log") bytes)" \
    bash -c '[ -s "$1" ] && ! grep -qaP "\x1b\[[0-9;]*m" "$1"' _ "$tmp/b.log"
check chat_tty_no_color_env "NO_COLOR: $(sgr "$tmp/c.log") lines with colour codes (log $(wc -c <"$tmp/c.log") bytes)" \
    bash -c '[ -s "$1" ] && ! grep -qaP "\x1b\[[0-9;]*m" "$1"' _ "$tmp/c.log"
exit 0
