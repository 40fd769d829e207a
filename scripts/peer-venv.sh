#!/bin/sh
# Install the peer-benchmark tools (llama-cpp-python, gguf) into the dev venv.
# Only scripts/bench-vs-llamacpp needs them; `make test` and CI do not.
# llama-cpp-python compiles llama.cpp from source with cmake: expect 10-15 minutes
# on two cores. The build targets the host's instruction set (llama.cpp's own
# default), so the comparison is against a tuned build; except that on x86 CPUs that
# advertise AMX the AMX kernels are left out: in virtual machines that do not grant
# the AMX tile state they crash (SIGSEGV in ggml_backend_amx_mul_mat).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${ANEMONE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
args=""
if grep -qw amx_tile /proc/cpuinfo 2>/dev/null; then
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    has() { case " $flags " in *" $1 "*) echo ON ;; *) echo OFF ;; esac; }
    args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_F16C=$(has f16c) -DGGML_FMA=$(has fma) -DGGML_BMI2=$(has bmi2)"
    args="$args -DGGML_AVX2=$(has avx2) -DGGML_AVX_VNNI=$(has avx_vnni) -DGGML_AVX512=$(has avx512f)"
    args="$args -DGGML_AVX512_VBMI=$(has avx512vbmi) -DGGML_AVX512_VNNI=$(has avx512_vnni)"
    args="$args -DGGML_AVX512_BF16=$(has avx512_bf16) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    echo "peer-venv: AMX advertised: building without the AMX kernels" >&2
fi
echo "peer-venv: building llama-cpp-python in $venv (10-15 min on 2 cores)..." >&2
# --no-cache-dir: a wheel built earlier with other flags must not be reused
CMAKE_ARGS="${CMAKE_ARGS:-$args}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "$venv/bin/pip" install -q --disable-pip-version-check --no-cache-dir \
    numpy==1.26.4 gguf==0.19.0 llama-cpp-python==0.3.36
echo "peer-venv: ready at $venv" >&2
