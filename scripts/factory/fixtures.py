"""Fixture plan and writer: ANEMLL-shaped model folders under tests/fixtures."""

import json
import os
import shutil
import sys
import tempfile

import numpy as np

from . import build, graphs, mlmodelc, model, tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "ref"))
import anemll_ref  # noqa: E402

# name: family, weight set (lut_ffn, lut_head), chunks, container, meta style, argmax
FIXTURES = [
    # llama: fp16 as compiled bundles; LUT4 FFN + LUT6 head in 2 chunks
    # (compiled) and 1 chunk (packages) with identical weights
    dict(name="llama-fp16-c1", family="llama", lut_ffn=None, lut_head=None, chunks=1,
         form="mlmodelc", anemll="0.3.4", argmax=False),
    dict(name="llama-lut4-c2", family="llama", lut_ffn=4, lut_head=6, chunks=2,
         form="mlmodelc", anemll="0.3.4", argmax=False),
    dict(name="llama-lut4-c1", family="llama", lut_ffn=4, lut_head=6, chunks=1,
         form="mlpackage", anemll="0.3.4", argmax=False),
    # qwen3: fp16 packages; LUT6 FFN + LUT8 argmax head in 2 chunks
    # (compiled) and 1 chunk (packages) with identical weights
    dict(name="qwen3-fp16-c1", family="qwen3", lut_ffn=None, lut_head=None, chunks=1,
         form="mlpackage", anemll="0.3.5", argmax=False),
    dict(name="qwen3-lut6-c2-argmax", family="qwen3", lut_ffn=6, lut_head=8, chunks=2,
         form="mlmodelc", anemll="0.3.5", argmax=True),
    dict(name="qwen3-lut6-c1-argmax", family="qwen3", lut_ffn=6, lut_head=8, chunks=1,
         form="mlpackage", anemll="0.3.5", argmax=True),
    # qwen3 0.3.5 monolithic: embeddings + layers + split head in one
    # multifunction bundle, fp16, same weights as qwen3-fp16-c1
    dict(name="qwen3-mono-c1", family="qwen3", lut_ffn=None, lut_head=None, chunks=1,
         form="mlmodelc", anemll="0.3.5", argmax=False, mono=True),
]

N_NEW = 32          # greedy tokens per prompt
SEQ_STEPS = 20      # infer steps of the stateful sequence golden


def lut_suffix(v):
    return "" if not v else "_lut%d" % v


def mono_name(cfg, fx):
    return "%s_monolithic_full%s.%s" % (cfg["prefix"], lut_suffix(fx["lut_ffn"]), fx["form"])


def names(cfg, fx):
    p = cfg["prefix"]
    n = fx["chunks"]
    ext = "." + fx["form"]
    emb = "%s_embeddings%s" % (p, ext)
    head = "%s_lm_head%s%s" % (p, lut_suffix(fx["lut_head"]), ext)
    ffn = ["%s_FFN_PF%s_chunk_%02dof%02d%s" % (p, lut_suffix(fx["lut_ffn"]), i + 1, n, ext)
           for i in range(n)]
    return emb, head, ffn


# ---------------------------------------------------------------------------
# meta.yaml / config files
# ---------------------------------------------------------------------------

def meta_yaml_mono(cfg, fx, sizes):
    """generate_meta_yaml.py --monolithic (0.3.5)."""
    lines = [
        "model_info:",
        "  name: anemll-tiny-%s-ctx%d-monolithic" % (cfg["family"], cfg["ctx"]),
        "  version: %s" % fx["anemll"],
        "  description: |",
        "    Monolithic model running tiny-%s on Apple Neural Engine" % cfg["family"],
        "    Context length: %d" % cfg["ctx"],
        "    Batch size: %d" % cfg["batch"],
        "    Type: Monolithic (single file with embed+FFN+lm_head)",
        "  license: MIT",
        "  author: Anemll",
        "  framework: Core ML",
        "  language: Python",
        "  architecture: %s" % cfg["family"],
        "  model_type: monolithic",
        "  parameters:",
        "    context_length: %d" % cfg["ctx"],
        "    batch_size: %d" % cfg["batch"],
        "    lut_bits: %s" % (fx["lut_ffn"] or "none"),
        "    model_prefix: %s" % cfg["prefix"],
        "    monolithic_model: %s" % mono_name(cfg, fx),
        "    split_lm_head: %d" % cfg["split"],
    ]
    if fx["argmax"]:
        lines.append("    argmax_in_model: true")
    lines += [
        "    vocab_size: %d" % cfg["vocab"],
        "    lm_head_chunk_sizes: [%s]" % ", ".join(str(s) for s in sizes),
        "    prefill_dynamic_slice: true",
        "    functions:",
        "      - infer",
        "      - prefill",
    ]
    return "\n".join(lines) + "\n"


