#!/bin/sh
# Install the peer-benchmark tools (llama-cpp-python, gguf) into the dev venv.
# Only scripts/bench-vs-llamacpp needs them; `make test` and CI do not.
# llama-cpp-python compiles llama.cpp from source with cmake: expect 5-15 minutes
# on two cores. The build uses the host's native instruction set, like llama.cpp's
# own default, so the comparison is against a tuned build.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${ANEMONE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
echo "peer-venv: building llama-cpp-python in $venv (5-15 min on 2 cores)..." >&2
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "$venv/bin/pip" install -q --disable-pip-version-check \
    numpy==1.26.4 gguf==0.19.0 llama-cpp-python==0.3.36
echo "peer-venv: ready at $venv" >&2
