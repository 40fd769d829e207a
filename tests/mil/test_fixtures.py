"""End-to-end check of the MIL engine against the test-model goldens.

For every fixture under tests/fixtures (both .mlmodelc and .mlpackage containers):
  * every component case of tests/ref/goldens/<fixture>/manifest.json is run with
    `anemone predict` and its outputs (and state) compared with the NumPy goldens under
    the case's tolerance (|got - want| <= atol + rtol*|want|);
  * the stateful sequence (prefill batches, then the decode steps through every chunk
    and the LM head, one shared state) is replayed with `anemone predict --steps` and
    its logits and final state compared with the goldens.
The goldens come from tests/ref/anemll_ref.py, an independent NumPy implementation.
Prints PASS/FAIL/SKIP lines, and one INFO line with the worst error per dtype.
"""

import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIP mil_fixtures: numpy is not installed")
    sys.exit(0)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("ANEMONE_BIN", os.path.join(ROOT, "build", "anemone"))
GOLD = os.path.join(ROOT, "tests", "ref", "goldens")
FIX = os.path.join(ROOT, "tests", "fixtures")

worst = {}  # dtype -> (max relative error, where)
failed = 0


def report(ok, name, why=""):
    global failed
    if ok:
        print("PASS " + name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, why))
    sys.stdout.flush()


def compare(got, want, tol, where):
    """None when within tolerance, else a message. Records the worst relative error."""
    if got.shape != want.shape:
        return "shape %s, expected %s" % (got.shape, want.shape)
    if got.dtype != want.dtype:
        return "dtype %s, expected %s" % (got.dtype, want.dtype)
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    err = np.abs(g - w)
    # error relative to the tensor's largest magnitude (elementwise relative error is
    # meaningless next to zero)
    rel = float(err.max() / max(np.abs(w).max(), 1e-6)) if err.size else 0.0
    key = "%s %s" % (want.dtype, "sequence" if "/sequence" in where else "component")
    if key not in worst or rel > worst[key][0]:
        worst[key] = (rel, where, float(err.max()) if err.size else 0.0)
    bad = err > tol["atol"] + tol["rtol"] * np.abs(w)
    if bad.any():
        i = np.unravel_index(np.argmax(err - (tol["atol"] + tol["rtol"] * np.abs(w))), err.shape)
        return "%d elements out of tolerance, e.g. at %s: %r vs %r" % (
            int(bad.sum()), tuple(int(x) for x in i), g[i], w[i])
    return None


