"""Convert MIL programs into .mlpackage files the way ANEMLL's converter does:
ct.convert (iOS18, FLOAT16), optional LUT palettization, ANEMLL metadata,
multifunction combine of infer+prefill; then make the output deterministic."""

import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import coremltools as ct
import coremltools.optimize as cto

from . import graphs

MANIFEST_IDS = {
    "model": "8f2a9c3e-0b7d-4e61-9a52-3c4d5e6f7a81",
    "weights": "1d4e7b2a-5c8f-4a93-b6d0-e2f3a4b5c6d7",
}


def convert(prog, inputs=None):
    kw = {}
    if inputs is not None:
        kw["inputs"] = inputs
    return ct.convert(prog, convert_to="mlprogram",
                      minimum_deployment_target=ct.target.iOS18,
                      compute_precision=ct.precision.FLOAT16,
                      skip_model_load=True, **kw)


_KMEANS_MEMO = {}


def _memoize_kmeans():
    """coremltools clusters every weight of every function separately; the
    infer and prefill programs (and the bench variants) hold the same
    weights, so remember each deterministic result (random_state=0) and
    cluster every distinct tensor once."""
    from coremltools.optimize.coreml import _quantization_passes as qp
    orig = qp._get_kmeans_lookup_table_and_weight
    if getattr(orig, "_memo", False):
        return

    def memo(nbits, weight, force_kmeans1d=False, cluster_dim=1, vector_axis=None):
        w = np.ascontiguousarray(weight)
        key = (nbits, w.dtype.str, w.shape, force_kmeans1d, cluster_dim, vector_axis,
               hashlib.sha256(w.tobytes()).hexdigest())
        if key not in _KMEANS_MEMO:
            lut, idx = orig(nbits, weight, force_kmeans1d=force_kmeans1d,
                            cluster_dim=cluster_dim, vector_axis=vector_axis)
            _KMEANS_MEMO[key] = (lut.copy(), idx.copy())
        lut, idx = _KMEANS_MEMO[key]
        return lut.copy(), idx.copy()
    memo._memo = True
    qp._get_kmeans_lookup_table_and_weight = memo


def palettize(model, nbits, mode="kmeans", workers=1):
    _memoize_kmeans()
    cfg = cto.coreml.OptimizationConfig(global_config=cto.coreml.OpPalettizerConfig(
        mode=mode, nbits=nbits, granularity="per_grouped_channel", group_size=8,
        num_kmeans_workers=workers, weight_threshold=64))
    return cto.coreml.palettize_weights(model, cfg)


def set_metadata(model, info):
    """ANEMLL's AddMetadata: author/version/short_description plus
    com.anemll.* user-defined keys (all values are strings)."""
    ver = info["version"]
    model.author = "Converted with Anemll v%s" % ver
    model.version = ver
    model.short_description = info["description"]
    ud = model.user_defined_metadata
    for k in list(ud.keys()):
        if k == "com.github.apple.coremltools.conversion_date":
            del ud[k]
    ud["com.anemll.info"] = "Converted with Anemll v%s" % ver
    for k, v in info["keys"].items():
        ud["com.anemll." + k] = str(v)


def fix_package(path):
    """Make a saved .mlpackage byte-for-byte reproducible: fixed item ids in
    Manifest.json and a deterministic protobuf serialization."""
    man = os.path.join(path, "Manifest.json")
    with open(man) as f:
        m = json.load(f)
    new = {}
    root = None
    for uid, ent in m["itemInfoEntries"].items():
        key = "model" if ent["name"] == "model.mlmodel" else "weights"
        new[MANIFEST_IDS[key]] = ent
        if uid == m["rootModelIdentifier"]:
            root = MANIFEST_IDS[key]
    m["itemInfoEntries"] = dict(sorted(new.items()))
    m["rootModelIdentifier"] = root
    with open(man, "w") as f:
        json.dump(m, f, indent=4, sort_keys=True)
        f.write("\n")
    spec_path = os.path.join(path, "Data", "com.apple.CoreML", "model.mlmodel")
    from coremltools.proto import Model_pb2
    spec = Model_pb2.Model()
    with open(spec_path, "rb") as f:
        spec.ParseFromString(f.read())
    ud = spec.description.metadata.userDefined
    if "com.github.apple.coremltools.conversion_date" in ud:
        del ud["com.github.apple.coremltools.conversion_date"]
    with open(spec_path, "wb") as f:
        f.write(spec.SerializeToString(deterministic=True))


def save(model, path):
    if os.path.exists(path):
        shutil.rmtree(path)
    model.save(path)
    fix_package(path)


def combine(infer_pkg, prefill_pkg, out_path, info):
    """ANEMLL's combine step: one multifunction model, default `infer`."""
    d = ct.utils.MultiFunctionDescriptor()
    d.add_function(infer_pkg, src_function_name="main", target_function_name="infer")
    d.add_function(prefill_pkg, src_function_name="main", target_function_name="prefill")
    d.default_function_name = "infer"
    tmp = out_path[: -len(".mlpackage")] + "_combined_tmp.mlpackage"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    ct.utils.save_multifunction(d, tmp)
    m = ct.models.MLModel(tmp, skip_model_load=True)
    set_metadata(m, info)
    save(m, out_path)
    shutil.rmtree(tmp)


def embeddings_model(cfg, w, info):
    prog = graphs.build_embeddings(cfg, w)
    B = cfg["batch"]
    inp = [ct.TensorType(name="input_ids", dtype=np.int32,
                         shape=ct.EnumeratedShapes(shapes=[[1, 1], [1, B]], default=[1, 1]))]
    m = convert(prog, inputs=inp)
    set_metadata(m, info)
    return m


def lm_head_model(cfg, w, info, lut=None, argmax=False, fast=False):
    prog, sizes = graphs.build_lm_head(cfg, w, argmax=argmax)
    m = convert(prog)
    if lut:
        m = palettize(m, lut, mode="uniform" if fast else "kmeans")
    set_metadata(m, info)
    return m, sizes


def _two_functions(make_prog, infos, info_comb, out_path, lut, fast, workdir):
    """Build, convert and save infer then prefill, one after the other (the
    MIL builder's generated names depend on that order), then combine."""
    pk = []
    for mode, info in zip(("infer", "prefill"), infos):
        m = convert(make_prog(mode))
        if lut:
            m = palettize(m, lut, mode="uniform" if fast else "kmeans")
        set_metadata(m, info)
        p = os.path.join(workdir, "%s_%s.mlpackage" % (os.path.basename(out_path), mode))
        save(m, p)
        pk.append(p)
    combine(pk[0], pk[1], out_path, info_comb)


def ffn_chunk(cfg, w, layers, last, info_infer, info_prefill, info_comb, out_path,
              lut=None, fast=False, workdir=None):
    _two_functions(lambda mode: graphs.build_ffn(cfg, w, layers, last, mode),
                   (info_infer, info_prefill), info_comb, out_path, lut, fast, workdir)


def monolithic(cfg, w, info_infer, info_prefill, info_comb, out_path, argmax=False,
               lut=None, fast=False, workdir=None):
    """ANEMLL 0.3.5 monolithic model: infer + prefill of the whole network."""
    _two_functions(lambda mode: graphs.build_monolithic(cfg, w, mode, argmax=argmax),
                   (info_infer, info_prefill), info_comb, out_path, lut, fast, workdir)
