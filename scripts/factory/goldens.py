"""Golden outputs computed by the NumPy reference (tests/ref/anemll_ref.py)
from the weights each fixture actually holds."""

import json
import os

import numpy as np

from .fixtures import anemll_ref, N_NEW, SEQ_STEPS

MIN_MARGIN = 0.5   # every greedy step must beat the runner-up by this much

TOL_HIDDEN = {"atol": 0.05, "rtol": 0.02}
TOL_STATE = {"atol": 0.05, "rtol": 0.02}
TOL_LOGITS = {"atol": 0.25, "rtol": 0.02}
TOL_EXACT = {"atol": 0.0, "rtol": 0.0}


class Writer:
    def __init__(self, d):
        self.d = d
        os.makedirs(d, exist_ok=True)

    def save(self, name, arr):
        arr = np.ascontiguousarray(arr)
        assert arr.dtype in (np.float16, np.float32, np.int32), arr.dtype
        fn = name + ".npy"
        np.save(os.path.join(self.d, fn), arr.astype(arr.dtype.newbyteorder("<")))
        return fn


TEXT = ("Once upon a time, there was a little cat who loved to read books. "
        "The weather is nice, so we went for a walk in the park. "
        "What is the capital of France? The capital of France is Paris.")
CHAT_MESSAGES = ["Who are you?", "Hello there!", "Why is the sky blue?", "Write a short poem.",
                 "Good morning!", "Tell me a story.", "What is the capital of France?",
                 "Thank you very much.", "Hello!", "How are you doing today?",
                 "Please write code.", "Let us think step by step."]
PROMPT_LENGTHS = [("p1", 1, "single token prompt"),
                  ("p5", 5, "shorter than one prefill batch"),
                  ("p8", 8, "exactly one prefill batch"),
                  ("p13", 13, "longer than one batch (8 + 5, right-padded)"),
                  ("p16", 16, "exactly two batches")]


def candidate_prompts(tok, family):
    """Per prompt kind, the candidates in the order they are tried: windows
    of the tokenized TEXT (LLaMA keeps its BOS first), or chat messages."""
    bos = family == "llama"
    body = tok.encode(TEXT, bos=False)
    out = []
    for name, n, note in PROMPT_LENGTHS:
        cands = []
        for s in range(0, len(body) - n):
            ids = ([1] + body[s:s + n - 1]) if bos and n > 1 else body[s:s + n]
            cands.append(ids)
        if bos and n == 1:
            cands.insert(0, [1])
        out.append((name, note, cands))
    chats = [tok.chat(m) for m in CHAT_MESSAGES]
    out.append(("chat", "chat template applied to one user message, add_generation_prompt",
                [c for c in chats if len(c) <= 28]))
    return out


def choose_runs(m, tok, family, n_chunks, log):
    """First candidate of each kind whose greedy run is decisive at every step."""
    runs = []
    for name, note, cands in candidate_prompts(tok, family):
        for ids in cands:
            new, margins, kept, _ = anemll_ref.run_greedy(m, ids, N_NEW, n_chunks, keep_logits=1)
            if min(margins) >= MIN_MARGIN:
                runs.append((name, note, ids, new, margins, kept))
                break
        else:
            raise RuntimeError("no decisive prompt of kind %s" % name)
    return runs


def component_cases(fx, m, cfg, W, rs, mask, emb, ffn):
    C, B, H = cfg["ctx"], cfg["batch"], cfg["hidden"]
    cases = []
    # embeddings, both enumerated shapes
    ids1 = np.array([[7]], dtype=np.int32)
    idsB = rs.randint(0, cfg["vocab"], size=(1, B)).astype(np.int32)
    for tag, ids in (("t1", ids1), ("tB", idsB)):
        cases.append(dict(name="embeddings_" + tag, component=emb, function=None,
                          inputs={"input_ids": W.save("embeddings_%s_input_ids" % tag, ids)},
                          outputs={"hidden_states": W.save("embeddings_%s_hidden_states" % tag,
                                                           m.embed(ids[0]))},
                          tolerance=TOL_EXACT))

    # FFN chunks: prefill at position 0 from a zero state, then one infer step at B
    chunks = anemll_ref.chunk_layers(cfg["layers"], fx["chunks"])
    for i, layers in enumerate(chunks):
        last = i == len(chunks) - 1
        tag = "chunk%d" % (i + 1)
        cache = m.new_state()
        hp = anemll_ref.f16(rs.standard_normal((1, B, H)))
        pos = np.arange(B, dtype=np.int32)
        mk = mask[:, :, 0:B, :]
        cp = np.array([0], dtype=np.int32)
        outp = m.chunk(layers, last, "prefill", hp, pos, 0, cache)
        st1 = W.save(tag + "_prefill_state_out", cache)
        cases.append(dict(
            name=tag + "_prefill", component=ffn[i], function="prefill",
            inputs={"hidden_states": W.save(tag + "_prefill_hidden_states", hp),
                    "position_ids": W.save(tag + "_prefill_position_ids", pos),
                    "causal_mask": W.save(tag + "_prefill_causal_mask", mk),
                    "current_pos": W.save(tag + "_prefill_current_pos", cp)},
            state_in=None, state_out=st1,
            outputs={"output_hidden_states": W.save(tag + "_prefill_output_hidden_states", outp)},
            tolerance=TOL_HIDDEN, state_tolerance=TOL_STATE))
        hi = anemll_ref.f16(rs.standard_normal((1, 1, H)))
        p = B
        outi = m.chunk(layers, last, "infer", hi, [p], p, cache)
        cases.append(dict(
            name=tag + "_infer", component=ffn[i], function="infer",
            inputs={"hidden_states": W.save(tag + "_infer_hidden_states", hi),
                    "position_ids": W.save(tag + "_infer_position_ids", np.array([p], np.int32)),
                    "causal_mask": W.save(tag + "_infer_causal_mask", mask[:, :, p:p + 1, :]),
                    "current_pos": W.save(tag + "_infer_current_pos", np.array([p], np.int32))},
            state_in=st1, state_out=W.save(tag + "_infer_state_out", cache),
            outputs={"output_hidden_states": W.save(tag + "_infer_output_hidden_states", outi)},
            tolerance=TOL_HIDDEN, state_tolerance=TOL_STATE))


    return cases


