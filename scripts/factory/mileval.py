"""A small NumPy interpreter for the saved protobuf ML programs, used only to
cross-check that the generated programs compute what the textbook reference
(tests/ref/anemll_ref.py) computes.  It evaluates in fp32 and rounds every
fp16-typed op output to fp16, like a straightforward CPU engine would.
"""

import os

import numpy as np
from coremltools.proto import MIL_pb2

from . import mlmodelc

DT = MIL_pb2.DataType
NP = {DT.FLOAT16: np.float16, DT.FLOAT32: np.float32, DT.INT32: np.int32, DT.INT16: np.int16,
      DT.UINT16: np.uint16, DT.BOOL: np.bool_, DT.INT8: np.int8, DT.UINT8: np.uint8,
      DT.INT64: np.int64}


def _read_blob(root, fname, offset):
    import struct
    path = os.path.join(root, fname.replace("@model_path/", ""))
    with open(path, "rb") as f:
        f.seek(offset)
        md = f.read(64)
        sentinel, code, size, data_off, pad = struct.unpack_from("<IIQQQ", md, 0)
        assert sentinel == 0xDEADBEEF
        f.seek(data_off)
        return code, f.read(size)


def value(v, root):
    t = v.type.tensorType
    shape = [d.constant.size for d in t.dimensions]
    if v.WhichOneof("value") == "blobFileValue":
        code, raw = _read_blob(root, v.blobFileValue.fileName, v.blobFileValue.offset)
        if t.dataType in mlmodelc.SUBBYTE:
            bits = mlmodelc.SUBBYTE[t.dataType]
            n = int(np.prod(shape))
            b = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[: n * bits]
            vals = (b.reshape(n, bits).astype(np.int64) << np.arange(bits)).sum(1)
            return vals.reshape(shape)
        return np.frombuffer(raw, dtype=NP[t.dataType]).reshape(shape).copy()
    vals = mlmodelc._tensor_values(v.type, v.immediateValue.tensor)
    if t.dataType == DT.STRING:
        return vals[0] if t.rank == 0 else vals
    arr = np.array(vals, dtype=NP.get(t.dataType, np.int64))
    return arr.reshape(shape) if t.rank else arr.reshape(())


def _norm_axes(axes, rank):
    return [int(a) % rank for a in np.atleast_1d(axes)]


def _slice_by_index(x, a):
    r = x.ndim
    begin = list(a["begin"])
    end = list(a["end"])
    stride = list(a.get("stride", [1] * r))
    bm = list(a.get("begin_mask", [False] * r))
    em = list(a.get("end_mask", [False] * r))
    sm = list(a.get("squeeze_mask", [False] * r))
    sl = []
    for i in range(r):
        b = None if bm[i] else int(begin[i])
        e = None if em[i] else int(end[i])
        sl.append(slice(b, e, int(stride[i])))
    y = x[tuple(sl)]
    sq = [i for i in range(r) if sm[i]]
    return np.squeeze(y, axis=tuple(sq)) if sq else y


def _conv(x, w, a):
    # 1x1 (or kernel-1 1-D) convolution, groups 1, valid padding
    assert w.shape[2:] == (1,) * (w.ndim - 2), w.shape
    W = w.reshape(w.shape[0], w.shape[1]).astype(np.float32)
    xs = x.astype(np.float32)
    y = np.einsum("oi,bi...->bo...", W, xs)
    return y


class State:
    def __init__(self, arr):
        self.arr = arr


