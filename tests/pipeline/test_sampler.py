"""The sampler's distribution against NumPy: chi-square goodness of fit.

For fixed logits and settings, NumPy computes the distribution the sampling chain
defines (penalties -> temperature -> top-k -> top-p -> min-p, as Hugging Face
transformers orders its processors); tool_sample draws from anemone's sampler and the
counts must fit that distribution (p > 0.001), and tokens outside the kept set must
never be drawn."""
import math
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("SKIP sampler_chi_square: numpy is not installed for", sys.executable)
    sys.exit(0)

tool = os.path.join(os.environ.get("ANEMONE_BUILD", "build"), "tests/pipeline/tool_sample")


def expected(logits, temp, top_k, top_p, min_p, rep, pres, freq, hist):
    x = np.array(logits, dtype=np.float64)
    counts = {}
    for t in hist:
        counts[t] = counts.get(t, 0) + 1
    for t, c in counts.items():
        if rep != 1.0:
            x[t] = x[t] / rep if x[t] > 0 else x[t] * rep
        x[t] -= pres + freq * c
    x = x / temp
    order = sorted(range(len(x)), key=lambda i: (-x[i], i))
    if top_k > 0:
        order = order[:top_k]
    p = np.exp(x[order] - x[order[0]])
    p /= p.sum()
    if top_p < 1.0:
        cum = np.cumsum(p)
        keep = int(np.searchsorted(cum, top_p) + 1)
        order, p = order[:keep], p[:keep]
        p = p / p.sum()
    if min_p > 0:
        keep = [i for i in range(len(order)) if p[i] >= p[0] * min_p]
        order, p = [order[i] for i in keep], p[keep]
        p = p / p.sum()
    dist = np.zeros(len(x))
    dist[order] = p
    return dist


def chi2_critical(df, z=3.09):  # upper 0.001 quantile, Wilson-Hilferty
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


rng = np.random.default_rng(7)
cases = [
    ("plain_t1", list(rng.normal(0, 1.5, 12)), 1.0, 0, 1.0, 0.0, 1.0, 0.0, 0.0, []),
    ("temp_0_7", list(rng.normal(0, 1.5, 12)), 0.7, 0, 1.0, 0.0, 1.0, 0.0, 0.0, []),
    ("top_k_5", list(rng.normal(0, 1.0, 16)), 1.0, 5, 1.0, 0.0, 1.0, 0.0, 0.0, []),
    ("top_p_0_8", list(rng.normal(0, 1.0, 16)), 1.2, 0, 0.8, 0.0, 1.0, 0.0, 0.0, []),
    ("min_p_0_1", list(rng.normal(0, 2.0, 16)), 1.0, 0, 1.0, 0.1, 1.0, 0.0, 0.0, []),
    ("chain", list(rng.normal(0, 1.0, 20)), 0.9, 12, 0.9, 0.05, 1.0, 0.0, 0.0, []),
    ("repeat_penalty", [2.0, 1.5, -0.5, 1.0, 0.0, -1.0, 0.5, 1.2], 1.0, 0, 1.0, 0.0, 1.3, 0.0, 0.0, [0, 2, 2, 5]),
    ("presence_frequency", [1.0, 1.0, 1.0, 1.0, 0.5, 0.2], 1.0, 0, 1.0, 0.0, 1.0, 0.4, 0.3, [1, 1, 1, 3]),
]
N = 40000
for name, logits, temp, top_k, top_p, min_p, rep, pres, freq, hist in cases:
    logits = [round(float(v), 4) for v in logits]
    args = [tool, str(N), repr(temp), str(top_k), repr(top_p), repr(min_p), repr(rep), repr(pres), repr(freq), "12345"]
    args += [repr(v) for v in logits] + ["--"] + [str(h) for h in hist]
    out = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=True).stdout.split("\n")
    counts = np.array([int(l.split()[1]) for l in out if l.strip()], dtype=np.float64)
    dist = expected(logits, temp, top_k, top_p, min_p, rep, pres, freq, hist)
    outside = counts[dist == 0].sum()
    inside = dist > 0
    exp_counts = dist[inside] * N
    chi2 = float(((counts[inside] - exp_counts) ** 2 / exp_counts).sum())
    df = int(inside.sum()) - 1
    crit = chi2_critical(df) if df > 0 else 0.0
    ok = outside == 0 and (df == 0 or chi2 < crit)
    print(("PASS" if ok else "FAIL") + f" sampler_{name}" +
          ("" if ok else f": chi2={chi2:.1f} (critical {crit:.1f}, df {df}), {int(outside)} draws outside the kept set"))
