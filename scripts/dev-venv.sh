#!/bin/sh
# Create (or refresh) the developer venv at .venv with the pinned tools from
# scripts/requirements-dev.txt (coremltools, numpy, tokenizers, ...).
# Only the fixture generators need it; `make test` does not.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${ANEMONE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/scripts/requirements-dev.txt"
echo "dev-venv: ready at $venv" >&2
