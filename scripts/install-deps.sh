#!/bin/sh
# Install every system package anemone's build and tests need.
# Idempotent: quiet and quick when everything is already present.
# Debian/Ubuntu via apt-get (as root, or through sudo); on macOS prints the Homebrew line.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev \
libcurl4-openssl-dev libjson-c-dev libreadline-dev libsentencepiece-dev sentencepiece \
libxxhash-dev libyaml-dev libzip-dev libpcre2-dev libutf8proc-dev libssl-dev \
python3 python3-numpy python3-jinja2 python3-yaml man-db groff-base tmux valgrind zip unzip"

if [ "$(uname -s)" = Darwin ]; then
    echo "On macOS, install the dependencies with Homebrew:"
    echo "  brew install pkg-config curl json-c readline sentencepiece xxhash libyaml libzip pcre2 utf8proc openssl@3 numpy python-jinja2 tmux"
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: this script knows Debian/Ubuntu (apt-get) and macOS (Homebrew)." >&2
    echo "install-deps: install these packages (or your system's equivalents): $PKGS" >&2
    exit 1
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: not root and no password-less sudo; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A stale package list makes apt-get fail on moved versions: refresh once, then install.
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done" >&2
