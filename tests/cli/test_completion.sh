#!/usr/bin/env bash
# scripts/completions/anemone.bash: sourced into bash, the completion function is called
# the way bash calls it (COMP_WORDS / COMP_CWORD) and its candidates are compared with
# what `anemone --help` and `anemone help CMD` list. Also: `make install` installs it.
set -u
bin=${ANEMONE_BIN:-./anemone}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
check() { local name=$1 why=$2; shift 2; if "$@"; then pass "$name"; else fail "$name" "$why"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/files/sub"
ln -s "$bin" "$tmp/bin/anemone"
: >"$tmp/files/prompt.txt"
PATH=$tmp/bin:$PATH

# shellcheck source=../../scripts/completions/anemone.bash
source scripts/completions/anemone.bash
# complete WORD...: the candidates for the last word, sorted, one line
complete_words() {
    COMP_WORDS=(anemone "$@")
    COMP_CWORD=$#
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _anemone
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' '
}
sorted() { sort -u | sed '/^$/d' | tr '\n' ' '; }

check completion_registered "complete -p anemone: $(complete -p anemone 2>&1)" \
    bash -c '[[ "$1" == *"-F _anemone"*" anemone" ]]' _ "$(complete -p anemone 2>&1)"

commands=$(anemone --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}' | sorted)
got=$(complete_words "")
check completion_commands "got '$got', want '$commands'" test "$got" = "$commands"
got=$(complete_words ch)
check completion_command_prefix "got '$got'" test "$got" = "chat "
got=$(complete_words help r)
check completion_help_command "got '$got'" test "$got" = "rm run "
got=$(complete_words --ver)
check completion_global_option "got '$got'" test "$got" = "--verbose --version "
got=$(complete_words -q r)
check completion_command_after_global "got '$got'" test "$got" = "rm run "

# every command: the long options its help shows, and nothing else
bad=""
for c in $commands; do
    [ "$c" = help ] && continue
    want=$(anemone help "$c" | grep -oE -- '(^|[ ,(\[])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+' | sorted)
    got=$(complete_words "$c" --)
    [ "$got" = "$want" ] || bad="$bad [$c: got '$got' want '$want']"
done
check completion_long_options_every_command "$bad" test -z "$bad"
got=$(complete_words chat --hid)
check completion_option_prefix "got '$got'" test "$got" = "--hide-thinking "
got=$(complete_words chat tests/fixtures/x --hide)
check completion_option_after_model "got '$got'" test "$got" = "--hide-thinking "
got=$(complete_words run -)
check completion_short_options "got '$got'" bash -c '[[ " $1 " == *" -m "* && " $1 " == *" -sys "* && " $1 " == *" --temp "* ]]' _ "$got"

# option arguments
got=$(complete_words chat --color "")
check completion_color_values "got '$got'" test "$got" = "auto off on "
got=$(complete_words run --ctx-overflow s)
check completion_ctx_overflow_values "got '$got'" test "$got" = "shift stop "
got=$(complete_words bench -o js)
check completion_bench_output_values "got '$got'" test "$got" = "json jsonl "
got=$(complete_words run --file "$tmp/files/")
check completion_file_argument "got '$got'" test "$got" = "$tmp/files/prompt.txt $tmp/files/sub "
got=$(complete_words ls --cache-dir "$tmp/files/")
check completion_dir_argument "got '$got'" test "$got" = "$tmp/files/sub "
got=$(complete_words run --temp "")
check completion_number_argument_nothing "got '$got'" test "$got" = ""
got=$(complete_words chat "$tmp/files/p")
check completion_model_path "got '$got'" test "$got" = "$tmp/files/prompt.txt "

# make install puts it where bash-completion looks
if command -v make >/dev/null 2>&1; then
    plan=$(make -n install PREFIX=/usr/x DESTDIR=/tmp/d 2>/dev/null)
    check completion_make_install "make -n install: $(grep -c completion <<<"$plan") completion lines" \
        grep -q 'scripts/completions/anemone.bash /tmp/d/usr/x/share/bash-completion/completions/anemone' <<<"$plan"
    plan=$(make -n uninstall PREFIX=/usr/x DESTDIR=/tmp/d 2>/dev/null)
    check completion_make_uninstall "make -n uninstall does not remove it" \
        grep -q '/tmp/d/usr/x/share/bash-completion/completions/anemone' <<<"$plan"
fi
check completion_in_man_page "man/anemone.1 does not mention the completion file" \
    grep -q 'bash\\-completion/completions/anemone' man/anemone.1
exit 0