def meta_yaml(cfg, fx, emb, head, ffn, sizes):
    ver = fx["anemll"]
    p = cfg["prefix"]
    name = "anemll-%s" % fx["name"]
    lf = fx["lut_ffn"] or "none"
    lh = fx["lut_head"] or "none"
    ffn_key = ffn[0] if ver == "0.3.5" else "%s_FFN_PF%s%s" % (
        p, lut_suffix(fx["lut_ffn"]), "." + fx["form"])
    lines = [
        "model_info:",
        "  name: %s" % name,
        "  version: %s" % ver,
        "  description: |",
        "    Demonstarates running tiny-%s on Apple Neural Engine" % cfg["family"],
        "    Context length: %d" % cfg["ctx"],
        "    Batch size: %d" % cfg["batch"],
        "    Chunks: %d" % fx["chunks"],
        "  license: MIT",
        "  author: Anemll",
        "  framework: Core ML",
        "  language: Python",
        "  architecture: %s" % cfg["family"],
        "  parameters:",
        "    context_length: %d" % cfg["ctx"],
        "    batch_size: %d" % cfg["batch"],
        "    lut_embeddings: none",
        "    lut_ffn: %s" % lf,
        "    lut_lmhead: %s" % lh,
        "    num_chunks: %d" % fx["chunks"],
        "    model_prefix: %s" % p,
        "    embeddings: %s" % emb,
        "    lm_head: %s" % head,
        "    ffn: %s" % ffn_key,
        "    split_lm_head: %d" % cfg["split"],
    ]
    if ver == "0.3.5":
        lines += [
            "    lut_ffn_per_channel: %s" % (8 if fx["lut_ffn"] else "none"),
            "    lut_lmhead_per_channel: %s" % (8 if fx["lut_head"] else "none"),
            "    vocab_size: %d" % cfg["vocab"],
            "    lm_head_chunk_sizes: [%s]" % ", ".join(str(s) for s in sizes),
            "    prefill_dynamic_slice: true",
        ]
        if fx["argmax"]:
            lines.append("    argmax_in_model: true")
        lines += [
            "# Conversion parameters:",
            "# anemll_version: 0.3.5",
            "# context_length: %d, batch_size: %d, chunks: %d" % (cfg["ctx"], cfg["batch"], fx["chunks"]),
        ]
    return "\n".join(lines) + "\n"


