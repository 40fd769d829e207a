"""fp16 conversions against NumPy's float16 (an independent implementation).

Runs tests/common/tool_fp16 (built by make) over all 65,536 halves and over a sweep of
fp32 values that includes every tie between neighbouring halves, the subnormal range and
the overflow boundary. NaNs are compared as NaNs (NumPy keeps signalling NaNs signalling;
the hardware and anemone quiet them)."""
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("SKIP fp16_numpy: numpy is not installed for", sys.executable)
    sys.exit(0)

tool = os.path.join(os.environ.get("ANEMONE_BUILD", "build"), "tests/common/tool_fp16")


def run(mode, data, portable):
    args = [tool] + (["-s"] if portable else []) + [mode]
    return subprocess.run(args, input=data.tobytes(), stdout=subprocess.PIPE, check=True).stdout


def check_h2f(portable):
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    got = np.frombuffer(run("h2f", h, portable), dtype=np.float32)
    want = h.view(np.float16).astype(np.float32)
    nan = np.isnan(want)
    same = (got.view(np.uint32) == want.view(np.uint32)) | (nan & np.isnan(got))
    return int((~same).sum())


def sweep():
    h = np.arange(0x7C00, dtype=np.uint32).astype(np.uint16)
    lo = h.view(np.float16).astype(np.float64)
    hi = np.append(lo[1:], 65536.0)
    mid = ((lo + hi) / 2).astype(np.float32)
    bits = mid.view(np.uint32)
    parts = [bits, bits - 1, bits + 1, lo.astype(np.float32).view(np.uint32)]
    parts.append((np.arange(0, 1 << 32, 4099, dtype=np.uint64)).astype(np.uint32))
    parts.append(np.arange(0x33000000 - 100, 0x38800000 + 100, 13, dtype=np.uint32))
    parts.append(np.arange(0x477FE000, 0x47800100, dtype=np.uint32))
    allbits = np.concatenate(parts)
    allbits = np.concatenate([allbits, allbits | np.uint32(0x80000000)])
    return allbits.view(np.float32)


def check_f2h(portable):
    f = sweep()
    got = np.frombuffer(run("f2h", f, portable), dtype=np.uint16)
    with np.errstate(over="ignore"):
        want = f.astype(np.float16).view(np.uint16)
    nan_w = np.isnan(f)
    nan_g = (got & 0x7C00 == 0x7C00) & (got & 0x3FF != 0)
    same = (got == want) | (nan_w & nan_g)
    return int((~same).sum()), len(f)


for portable in (False, True):
    name = "portable" if portable else "bulk"
    bad = check_h2f(portable)
    print(("PASS" if bad == 0 else "FAIL") + f" fp16_to_fp32_vs_numpy_{name}" +
          ("" if bad == 0 else f": {bad} of 65536 differ"))
    bad, n = check_f2h(portable)
    print(("PASS" if bad == 0 else "FAIL") + f" fp32_to_fp16_vs_numpy_{name}" +
          ("" if bad == 0 else f": {bad} of {n} differ"))