def mono_cases(m, cfg, W, rs, mask, comp, sizes):
    """The monolithic model's two functions: prefill of a batch at position 0
    into a zero state (output: final-normed hidden state of token 0), then
    one infer step at position B (output: the logits splits)."""
    B, L = cfg["batch"], cfg["layers"]
    layers = list(range(L))
    cache = m.new_state()
    ids = rs.randint(0, cfg["vocab"], size=(1, B)).astype(np.int32)
    pos = np.arange(B, dtype=np.int32)
    h0 = m.chunk(layers, True, "prefill", m.embed(ids[0]), pos, 0, cache)
    outp = anemll_ref.f16(m.rmsnorm(h0.astype(np.float32), m.w["model.norm.weight"]))
    st1 = W.save("mono_prefill_state_out", cache)
    cases = [dict(
        name="mono_prefill", component=comp, function="prefill",
        inputs={"input_ids": W.save("mono_prefill_input_ids", ids),
                "position_ids": W.save("mono_prefill_position_ids", pos),
                "causal_mask": W.save("mono_prefill_causal_mask", mask[:, :, 0:B, :]),
                "current_pos": W.save("mono_prefill_current_pos", np.array([0], np.int32))},
        state_in=None, state_out=st1,
        outputs={"output_hidden_states": W.save("mono_prefill_output_hidden_states", outp)},
        tolerance=TOL_HIDDEN, state_tolerance=TOL_STATE)]
    p = B
    tok = np.array([[int(ids[0, 3])]], np.int32)
    hi = m.chunk(layers, True, "infer", m.embed(tok[0]), [p], p, cache)
    logits = m.logits(hi)
    outs = {}
    off = 0
    for k, s in enumerate(sizes):
        outs["logits%d" % (k + 1)] = W.save("mono_infer_logits%d" % (k + 1),
                                            logits[off:off + s].reshape(1, 1, s))
        off += s
    cases.append(dict(
        name="mono_infer", component=comp, function="infer",
        inputs={"input_ids": W.save("mono_infer_input_ids", tok),
                "position_ids": W.save("mono_infer_position_ids", np.array([p], np.int32)),
                "causal_mask": W.save("mono_infer_causal_mask", mask[:, :, p:p + 1, :]),
                "current_pos": W.save("mono_infer_current_pos", np.array([p], np.int32))},
        state_in=st1, state_out=W.save("mono_infer_state_out", cache),
        outputs=outs, split_sizes=sizes, tolerance=TOL_LOGITS, state_tolerance=TOL_STATE))
    return cases


def make(fx, cfg, wmap, fixtures_root, gold_dir, comp_names, tok, log=print):
    emb, head, ffn, sizes = comp_names
    W = Writer(gold_dir)
    with open(os.path.join(gold_dir, "weights.json"), "w") as f:
        json.dump(wmap, f, indent=1, sort_keys=False)
        f.write("\n")
    conf, w = anemll_ref.load_weights(os.path.join(gold_dir, "weights.json"), fixtures_root)
    m = anemll_ref.Model(conf, w)
    rs = np.random.RandomState(1234)
    C, B, H = cfg["ctx"], cfg["batch"], cfg["hidden"]
    mask = anemll_ref.causal_mask(C)
    chunks = anemll_ref.chunk_layers(cfg["layers"], fx["chunks"])
    cases = []

    if fx.get("mono"):
        cases += mono_cases(m, cfg, W, rs, mask, emb, sizes)
    else:
        cases += component_cases(fx, m, cfg, W, rs, mask, emb, ffn)

    # token runs (full ANEMLL loop)
    runs = []
    chosen = choose_runs(m, tok, cfg["family"], fx["chunks"], log)
    for name, note, ids, new, margins, kept in chosen:
        runs.append(dict(name=name, note=note, prompt_ids=[int(x) for x in ids],
                         new_tokens=N_NEW, greedy_ids=new,
                         margins=[round(x, 4) for x in margins],
                         min_margin=round(min(margins), 4),
                         first_step_logits=W.save("run_%s_first_logits" % name, kept[0]),
                         logits_tolerance=TOL_LOGITS))

    # LM head on the hidden state of a real decode step (the p13 run's first step)
    pr = dict(ids=[c for c in chosen if c[0] == "p13"][0][2])
    if not fx.get("mono"):
        cases.append(head_case(fx, m, W, pr, chunks, head, sizes))
    seq = sequence(fx, m, W, pr)
    return write_manifest(fx, cfg, wmap, gold_dir, sizes, cases, runs, seq, tok)


