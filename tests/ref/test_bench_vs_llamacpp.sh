#!/usr/bin/env bash
# scripts/bench-vs-llamacpp --smoke: the tiny qwen3 fixture against an F16 GGUF of the same
# dimensions, written with `gguf` and run through llama-cpp-python. Needs both packages in
# the dev venv (scripts/peer-venv.sh); skipped without them. It checks that the GGUF loads
# and runs in llama.cpp and that the table and the JSON carry every number, not speed.
cd "$(dirname "$0")/../.." || exit 1
name=bench_vs_llamacpp_smoke
if [ "${ANEMONE_BUILD:-build}" = build-san ]; then
    echo "SKIP $name: a benchmark driver; run by the plain build"
    exit 0
fi
venv=${ANEMONE_VENV:-.venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import llama_cpp, gguf, numpy' 2>/dev/null; then
    echo "SKIP $name: llama-cpp-python and gguf are not in the dev venv (scripts/peer-venv.sh)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! ANEMONE_BENCH_DIR=$tmp "$venv/bin/python" scripts/bench-vs-llamacpp --smoke -t 1 --json "$tmp/r.json" \
    >"$tmp/out" 2>"$tmp/err"; then
    tail -20 "$tmp/err"
    echo "FAIL $name: the script failed"
    exit 0
fi
"$venv/bin/python" - "$tmp/r.json" "$tmp/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
why = []
l = r["llama_cpp"]
for k in ("8", "16"):
    if not (len(l["pp"].get(k, [])) == 1 and l["pp"][k][0] > 0):
        why.append("llama.cpp pp%s" % k)
if not (l["tg"].get("4") and l["tg"]["4"][0] > 0):
    why.append("llama.cpp tg4")
if not (l["load_ms"] > 0 and l["ttft_ms"][0] > 0 and l["peak_rss"] > 0):
    why.append("llama.cpp load/ttft/rss")
if not (r["gguf_bytes_per_token"] > 0 and r["anemone_weight_files"] > 0):
    why.append("byte counts")
tests = [x["test"] for x in r["anemone"]]
if tests != ["pp8", "pp16", "tg4", "pp15+tg1"]:
    why.append("anemone tests %r" % tests)
for row in ("| pp8 |", "| pp16 |", "| tg4 |", "| TTFT, 16-token prompt |", "| load |", "| peak RSS |"):
    if row not in out:
        why.append("no row " + row)
tg = [line for line in out.splitlines() if line.startswith("| tg4 |")]
if not tg or tg[0].count("%") != 2:
    why.append("tg4 row lacks the bandwidth fractions")
print("PASS bench_vs_llamacpp_smoke" if not why else "FAIL bench_vs_llamacpp_smoke: " + "; ".join(why) + "\n" + out)
PY