def predict(args):
    r = subprocess.run([BIN, "predict"] + args, capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


def run_case(fixture, gdir, case, tmp):
    name = "%s/%s" % (fixture, case["name"])
    comp = os.path.join(FIX, fixture, case["component"])
    out = os.path.join(tmp, case["name"])
    args = [comp, "-o", out]
    if case.get("function"):
        args += ["--function", case["function"]]
    for k, f in case["inputs"].items():
        args += ["-i", "%s=%s" % (k, os.path.join(gdir, f))]
    if case.get("state_in"):
        args += ["--state-in", os.path.join(gdir, case["state_in"])]
    if case.get("state_out"):
        args += ["--state-out", os.path.join(out, "state.npy")]
    rc, err = predict(args)
    if rc != 0:
        return report(False, name, "anemone predict failed: " + err)
    tol_all = case["tolerance"]
    for k, f in case["outputs"].items():
        tol = tol_all.get(k, tol_all) if isinstance(tol_all.get(k), dict) else tol_all
        got = np.load(os.path.join(out, k + ".npy"))
        want = np.load(os.path.join(gdir, f))
        if k == "argmax_idx":
            # local index of each split's maximum: compare where the split's top-2 margin
            # is clear of the logits tolerance
            margins = case.get("split_margins", [])
            keep = [i for i, m in enumerate(margins) if m > 0.5]
            msg = None if got.shape == want.shape and np.array_equal(
                got.reshape(-1)[keep], want.reshape(-1)[keep]) else "argmax differs: %s vs %s" % (
                got.reshape(-1).tolist(), want.reshape(-1).tolist())
        else:
            msg = compare(got, want, tol, name + ":" + k)
        if msg:
            return report(False, name, "%s: %s" % (k, msg))
    if case.get("state_out"):
        msg = compare(np.load(os.path.join(out, "state.npy")),
                      np.load(os.path.join(gdir, case["state_out"])),
                      case.get("state_tolerance", tol_all), name + ":state")
        if msg:
            return report(False, name, "state: " + msg)
    report(True, name)


def components(fixture):
    """(embeddings, [chunks...], lm_head) component paths from meta.yaml naming."""
    d = os.path.join(FIX, fixture)
    names = sorted(os.listdir(d))
    emb = [n for n in names if "_embeddings." in n][0]
    head = [n for n in names if "_lm_head" in n][0]
    chunks = [n for n in names if "_FFN_" in n and "_chunk_" in n]
    return os.path.join(d, emb), [os.path.join(d, c) for c in chunks], os.path.join(d, head)


def run_sequence(fixture, gdir, m, tmp):
    name = "%s/sequence" % fixture
    seq = m["sequence"]
    cfg = m["config"]
    B, C = cfg["batch"], cfg["ctx"]
    mono = m.get("monolithic", False)
    if mono:
        d = os.path.join(FIX, fixture)
        emb = head = None
        comp = os.path.join(d, [n for n in sorted(os.listdir(d)) if "_monolithic_full" in n][0])
    else:
        emb, chunks, head = components(fixture)
    mask = np.full((C, C), -np.inf, dtype=np.float32)
    mask[np.tril_indices(C)] = 0
    mask = mask.astype(np.float16)[None, None]
    sdir = os.path.join(tmp, "seq")
    os.makedirs(sdir, exist_ok=True)
    nfile = [0]

    def save(arr):
        nfile[0] += 1
        p = os.path.join(sdir, "in%d.npy" % nfile[0])
        np.save(p, arr)
        return p

    steps = []

    def through_chunks(fn, h_ref, pos_ids, cur, mask_rows):
        pid, cp, mk = save(pos_ids), save(np.array([cur], np.int32)), save(mask_rows)
        for c in chunks:
            steps.append({"component": c, "function": fn,
                          "inputs": {"hidden_states": h_ref, "position_ids": pid,
                                     "causal_mask": mk, "current_pos": cp}})
            h_ref = "@%d:output_hidden_states" % (len(steps) - 1)
        return h_ref

    def mono_step(fn, ids, pos_ids, cur, mask_rows):
        steps.append({"component": comp, "function": fn,
                      "inputs": {"input_ids": save(np.array([ids], np.int32)),
                                 "position_ids": save(pos_ids),
                                 "causal_mask": save(mask_rows),
                                 "current_pos": save(np.array([cur], np.int32))}})

    toks = list(seq["prompt_ids"]) + list(seq["greedy_ids"])
    n = len(seq["prompt_ids"])
    bp = 0
    while bp < n:
        end = min(bp + B, n)
        ids = toks[bp:end] + [0] * (B - (end - bp))
        if mono:
            mono_step("prefill", ids, np.arange(bp, bp + B, dtype=np.int32), bp, mask[:, :, bp:bp + B, :])
            bp = end
            continue
        steps.append({"component": emb, "inputs": {"input_ids": save(np.array([ids], np.int32))}})
        through_chunks("prefill", "@%d:hidden_states" % (len(steps) - 1),
                       np.arange(bp, bp + B, dtype=np.int32), bp, mask[:, :, bp:bp + B, :])
        bp = end
    head_steps = []
    pos = n
    for s in range(seq["steps"]):
        if mono:
            mono_step("infer", [toks[pos - 1]], np.array([pos - 1], np.int32), pos - 1,
                      mask[:, :, pos - 1:pos, :])
            head_steps.append(len(steps) - 1)
            pos += 1
            continue
        steps.append({"component": emb, "inputs": {"input_ids": save(np.array([[toks[pos - 1]]], np.int32))}})
        h = through_chunks("infer", "@%d:hidden_states" % (len(steps) - 1),
                           np.array([pos - 1], np.int32), pos - 1, mask[:, :, pos - 1:pos, :])
        steps.append({"component": head, "inputs": {"hidden_states": h}})
        head_steps.append(len(steps) - 1)
        pos += 1
    # save every LM head output of every decode step
    outs = {}
    for k, i in enumerate(head_steps):
        outs[k] = {}
        for o in ["logits%d" % (j + 1) for j in range(len(m["split_sizes"]))] + ["argmax_idx", "argmax_val"]:
            outs[k][o] = os.path.join(sdir, "step%d_%s.npy" % (k, o))
    for k, i in enumerate(head_steps):
        steps[i]["outputs"] = {}
    sfile = os.path.join(sdir, "steps.json")
    # outputs are written only for names the head has: probe its names with the case list
    head_case = [c for c in m["cases"] if c["name"] in ("lm_head", "mono_infer")][0]
    for k, i in enumerate(head_steps):
        steps[i]["outputs"] = {o: outs[k][o] for o in head_case["outputs"]}
    with open(sfile, "w") as f:
        json.dump(steps, f)
    state_out = os.path.join(sdir, "final_state.npy")
    rc, err = predict(["--steps", sfile, "--state-out", state_out])
    if rc != 0:
        return report(False, name, "anemone predict --steps failed: " + err)
    want_state = np.load(os.path.join(gdir, seq["final_state"]))
    msg = compare(np.load(state_out), want_state, seq["state_tolerance"], name + ":state")
    if msg:
        return report(False, name, "final state: " + msg)
    if not m["argmax_in_model"]:
        # Twenty decode steps of an fp16 graph (every op rounds its output to fp16) against
        # an fp32 reference drift by a few fp16 ulps of the logits: the manifest's
        # per-component tolerance (atol 0.1) is widened to atol 0.25 here, and the greedy
        # token of every step must be the reference's where its top-2 margin exceeds 0.5.
        want = np.load(os.path.join(gdir, seq["logits"]))
        tol = dict(seq["logits_tolerance"])
        tol["atol"] = max(tol["atol"], 0.25)
        for k in range(seq["steps"]):
            got = np.concatenate([np.load(outs[k]["logits%d" % (j + 1)]).reshape(-1)
                                  for j in range(len(m["split_sizes"]))])
            msg = compare(got, want[k].reshape(-1), tol, "%s:step%d" % (name, k))
            if msg:
                return report(False, name, "step %d logits: %s" % (k, msg))
            if seq["margins"][k] > 0.5 and int(np.argmax(got)) != seq["greedy_ids"][k]:
                return report(False, name, "step %d chose %d, reference %d" % (
                    k, int(np.argmax(got)), seq["greedy_ids"][k]))
    else:
        # in-model argmax: the chosen token of each step must be the reference's where the
        # reference's top-2 margin is clear of the tolerance
        sizes = m["split_sizes"]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        for k in range(seq["steps"]):
            idx = np.load(outs[k]["argmax_idx"]).reshape(-1)
            val = np.load(outs[k]["argmax_val"]).reshape(-1).astype(np.float32)
            best = int(np.argmax(val))
            tok = int(starts[best] + idx[best])
            if seq["margins"][k] > 0.5 and tok != seq["greedy_ids"][k]:
                return report(False, name, "step %d chose %d, reference %d" % (k, tok, seq["greedy_ids"][k]))
    report(True, name)


def main():
    if not os.path.isdir(GOLD):
        print("SKIP mil_fixtures: no goldens")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for fixture in sorted(os.listdir(GOLD)):
            mf = os.path.join(GOLD, fixture, "manifest.json")
            if not os.path.isfile(mf) or not os.path.isdir(os.path.join(FIX, fixture)):
                continue
            with open(mf) as f:
                m = json.load(f)
            gdir = os.path.join(GOLD, fixture)
            for case in m["cases"]:
                run_case(fixture, gdir, case, tmp)
            if "sequence" in m:
                run_sequence(fixture, gdir, m, tmp)
    for dt, (rel, where, ab) in sorted(worst.items()):
        print("INFO worst %s error: relative %.3g, absolute %.3g (%s)" % (dt, rel, ab, where))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