def head_case(fx, m, W, pr, chunks, head, sizes):
    cache = m.new_state()
    anemll_ref.run_greedy(m, pr["ids"][:-1], 0, fx["chunks"], cache=cache) if len(pr["ids"]) > 1 else None
    hh = m.embed([pr["ids"][-1]])
    p = len(pr["ids"]) - 1
    for i, layers in enumerate(chunks):
        hh = m.chunk(layers, i == len(chunks) - 1, "infer", hh, [p], p, cache)
    logits = m.logits(hh)
    hin = W.save("lm_head_hidden_states", hh)
    if fx["argmax"]:
        idx, val, gaps = [], [], []
        off = 0
        for s in sizes:
            part = logits[off:off + s].astype(np.float32)
            o = np.argsort(-part, kind="stable")
            idx.append(int(o[0]))
            val.append(part[o[0]])
            gaps.append(round(float(part[o[0]] - part[o[1]]), 4) if s > 1 else None)
            off += s
        return dict(name="lm_head", component=head, function=None,
                    inputs={"hidden_states": hin},
                    outputs={"argmax_idx": W.save("lm_head_argmax_idx", np.array(idx, np.int32)),
                             "argmax_val": W.save("lm_head_argmax_val", anemll_ref.f16(val))},
                    split_sizes=sizes, split_margins=gaps,
                    tolerance={"argmax_idx": TOL_EXACT, "argmax_val": TOL_LOGITS},
                    note="argmax_idx is local to its split; compare it only where "
                         "split_margins[i] is well above the logits tolerance")
    else:
        outs = {}
        off = 0
        for k, s in enumerate(sizes):
            outs["logits%d" % (k + 1)] = W.save("lm_head_logits%d" % (k + 1),
                                                logits[off:off + s].reshape(1, 1, s))
            off += s
        return dict(name="lm_head", component=head, function=None,
                    inputs={"hidden_states": hin}, outputs=outs, split_sizes=sizes,
                    tolerance=TOL_LOGITS)


def sequence(fx, m, W, pr):
    # stateful sequence: p13 prefill then SEQ_STEPS infer steps, all logits
    new, margins, kept, cache = anemll_ref.run_greedy(m, pr["ids"], SEQ_STEPS, fx["chunks"],
                                                      keep_logits=SEQ_STEPS)
    seq = dict(prompt_ids=[int(x) for x in pr["ids"]], steps=SEQ_STEPS, greedy_ids=new,
               margins=[round(x, 4) for x in margins],
               logits=W.save("sequence_logits", np.stack(kept)),
               final_state=W.save("sequence_final_state", cache),
               logits_tolerance=TOL_LOGITS, state_tolerance=TOL_STATE)
    return seq


def write_manifest(fx, cfg, wmap, gold_dir, sizes, cases, runs, seq, tok):
    fam = cfg["family"]
    tok_sample = dict(
        text=TEXT, ids=[int(x) for x in tok.encode(TEXT, bos=False)],
        how=("spm_encode --output_format=id with tokenizer.model (sentencepiece 0.1.97); "
             "no BOS" if fam == "llama" else
             "tokenizers 0.20.3 Tokenizer.encode(text, add_special_tokens=False) with tokenizer.json"),
        chat_message=CHAT_MESSAGES[0],
        chat_ids=[int(x) for x in tok.chat(CHAT_MESSAGES[0])],
        chat_how=("ids of the template's segments encoded one by one (BOS, specials by id); "
                  "not necessarily what HF LlamaTokenizer returns" if fam == "llama" else
                  "encode of the ChatML text rendered by the chat template, add_generation_prompt"))

    manifest = dict(
        fixture=fx["name"],
        model_dir="tests/fixtures/" + fx["name"],
        meta="tests/fixtures/%s/meta.yaml" % fx["name"],
        family=cfg["family"], container=fx["form"], anemll_version=fx["anemll"],
        lut_ffn=fx["lut_ffn"], lut_lmhead=fx["lut_head"], num_chunks=fx["chunks"],
        argmax_in_model=fx["argmax"], split_sizes=sizes,
        config=wmap["config"],
        state={"name": "model_model_kv_cache_0",
               "shape": [2 * cfg["layers"], cfg["kv_heads"], cfg["state"], cfg["head_dim"]],
               "dtype": "float16"},
        tolerance_rule="pass if |got - want| <= atol + rtol * |want| for every element",
        cases=cases, runs=runs, sequence=seq, tokenizer=tok_sample)
    if fx.get("mono"):
        manifest["monolithic"] = True
    with open(os.path.join(gold_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest
