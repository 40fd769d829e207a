#!/usr/bin/env python3
"""Re-run the NumPy reference over the committed fixtures and confirm the
committed goldens (NumPy only; works with Debian's python3-numpy).

    python3 tests/ref/test_goldens.py [fixture ...]

Prints PASS name / FAIL name: why / SKIP name: why, then a summary line.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

try:
    import numpy as np
except ImportError:
    print("SKIP ref-goldens: numpy missing")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)

import anemll_ref as R  # noqa: E402

COUNTS = {"PASS": 0, "FAIL": 0, "SKIP": 0}


def report(kind, name, why=""):
    COUNTS[kind] += 1
    print("%s %s%s" % (kind, name, (": " + why) if why else ""))


def close(got, want, tol, what):
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise AssertionError("%s shape %s, want %s" % (what, got.shape, want.shape))
    excess = np.abs(got - want) - (tol["atol"] + tol["rtol"] * np.abs(want))
    # the reference reproduces its own goldens; allow only fp16 rounding noise
    if excess.size and excess.max() > 0:
        raise AssertionError("%s off by up to %.4g beyond tolerance" % (what, excess.max()))


def check(name, fn):
    try:
        fn()
        report("PASS", name)
    except AssertionError as e:
        report("FAIL", name, str(e))
    except Exception as e:  # noqa: BLE001
        report("FAIL", name, "%s: %s" % (type(e).__name__, e))


TIGHT = {"atol": 3e-2, "rtol": 4e-3}   # a couple of fp16 ulps: BLAS summation order differs


def check_fixture(gold):
    name = os.path.basename(gold)
    man = json.load(open(os.path.join(gold, "manifest.json")))
    fixtures_root = os.path.join(REPO, "tests", "fixtures")
    conf, w = R.load_weights(os.path.join(gold, "weights.json"), fixtures_root)
    m = R.Model(conf, w)
    L = lambda f: np.load(os.path.join(gold, f))  # noqa: E731
    chunks = R.chunk_layers(conf["layers"], man["num_chunks"])
    comp_chunk = {}
    for case in man["cases"]:
        if case["function"] in ("infer", "prefill") and case["name"].startswith("chunk"):
            idx = int(case["name"][len("chunk"):].split("_")[0]) - 1
            comp_chunk[case["name"]] = idx

    for case in man["cases"]:
        def one(case=case):
            ins = {k: L(v) for k, v in case["inputs"].items()}
            if case["name"].startswith("embeddings"):
                close(m.embed(ins["input_ids"][0]), L(case["outputs"]["hidden_states"]), TIGHT, "hidden_states")
                return
            if case["name"] == "lm_head":
                lg = m.logits(ins["hidden_states"])
                if "argmax_idx" in case["outputs"]:
                    sizes = case["split_sizes"]
                    off = np.cumsum([0] + sizes)
                    idx = [int(np.argmax(lg[off[i]:off[i + 1]])) for i in range(len(sizes))]
                    want = L(case["outputs"]["argmax_idx"])
                    assert list(want) == idx, "argmax_idx %s, want %s" % (idx, list(want))
                    return
                off = 0
                for i, s in enumerate(case["split_sizes"]):
                    close(lg[off:off + s].reshape(1, 1, s), L(case["outputs"]["logits%d" % (i + 1)]),
                          TIGHT, "logits%d" % (i + 1))
                    off += s
                return
            if case["name"].startswith("mono_"):
                # monolithic: embeddings + every layer (+ head for infer) in one call
                cache = L(case["state_in"]).copy() if case["state_in"] else m.new_state()
                mode = case["function"]
                h = m.chunk(list(range(conf["layers"])), True, mode, m.embed(ins["input_ids"][0]),
                            ins["position_ids"], int(ins["current_pos"][0]), cache)
                if mode == "prefill":
                    h = R.f16(m.rmsnorm(h.astype(np.float32), m.w["model.norm.weight"]))
                    close(h, L(case["outputs"]["output_hidden_states"]), TIGHT, "output_hidden_states")
                else:
                    lg = m.logits(h)
                    off = 0
                    for i, s in enumerate(case["split_sizes"]):
                        close(lg[off:off + s].reshape(1, 1, s),
                              L(case["outputs"]["logits%d" % (i + 1)]), TIGHT, "logits%d" % (i + 1))
                        off += s
                close(cache, L(case["state_out"]), TIGHT, "state")
                return
            i = comp_chunk[case["name"]]
            cache = L(case["state_in"]).copy() if case["state_in"] else m.new_state()
            pos = ins["position_ids"]
            cp = int(ins["current_pos"][0])
            out = m.chunk(chunks[i], i == len(chunks) - 1, case["function"], ins["hidden_states"],
                          pos, cp, cache)
            close(out, L(case["outputs"]["output_hidden_states"]), TIGHT, "output_hidden_states")
            close(cache, L(case["state_out"]), TIGHT, "state")
        check("%s/ref/%s" % (name, case["name"]), one)

    for r in man["runs"]:
        def one(r=r):
            new, margins, kept, _ = R.run_greedy(m, r["prompt_ids"], r["new_tokens"],
                                                 man["num_chunks"], keep_logits=1)
            assert new == r["greedy_ids"], "greedy ids differ"
            assert min(margins) >= 0.5 and r["min_margin"] >= 0.5, "margin %.3f" % min(margins)
            close(kept[0], L(r["first_step_logits"]), TIGHT, "first-step logits")
        check("%s/ref/run_%s" % (name, r["name"]), one)

    seq = man["sequence"]

    def seq_one():
        new, margins, kept, cache = R.run_greedy(m, seq["prompt_ids"], seq["steps"],
                                                 man["num_chunks"], keep_logits=seq["steps"])
        assert new == seq["greedy_ids"], "greedy ids differ"
        close(np.stack(kept), L(seq["logits"]), TIGHT, "logits")
        close(cache, L(seq["final_state"]), TIGHT, "final state")
    check("%s/ref/sequence" % name, seq_one)


def main():
    root = os.path.join(HERE, "goldens")
    names = sys.argv[1:] or sorted(os.listdir(root))
    for n in names:
        d = os.path.join(root, n)
        if not os.path.exists(os.path.join(d, "manifest.json")):
            report("SKIP", n, "no manifest")
            continue
        check_fixture(d)
    print("%d passed, %d failed, %d skipped" % (COUNTS["PASS"], COUNTS["FAIL"], COUNTS["SKIP"]))
    return 1 if COUNTS["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