def config_files(cfg, fx, tok, out):
    if cfg["family"] == "llama":
        stub = {"tokenizer_class": "LlamaTokenizer", "model_type": "llama"}
    else:
        stub = {"tokenizer_class": "Qwen2Tokenizer", "model_type": "qwen3"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(stub, f, indent=2)
        f.write("\n")
    if fx["anemll"] == "0.3.5":
        eos = [tok.id_of("<|im_end|>"), tok.id_of("<|endoftext|>")]
        gen = {"bos_token_id": tok.id_of("<|endoftext|>"), "do_sample": True,
               "eos_token_id": eos, "pad_token_id": tok.id_of("<|endoftext|>"),
               "temperature": 0.6, "top_k": 20, "top_p": 0.95}
        with open(os.path.join(out, "generation_config.json"), "w") as f:
            json.dump(gen, f, indent=2, sort_keys=True)
            f.write("\n")


# ---------------------------------------------------------------------------
# weights map (what the model holds, for the NumPy reference)
# ---------------------------------------------------------------------------

def _load_spec(pkg):
    from coremltools.proto import Model_pb2
    spec = Model_pb2.Model()
    with open(os.path.join(pkg, "Data", "com.apple.CoreML", "model.mlmodel"), "rb") as f:
        spec.ParseFromString(f.read())
    return spec


def _blob_entries(spec, wfile):
    """const / constexpr_lut_to_dense tensors of the first function, by op
    output name -> map entry."""
    prog = spec.mlProgram
    fname = spec.description.defaultFunctionName or "main"
    f = prog.functions[fname]
    ops = f.block_specializations[f.opset].operations
    out = {}
    for op in ops:
        if op.type == "const":
            v = op.attributes["val"]
            if v.WhichOneof("value") == "blobFileValue":
                out[op.outputs[0].name] = dict(kind="blob", file=wfile,
                                               offset=v.blobFileValue.offset,
                                               shape=[d.constant.size for d in v.type.tensorType.dimensions])
        elif op.type == "constexpr_lut_to_dense":
            ind = op.inputs["indices"].arguments[0].value
            lut = op.inputs["lut"].arguments[0].value
            out[op.outputs[0].name] = dict(
                kind="lut", file=wfile,
                indices_offset=ind.blobFileValue.offset,
                lut_offset=lut.blobFileValue.offset,
                shape=[d.constant.size for d in ind.type.tensorType.dimensions],
                lut_shape=[d.constant.size for d in lut.type.tensorType.dimensions],
                bits={35: 4, 38: 6, 31: 8, 36: 2, 39: 3, 37: 1}[ind.type.tensorType.dataType])
    return out


def _key_of(const_name):
    n = const_name
    for suf in ("_palettized",):
        if n.endswith(suf):
            n = n[: -len(suf)]
    if n.endswith("_to_fp16"):
        n = n[: -len("_to_fp16")]
    return n


def weights_map(cfg, fx, fixture_dir, pkgs):
    """pkgs: dict role -> (package path, path of weight.bin relative to the
    repository).  Returns the JSON-able map for tests/ref."""
    want = {}
    for k in model.make_weights_keys(cfg):
        want[k.replace(".", "_")] = k
    tensors = {}
    heads = {}
    for role, (pkg, wfile) in pkgs.items():
        ents = _blob_entries(_load_spec(pkg), wfile)
        for cname, ent in ents.items():
            key = _key_of(cname)
            if key in want:
                tensors[want[key]] = ent
            elif key.startswith("lm_head") and key.endswith("_weight"):
                heads[int(key[len("lm_head"):-len("_weight")])] = ent
    tensors["lm_head.weight"] = [heads[i] for i in sorted(heads)]
    missing = [k for k in want.values() if k not in tensors]
    if missing:
        raise RuntimeError("weights not found in %s: %s" % (fx["name"], missing))
    conf = {k: cfg[k] for k in ("family", "hidden", "inter", "layers", "heads", "kv_heads",
                                "head_dim", "vocab", "eps", "rope_theta", "ctx", "state",
                                "batch", "split")}
    return {"config": conf, "tensors": dict(sorted(tensors.items(), key=lambda kv: kv[0]))}


# ---------------------------------------------------------------------------
# building one fixture
# ---------------------------------------------------------------------------

def _info(fx, cfg, desc, **keys):
    k = {"context_length": cfg["ctx"]}
    k.update({a: b for a, b in keys.items() if b is not None})
    return {"version": fx["anemll"], "description": desc, "keys": k}


def _place(pkg, dest, form):
    if form == "mlpackage":
        if os.path.exists(dest):
            shutil.rmtree(dest)
        shutil.copytree(pkg, dest)
        return os.path.join(dest, "Data", "com.apple.CoreML", "weights", "weight.bin")
    mlmodelc.write_mlmodelc(pkg, dest)
    return os.path.join(dest, "weights", "weight.bin")


def build_mono(fx, cfg, w, tok, fixtures_root, out, work, fast=False):
    sizes = graphs.head_split_sizes(cfg["vocab"], cfg["split"], cfg["family"])
    name = mono_name(cfg, fx)
    keys = dict(num_chunks=1, lut_bits=fx["lut_ffn"], vocab_size=cfg["vocab"],
                lm_head_chunk_sizes=",".join(map(str, sizes)),
                argmax_in_model="true" if fx["argmax"] else None)
    ii = _info(fx, cfg, "Anemll Model (Monolithic) converted to CoreML", **keys)
    ip = _info(fx, cfg, "Anemll Model (Monolithic Prefill) converted to CoreML",
               batch_size=cfg["batch"], **keys)
    ic = _info(fx, cfg, "Anemll Model: Multifunction Monolithic",
               batch_size=cfg["batch"], functions="infer,prefill", **keys)
    p = os.path.join(work, "monolithic.mlpackage")
    build.monolithic(cfg, w, ii, ip, ic, p, argmax=fx["argmax"], lut=fx["lut_ffn"],
                     fast=fast, workdir=work)
    wb = _place(p, os.path.join(out, name), fx["form"])
    tok.write(out)
    config_files(cfg, fx, tok, out)
    with open(os.path.join(out, "meta.yaml"), "w") as f:
        f.write(meta_yaml_mono(cfg, fx, sizes))
    rel = {"monolithic": (p, os.path.relpath(wb, fixtures_root))}
    return weights_map(cfg, fx, out, rel), (name, name, [name], sizes)


def build_fixture(fx, cfg, w, tok, fixtures_root, work, fast=False, log=print):
    out = os.path.join(fixtures_root, fx["name"])
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    if fx.get("mono"):
        return build_mono(fx, cfg, w, tok, fixtures_root, out, work, fast)
    emb, head, ffn = names(cfg, fx)
    n = fx["chunks"]
    v35 = fx["anemll"] == "0.3.5"
    pkgs = {}

    # embeddings
    info = _info(fx, cfg, "Anemll Model (Embeddings) converted to CoreML",
                 batch_size=cfg["batch"], num_chunks=n)
    m = build.embeddings_model(cfg, w, info)
    p = os.path.join(work, "embeddings.mlpackage")
    build.save(m, p)
    pkgs["embeddings"] = (p, _place(p, os.path.join(out, emb), fx["form"]))

    # LM head
    sizes = graphs.head_split_sizes(cfg["vocab"], cfg["split"], cfg["family"])
    extra = {}
    if v35:
        extra = dict(vocab_size=cfg["vocab"], lm_head_chunk_sizes=",".join(map(str, sizes)))
        if fx["argmax"]:
            extra["argmax_in_model"] = "true"
    info = _info(fx, cfg, "Anemll Model (LM Head) converted to CoreML",
                 num_chunks=n, lut_bits=fx["lut_head"], **extra)
    m, _ = build.lm_head_model(cfg, w, info, lut=fx["lut_head"], argmax=fx["argmax"], fast=fast)
    p = os.path.join(work, "lm_head.mlpackage")
    build.save(m, p)
    pkgs["lm_head"] = (p, _place(p, os.path.join(out, head), fx["form"]))

    # FFN chunks
    chunks = anemll_ref.chunk_layers(cfg["layers"], n)
    for i, layers in enumerate(chunks):
        common = dict(num_chunks=n, chunk_no=i + 1, lut_bits=fx["lut_ffn"])
        ii = _info(fx, cfg, "Anemll Model (FFN) converted to CoreML", **common)
        ip = _info(fx, cfg, "Anemll Model (Prefill) converted to CoreML",
                   batch_size=cfg["batch"], **common)
        ic = _info(fx, cfg, "Anemll Model: Multifunction FFN+Prefill",
                   batch_size=cfg["batch"], functions="infer,prefill", **common)
        p = os.path.join(work, "chunk%d.mlpackage" % (i + 1))
        build.ffn_chunk(cfg, w, layers, i == n - 1, ii, ip, ic, p,
                        lut=fx["lut_ffn"], fast=fast, workdir=work)
        pkgs["ffn%d" % (i + 1)] = (p, _place(p, os.path.join(out, ffn[i]), fx["form"]))

    tok.write(out)
    config_files(cfg, fx, tok, out)
    with open(os.path.join(out, "meta.yaml"), "w") as f:
        f.write(meta_yaml(cfg, fx, emb, head, ffn, sizes))
    rel = {k: (pk, os.path.relpath(wb, fixtures_root)) for k, (pk, wb) in pkgs.items()}
    return weights_map(cfg, fx, out, rel), (emb, head, ffn, sizes)
