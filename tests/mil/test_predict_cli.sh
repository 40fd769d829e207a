#!/usr/bin/env bash
# `anemone predict`: usage errors, input checking and the --steps file, on a tiny model
# written here (the end-to-end checks on real fixtures are in test_fixtures.py).
bin=${ANEMONE_BIN:-./anemone}
py=${PYTHON:-python3}
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "${CHECK_WHY:-command failed: $*}"; fi; }
if ! "$py" -c 'import numpy' 2>/dev/null; then echo "SKIP predict_cli: numpy is not installed"; exit 0; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
m="$tmp/acc.mlmodelc"; mkdir -p "$m"
cat >"$m/model.mil" <<'MIL'
program(1.3)
{
    func main<ios18>(tensor<fp32, [2]> x, state<tensor<fp32, [2]>> acc) {
        tensor<fp32, [2]> old = read_state(input = acc)[name = string("old")];
        tensor<fp32, [2]> total = add(x = old, y = x)[name = string("total")];
        write_state(data = total, input = acc)[name = string("w")];
        tensor<fp32, [2]> doubled = mul(x = total, y = fp32(2))[name = string("doubled")];
    } -> (total, doubled);
}
MIL
"$py" -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([1.5, -2], np.float32)); np.save(sys.argv[2], np.array([1, 2, 3], np.float32))' "$tmp/x.npy" "$tmp/bad.npy"

"$bin" predict >/dev/null 2>&1; check predict_no_component_exit2 test $? -eq 2
"$bin" predict "$m" -i x >/dev/null 2>&1; check predict_bad_input_arg_exit2 test $? -eq 2
err=$("$bin" predict "$m" -i x="$tmp/bad.npy" -o "$tmp/o" 2>&1); rc=$?
check predict_wrong_shape_exit1 test $rc -eq 1
check predict_wrong_shape_message grep -q "not one of its declared shapes" <<<"$err"
err=$("$bin" predict "$m" -i y="$tmp/x.npy" -o "$tmp/o" 2>&1)
check predict_unknown_input_message grep -q "has no input 'y'" <<<"$err"

"$bin" predict "$m" -i x="$tmp/x.npy" -o "$tmp/o1" --state-out "$tmp/s1.npy" >/dev/null 2>&1
"$bin" predict "$m" -i x="$tmp/x.npy" -o "$tmp/o2" --state-in "$tmp/s1.npy" --state-out acc="$tmp/s2.npy" >/dev/null 2>&1
check predict_state_in_out "$py" -c '
import numpy as np, sys
d = sys.argv[1]
assert np.array_equal(np.load(d + "/o1/total.npy"), [1.5, -2])
assert np.array_equal(np.load(d + "/o2/doubled.npy"), [6, -8])
assert np.array_equal(np.load(d + "/s2.npy"), [3, -4])' "$tmp"

# --steps: three calls sharing one state; the third feeds on the first one's output
cat >"$tmp/steps.json" <<EOF2
[{"inputs": {"x": "x.npy"}, "outputs": {"total": "t0.npy"}},
 {"component": "acc.mlmodelc", "function": "main", "inputs": {"x": "x.npy"}},
 {"inputs": {"x": "@0:doubled"}, "outputs": {"doubled": "d2.npy"}}]
EOF2
"$bin" predict "$m" --steps "$tmp/steps.json" --state-out "$tmp/s3.npy" -o "$tmp/o3" 2>"$tmp/err"; rc=$?
check predict_steps_exit0 test $rc -eq 0
check predict_steps_results "$py" -c '
import numpy as np, sys
d = sys.argv[1]
assert np.array_equal(np.load(d + "/t0.npy"), [1.5, -2])
# state after two calls is 2x; the third adds doubled of call 0 (3, -4): 6, -8 → doubled 12, -16
assert np.array_equal(np.load(d + "/d2.npy"), [12, -16]), np.load(d + "/d2.npy")
assert np.array_equal(np.load(d + "/s3.npy"), [6, -8])
assert np.array_equal(np.load(d + "/o3/total.npy"), [6, -8])' "$tmp"
echo '[{"inputs": {"x": "@5:total"}}]' >"$tmp/bad.json"
err=$("$bin" predict "$m" --steps "$tmp/bad.json" 2>&1); rc=$?
check predict_steps_bad_reference bash -c '[ "$1" -eq 1 ] && grep -q "bad reference" <<<"$2"' _ "$rc" "$err"
echo '{"not": "a list"}' >"$tmp/bad2.json"
err=$("$bin" predict "$m" --steps "$tmp/bad2.json" 2>&1)
check predict_steps_not_array grep -q "not a JSON array" <<<"$err"