def run(spec, fname, root, inputs, states):
    """Evaluate function `fname`; inputs: dict name->array; states: dict
    name->State (mutated).  Returns dict of outputs."""
    f = spec.mlProgram.functions[fname]
    blk = f.block_specializations[f.opset]
    env = dict(inputs)
    env.update(states)
    for op in blk.operations:
        a = {}
        for k, arg in op.inputs.items():
            vals = []
            for b in arg.arguments:
                vals.append(env[b.name] if b.WhichOneof("binding") == "name" else value(b.value, root))
            a[k] = vals if (len(vals) > 1 or k == "values") else vals[0]
        t = op.type
        if t == "const":
            out = value(op.attributes["val"], root)
        elif t == "constexpr_lut_to_dense":
            idx, lut = a["indices"], a["lut"].astype(np.float16)
            shape = idx.shape
            out = np.empty(shape, np.float16)
            blocks = [shape[i] // lut.shape[i] for i in range(len(shape))]
            for g in np.ndindex(*lut.shape[: len(shape)]):
                sl = tuple(slice(g[i] * blocks[i], (g[i] + 1) * blocks[i]) for i in range(len(shape)))
                out[sl] = lut[g][:, 0][idx[sl]]
        elif t == "cast":
            out = a["x"].astype({"fp16": np.float16, "fp32": np.float32, "int32": np.int32,
                                 "int16": np.int16, "uint16": np.uint16, "bool": np.bool_}[a["dtype"]])
        elif t in ("add", "sub", "mul", "real_div", "greater_equal"):
            x, y = np.asarray(a["x"]), np.asarray(a["y"])
            fl = x.dtype.kind == "f" or y.dtype.kind == "f"
            if fl:
                x, y = x.astype(np.float32), y.astype(np.float32)
            out = {"add": np.add, "sub": np.subtract, "mul": np.multiply,
                   "real_div": np.divide, "greater_equal": np.greater_equal}[t](x, y)
        elif t == "clip":
            out = np.clip(a["x"].astype(np.float32), float(a["alpha"]), float(a["beta"]))
        elif t == "identity":
            out = np.asarray(a["x"]).copy()
        elif t == "select":
            out = np.where(a["cond"], a["a"], a["b"])
        elif t == "gather":
            idx = a["indices"].astype(np.int64)
            out = np.take(a["x"], idx, axis=int(a["axis"]))
        elif t == "gather_along_axis":
            out = np.take_along_axis(a["x"], a["indices"].astype(np.int64), axis=int(a["axis"]))
        elif t == "reshape":
            out = a["x"].reshape([int(s) for s in a["shape"]])
        elif t == "transpose":
            out = np.transpose(a["x"], [int(p) for p in a["perm"]])
        elif t == "expand_dims":
            out = a["x"]
            for ax in sorted(int(v) for v in np.atleast_1d(a["axes"])):
                out = np.expand_dims(out, ax)
        elif t == "squeeze":
            out = np.squeeze(a["x"], axis=tuple(_norm_axes(a["axes"], a["x"].ndim)))
        elif t == "concat":
            vals = [np.asarray(v) for v in a["values"]]
            vals = [v.reshape(1) if v.ndim == 0 else v for v in vals]
            out = np.concatenate(vals, axis=int(a["axis"]))
        elif t == "layer_norm":
            x = a["x"].astype(np.float32)
            ax = tuple(_norm_axes(a["axes"], x.ndim))
            mu = x.mean(axis=ax, keepdims=True)
            var = ((x - mu) ** 2).mean(axis=ax, keepdims=True)
            out = (x - mu) / np.sqrt(var + float(a["epsilon"]))
            assert "gamma" not in a and "beta" not in a
        elif t == "slice_by_index":
            out = _slice_by_index(a["x"], a)
        elif t == "conv":
            out = _conv(a["x"], a["weight"], a)
        elif t == "linear":
            out = a["x"].astype(np.float32) @ a["weight"].astype(np.float32).T + a["bias"]
        elif t == "matmul":
            x, y = a["x"].astype(np.float32), a["y"].astype(np.float32)
            if a.get("transpose_x"):
                x = np.swapaxes(x, -1, -2)
            if a.get("transpose_y"):
                y = np.swapaxes(y, -1, -2)
            out = x @ y
        elif t == "read_state":
            out = a["input"].arr.copy()
        elif t == "write_state":
            a["input"].arr[...] = a["data"].astype(a["input"].arr.dtype)
            out = None
        elif t == "slice_update":
            x = a["x"].copy()
            r = x.ndim
            bm = list(a.get("begin_mask", [False] * r))
            em = list(a.get("end_mask", [False] * r))
            sl = tuple(slice(None if bm[i] else int(a["begin"][i]),
                             None if em[i] else int(a["end"][i])) for i in range(r))
            x[sl] = a["update"]
            out = x
        elif t == "tile":
            out = np.tile(a["x"], [int(r) for r in a["reps"]])
        elif t in ("reduce_max", "reduce_sum"):
            fn = np.max if t == "reduce_max" else np.sum
            out = fn(a["x"].astype(np.float32), axis=tuple(_norm_axes(a["axes"], a["x"].ndim)),
                     keepdims=bool(a.get("keep_dims", False)))
        elif t == "reduce_argmax":
            out = np.argmax(a["x"], axis=int(a["axis"]))
            if a.get("keep_dims"):
                out = np.expand_dims(out, int(a["axis"]))
            out = out.astype(np.int32)
        elif t == "exp":
            out = np.exp(a["x"].astype(np.float32))
        elif t == "softmax":
            x = a["x"].astype(np.float32)
            e = np.exp(x - x.max(axis=int(a["axis"]), keepdims=True))
            out = e / e.sum(axis=int(a["axis"]), keepdims=True)
        elif t == "silu":
            x = a["x"].astype(np.float32)
            out = x / (1 + np.exp(-x))
        else:
            raise NotImplementedError(t)
        for i, o in enumerate(op.outputs):
            if out is None:
                break
            ot = o.type.tensorType
            v = out if len(op.outputs) == 1 else out[i]
            if ot.dataType in NP and not isinstance(v, (str, list)):
                v = np.asarray(v).astype(NP[ot.dataType])
            env[o.name] = v
    return {n: env[n] for n in blk.outputs}
