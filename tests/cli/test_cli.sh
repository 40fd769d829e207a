#!/usr/bin/env bash
# The command-line skeleton: --version, --help, usage errors, exit codes, the man page.
bin=${ANEMONE_BIN:-./anemone}
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "${CHECK_WHY:-command failed: $*}"; fi; }

out=$("$bin" --version); rc=$?
check version_exit0 test "$rc" -eq 0
check version_fields bash -c '[[ "$1" == "anemone "*"(git "* ]] && grep -q "^compiler: " <<<"$1" && grep -q "^cpu: " <<<"$1" && grep -q "^backends: mil" <<<"$1"' _ "$out"

out=$("$bin" --help); rc=$?
check help_exit0 test "$rc" -eq 0
check help_lists_commands grep -q '^  help ' <<<"$out"

err=$("$bin" frobnicate 2>&1 >/dev/null); rc=$?
check unknown_command_exit2 test "$rc" -eq 2
check unknown_command_message bash -c '[ "$(printf "%s\n" "$1" | head -1)" = "anemone: unknown command '"'"'frobnicate'"'"'" ] && [ "$(printf "%s\n" "$1" | wc -l)" -eq 2 ] && grep -q "anemone --help" <<<"$1"' _ "$err"

"$bin" --no-such-option >/dev/null 2>&1; check unknown_option_exit2 test $? -eq 2
"$bin" >/dev/null 2>&1; check no_command_exit2 test $? -eq 2
out=$("$bin" help help); check help_command bash -c '[ $? -eq 0 ] && grep -q "usage: anemone help" <<<"$1"' _ "$out"
"$bin" help nosuch >/dev/null 2>&1; check help_unknown_exit2 test $? -eq 2
out=$("$bin" help --help); check cmd_dash_help grep -q "usage: anemone help" <<<"$out"

# The manual page renders without warnings, and documents every command --help lists.
if command -v groff >/dev/null 2>&1; then
    warn=$(groff -man -ww -z man/anemone.1 2>&1)
    check man_renders_clean test -z "$warn"
    if command -v man >/dev/null 2>&1; then
        warn=$(MANWIDTH=80 man -l man/anemone.1 2>&1 >/dev/null)
        check man_l_no_warnings test -z "$warn"
    fi
    missing=""
    for c in $("$bin" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}'); do
        grep -q "^\.BR $c\b\|^\.B $c\b" man/anemone.1 || missing="$missing $c"
    done
    CHECK_WHY="commands missing from the man page:$missing" check man_lists_every_command test -z "$missing"
    # every long option a command's help shows is documented in the man page
    undocumented=""
    for c in $("$bin" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}'); do
        for flag in $("$bin" help "$c" | grep -oE '(^|[ ,(\[])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+' | sort -u); do
            esc=$(printf '%s' "$flag" | sed 's/-/\\\\-/g')
            grep -q -- "$esc" man/anemone.1 || undocumented="$undocumented $c:$flag"
        done
    done
    CHECK_WHY="options in --help but not in the man page:$undocumented" check man_documents_every_option test -z "$undocumented"
else
    echo "SKIP man_renders_clean: groff is not installed"
fi
