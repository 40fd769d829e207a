# bash completion for anemone.                                    -*- shell-script -*-
#
# Installed as $(PREFIX)/share/bash-completion/completions/anemone. The commands and their
# options are read from the program itself (`anemone --help`, `anemone help COMMAND`) the
# first time they are needed, so the completion always matches the installed version.

# _anemone_load BIN: fill the caches from BIN's help text (once per shell and binary).
_anemone_load()
{
    local bin=$1
    [[ ${_anemone_bin-} == "$bin" ]] && return 0
    _anemone_bin=$bin
    declare -gA _anemone_long=() _anemone_short=() _anemone_argspec=()
    _anemone_commands=$("$bin" --help 2>/dev/null | awk '/^Commands:/ {f = 1; next} /^$/ {f = 0} f {print $1}')
    _anemone_global=$("$bin" --help 2>/dev/null | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' | grep -oE -- '--?[a-zA-Z0-9-]+' | sort -u)
}

# _anemone_load_command CMD: the long and short options of CMD, and the argument each takes.
_anemone_load_command()
{
    local cmd=$1 text line opt spec
    [[ -n ${_anemone_long[$cmd]+set} ]] && return 0
    text=$("$_anemone_bin" help "$cmd" 2>/dev/null)
    _anemone_long[$cmd]=$(grep -oE -- '(^|[ ,(\[])--[a-z][a-z0-9-]*' <<<"$text" | grep -oE -- '--[a-z0-9-]+' | sort -u)
    _anemone_short[$cmd]=$(grep -oE -- '^ +-[a-zA-Z][a-zA-Z]*(,|  )' <<<"$text" | grep -oE -- '-[a-zA-Z]+' | sort -u)
    # option lines: "  -f, --file FILE   text" or "  --color auto|on|off   text"
    while IFS= read -r line; do
        [[ $line =~ ^\ +(-[a-zA-Z]+,\ )?(--[a-z0-9-]+)[\ =]([^\ ]+)\ \ + ]] || continue
        opt=${BASH_REMATCH[2]} spec=${BASH_REMATCH[3]}
        _anemone_argspec[$cmd:$opt]=$spec
        [[ -n ${BASH_REMATCH[1]} ]] && _anemone_argspec[$cmd:${BASH_REMATCH[1]%, }]=$spec
    done <<<"$text"
    # usage lines: "[--cache-dir DIR]"
    while IFS= read -r line; do
        [[ $line =~ ^\[(--[a-z0-9-]+)\ ([^]]+)\]$ ]] || continue
        opt=${BASH_REMATCH[1]} spec=${BASH_REMATCH[2]}
        [[ -n ${_anemone_argspec[$cmd:$opt]-} ]] || _anemone_argspec[$cmd:$opt]=$spec
    done < <(grep -oE -- '\[--[a-z0-9-]+ [^] ]+\]' <<<"$text")
}

_anemone()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local bin=${COMP_WORDS[0]} cmd="" i spec
    [[ $bin == "~/"* ]] && bin=$HOME/${bin#"~/"}
    command -v "$bin" >/dev/null 2>&1 || bin=anemone
    command -v "$bin" >/dev/null 2>&1 || return 0
    _anemone_load "$bin"

    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -* ]] && continue
        cmd=${COMP_WORDS[i]}
        break
    done
    COMPREPLY=()
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$_anemone_global" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$_anemone_commands" -- "$cur"))
        fi
        return 0
    fi
    if [[ $cmd == help ]]; then
        ((COMP_CWORD == i + 1)) && [[ $cur != -* ]] && COMPREPLY=($(compgen -W "$_anemone_commands" -- "$cur"))
        return 0
    fi
    grep -qxF -- "$cmd" <<<"$_anemone_commands" || return 0
    _anemone_load_command "$cmd"

    # the argument of the previous option
    spec=${_anemone_argspec[$cmd:$prev]-}
    if [[ -n $spec ]]; then
        case $prev:$spec in
            --backend:*) COMPREPLY=($(compgen -W "auto mil" -- "$cur")) ;;
            -o:FORMAT | --output:FORMAT) COMPREPLY=($(compgen -W "md csv json jsonl" -- "$cur")) ;;
            *:*DIR*) COMPREPLY=($(compgen -d -- "$cur")) ;;
            *:*FILE* | *:*PATH* | *:COMPONENT | *:MODEL) COMPREPLY=($(compgen -f -- "$cur")) ;;
            *:*\|*) [[ $spec != *[A-Z]* ]] && COMPREPLY=($(compgen -W "${spec//|/ }" -- "$cur")) ;;
        esac
        return 0
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${_anemone_long[$cmd]} ${_anemone_short[$cmd]}" -- "$cur"))
    else
        # model directories, components, files
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}

complete -o filenames -o bashdefault -F _anemone anemone
