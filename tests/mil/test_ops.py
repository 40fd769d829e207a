"""Op-by-op check of the MIL interpreter against NumPy.

Each case writes a small model.mil program (one op, or a short chain) into a temporary
.mlmodelc directory, its inputs as .npy files, runs `anemone predict`, and compares each
output with the NumPy result: fp16 within 1e-3 + 2e-3*|want| (about two ulps), fp32 within
1e-6 + 1e-5*|want|, integers and bools exactly. This exercises the text parser, the
planner and the kernels together. Prints one PASS/FAIL line per case.
"""

import math
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIP mil_ops: numpy is not installed")
    sys.exit(0)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("ANEMONE_BIN", os.path.join(ROOT, "build", "anemone"))

MILT = {np.dtype("float16"): "fp16", np.dtype("float32"): "fp32", np.dtype("int32"): "int32",
        np.dtype("int16"): "int16", np.dtype("uint16"): "uint16", np.dtype("int8"): "int8",
        np.dtype("uint8"): "uint8", np.dtype("bool"): "bool"}
F16, F32 = np.float16, np.float32
failed = 0


def ty(a, dt=None):
    a = np.asarray(a)
    t = dt or MILT[a.dtype]
    return "tensor<%s, [%s]>" % (t, ", ".join(str(d) for d in a.shape))


def scal(v, t):
    if t == "bool":
        return "true" if v else "false"
    if t in ("fp16", "fp32"):
        v = float(v)
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return float.hex(v)
    return str(int(v))


def lit(a, t=None):
    """An inline literal: scalars as T(v), tensors as tensor<T, [..]>([...])."""
    a = np.asarray(a)
    t = t or MILT[a.dtype]
    if a.ndim == 0:
        return "%s(%s)" % (t, scal(a.item(), t))
    return "%s([%s])" % (ty(a, t), ", ".join(scal(v, t) for v in a.reshape(-1).tolist()))


def S(s):
    return 'string("%s")' % s


class Prog:
    def __init__(self, inputs, opset="ios18"):
        self.inputs = {k: np.asarray(v) for k, v in inputs.items()}
        self.lines = []
        self.opset = opset
        self.n = 0

    def op(self, op, out_like, **args):
        """Append `out = op(args)`; out_like is an array (or (dtype, shape)) giving the
        declared output type. Returns the output name."""
        self.n += 1
        name = "v%d" % self.n
        if isinstance(out_like, tuple):
            decl = "tensor<%s, [%s]>" % (out_like[0], ", ".join(str(d) for d in out_like[1]))
        else:
            decl = ty(out_like)
        a = ", ".join("%s = %s" % (k.rstrip("_"), v) for k, v in sorted(args.items()))
        self.lines.append('%s %s = %s(%s)[name = string("%s")];' % (decl, name, op, a, name))
        return name

    def text(self, outs):
        params = ", ".join("%s %s" % (ty(v), k) for k, v in self.inputs.items())
        body = "\n".join("            " + l for l in self.lines)
        return "program(1.3)\n{\n    func main<%s>(%s) {\n%s\n        } -> (%s);\n}\n" % (
            self.opset, params, body, ", ".join(outs))


def close(got, want):
    if got.shape != want.shape or got.dtype != want.dtype:
        return "got %s %s, want %s %s" % (got.dtype, got.shape, want.dtype, want.shape)
    if want.dtype.kind in "iub":
        if not np.array_equal(got, want):
            i = np.argmax(got != want)
            return "differs at flat %d: %r vs %r" % (i, got.reshape(-1)[i], want.reshape(-1)[i])
        return None
    g, w = got.astype(np.float64), want.astype(np.float64)
    atol, rtol = (1e-3, 2e-3) if want.dtype == np.float16 else (1e-6, 1e-5)
    finite = np.isfinite(w)
    special = (np.isnan(g) & np.isnan(w)) | (np.isinf(w) & (g == w))
    gf, wf = np.where(finite, g, 0), np.where(finite, w, 0)
    with np.errstate(invalid="ignore"):
        ok = np.where(finite, np.abs(gf - wf) <= atol + rtol * np.abs(wf), special)
    if not ok.all():
        i = int(np.argmax(~ok.reshape(-1)))
        return "differs at flat %d: %r vs %r" % (i, g.reshape(-1)[i], w.reshape(-1)[i])
    return None


def run(name, prog, outs, tmp, expect_error=None):
    """outs: {output name: expected array}."""
    global failed
    d = os.path.join(tmp, name.replace("/", "_") + ".mlmodelc")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.mil"), "w") as f:
        f.write(prog.text(list(outs)))
    args = [BIN, "predict", d, "-o", os.path.join(d, "out")]
    for k, v in prog.inputs.items():
        p = os.path.join(d, "in_%s.npy" % k)
        np.save(p, v)
        args += ["-i", "%s=%s" % (k, p)]
    r = subprocess.run(args, capture_output=True, text=True)
    if expect_error is not None:
        if r.returncode != 0 and expect_error in r.stderr:
            print("PASS " + name)
        else:
            failed += 1
            print("FAIL %s: expected an error containing %r, got rc %d: %s" % (
                name, expect_error, r.returncode, r.stderr.strip()))
        return
    if r.returncode != 0:
        failed += 1
        print("FAIL %s: %s" % (name, r.stderr.strip()))
        return
    for k, want in outs.items():
        got = np.load(os.path.join(d, "out", k + ".npy"))
        msg = close(got, np.asarray(want))
        if msg:
            failed += 1
            print("FAIL %s: output %s %s" % (name, k, msg))
            return
    print("PASS " + name)


def f16r(x, dt):
    """NumPy result in fp32, stored in the case dtype (fp16 rounds to nearest even)."""
    return np.asarray(x, dtype=np.float32).astype(dt)


RNG = np.random.default_rng(1234)


def rnd(shape, dt, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape).astype(dt)


def cases(tmp):
    # ---- elementwise binary with broadcasting, fp16 and fp32 ----
    bin_np = {
        "add": np.add, "sub": np.subtract, "mul": np.multiply, "real_div": np.divide,
        "maximum": np.maximum, "minimum": np.minimum,
        "floor_div": lambda a, b: np.floor(a / b), "mod": np.mod,
    }
    for dt in (F16, F32):
        for op, fn in bin_np.items():
            x = rnd((2, 3, 4), dt)
            y = rnd((3, 1), dt, 0.5, 2.0) * np.where(RNG.random((3, 1)) < 0.5, -1, 1).astype(dt)
            p = Prog({"x": x, "y": y})
            want = f16r(fn(x.astype(F32), y.astype(F32)), dt)
            o = p.op(op, want, x="x", y="y")
            run("%s_%s_bcast" % (op, MILT[np.dtype(dt)]), p, {o: want}, tmp)
        x = rnd((2, 3), dt, 0.1, 2.0)
        y = rnd((3,), dt, -2, 2)
        p = Prog({"x": x, "y": y})
        want = f16r(np.power(x.astype(F32), y.astype(F32)), dt)
        run("pow_%s" % MILT[np.dtype(dt)], p, {p.op("pow", want, x="x", y="y"): want}, tmp)
        # scalar literal operand
        p = Prog({"x": x})
        want = f16r(x.astype(F32) * F32(-1.5), dt)
        run("mul_scalar_literal_%s" % MILT[np.dtype(dt)], p,
            {p.op("mul", want, x="x", y=lit(np.array(-1.5, dt))): want}, tmp)
    for op, fn in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("floor_div", np.floor_divide), ("mod", np.mod), ("maximum", np.maximum),
                   ("minimum", np.minimum)]:
        x = RNG.integers(-20, 20, (3, 4)).astype(np.int32)
        y = RNG.integers(1, 6, (4,)).astype(np.int32) * np.array([1, -1, 1, -1], np.int32)
        p = Prog({"x": x, "y": y})
        want = fn(x, y).astype(np.int32)
        run("%s_int32" % op, p, {p.op(op, want, x="x", y="y"): want}, tmp)
    # comparisons → bool
    for dt in (F16, F32, np.int32):
        x = (RNG.integers(-3, 3, (2, 3))).astype(dt)
        y = (RNG.integers(-3, 3, (3,))).astype(dt)
        for op, fn in [("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
                       ("greater_equal", np.greater_equal), ("less", np.less),
                       ("less_equal", np.less_equal)]:
            p = Prog({"x": x, "y": y})
            want = fn(x, y)
            run("%s_%s" % (op, MILT[np.dtype(dt)]), p, {p.op(op, want, x="x", y="y"): want}, tmp)
    a = RNG.random((2, 3)) < 0.5
    b = RNG.random((3,)) < 0.5
    for op, fn in [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                   ("logical_xor", np.logical_xor)]:
        p = Prog({"x": a, "y": b})
        want = fn(a, b)
        run(op, p, {p.op(op, want, x="x", y="y"): want}, tmp)
    p = Prog({"x": a})
    run("logical_not", p, {p.op("logical_not", ~a, x="x"): ~a}, tmp)
    # select with broadcast and a -inf scalar (ANEMLL masking)
    for dt in (F16, F32):
        c = RNG.random((2, 1, 4)) < 0.5
        x = rnd((3, 4), dt)
        p = Prog({"c": c, "x": x})
        want = np.where(c, np.array(-np.inf, dt), x).astype(dt)
        run("select_%s" % MILT[np.dtype(dt)], p,
            {p.op("select", want, cond="c", a=lit(np.array(-np.inf, dt)), b="x"): want}, tmp)

    # ---- unary ----
    erf = np.vectorize(math.erf)
    un = {
        "exp": (np.exp, -3, 3), "sqrt": (np.sqrt, 0, 4), "abs": (np.abs, -2, 2),
        "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), -6, 6),
        "silu": (lambda v: v / (1 + np.exp(-v)), -6, 6), "tanh": (np.tanh, -3, 3),
        "relu": (lambda v: np.maximum(v, 0), -2, 2), "erf": (erf, -2, 2), "sin": (np.sin, -3, 3),
        "cos": (np.cos, -3, 3), "floor": (np.floor, -3, 3), "ceil": (np.ceil, -3, 3),
        "round": (np.round, -3, 3), "sign": (np.sign, -2, 2), "square": (np.square, -2, 2),
        "softplus": (lambda v: np.log1p(np.exp(v)), -3, 3),
        "softsign": (lambda v: v / (1 + np.abs(v)), -3, 3),
    }
    for dt in (F16, F32):
        for op, (fn, lo, hi) in un.items():
            x = rnd((3, 5), dt, lo, hi)
            p = Prog({"x": x})
            want = f16r(fn(x.astype(F32)), dt)
            run("%s_%s" % (op, MILT[np.dtype(dt)]), p, {p.op(op, want, x="x"): want}, tmp)
        x = rnd((3, 5), dt, 0.1, 4)
        p = Prog({"x": x})
        want = f16r(1 / np.sqrt(x.astype(F32) + 1e-3), dt)
        run("rsqrt_eps_%s" % MILT[np.dtype(dt)], p,
            {p.op("rsqrt", want, x="x", epsilon=lit(np.array(1e-3, dt))): want}, tmp)
        p = Prog({"x": x})
        want = f16r(np.log(x.astype(F32)), dt)
        run("log_%s" % MILT[np.dtype(dt)], p, {p.op("log", want, x="x"): want}, tmp)
        p = Prog({"x": x})
        want = f16r(1 / (x.astype(F32) + 1e-4), dt)
        run("inverse_%s" % MILT[np.dtype(dt)], p, {p.op("inverse", want, x="x"): want}, tmp)
        x = rnd((4, 6), dt, -3, 3)
        xf = x.astype(F32)
        for mode, fn in [("EXACT", lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2)))),
                         ("TANH_APPROXIMATION",
                          lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))),
                         ("SIGMOID_APPROXIMATION", lambda v: v / (1 + np.exp(-1.702 * v)))]:
            p = Prog({"x": x})
            want = f16r(fn(xf), dt)
            run("gelu_%s_%s" % (mode, MILT[np.dtype(dt)]), p,
                {p.op("gelu", want, x="x", mode=S(mode)): want}, tmp)
        p = Prog({"x": x})
        want = f16r(np.clip(xf, -1.25, 0.5), dt)
        run("clip_%s" % MILT[np.dtype(dt)], p,
            {p.op("clip", want, x="x", alpha=lit(np.array(-1.25, dt)), beta=lit(np.array(0.5, dt))): want}, tmp)
    for dt in (F16, F32):
        n = MILT[np.dtype(dt)]
        x = rnd((3, 5), dt, -3, 3)
        xf = x.astype(F32)
        for op, fn, extra in [
                ("leaky_relu", lambda v: np.where(v >= 0, v, 0.25 * v), {"alpha": lit(np.array(0.25, dt))}),
                ("elu", lambda v: np.where(v > 0, v, 0.5 * (np.exp(v) - 1)), {"alpha": lit(np.array(0.5, dt))}),
                ("relu6", lambda v: np.clip(v, 0, 6), {}), ("exp2", np.exp2, {}),
                ("identity", lambda v: v, {})]:
            p = Prog({"x": x})
            want = f16r(fn(xf), dt)
            run("%s_%s" % (op, n), p, {p.op(op, want, x="x", **extra): want}, tmp)
        p = Prog({"x": x})
        want = np.full((3, 5), 2.5, dt)
        run("fill_like_%s" % n, p, {p.op("fill_like", want, ref_tensor="x", value=lit(np.array(2.5, dt))): want}, tmp)
        xp = rnd((2, 3, 4), dt, 0.1, 2)
        for op, fn in [("reduce_l1_norm", lambda a: np.abs(a).sum(1)), ("reduce_sum_square", lambda a: (a * a).sum(1)),
                       ("reduce_log_sum", lambda a: np.log(a.sum(1)))]:
            p = Prog({"x": xp})
            want = f16r(fn(xp.astype(F32)), dt)
            run("%s_%s" % (op, n), p, {p.op(op, want, x="x", axes=lit(np.array([1], np.int32))): want}, tmp)
    xi = np.array([[-3, 0, 5]], np.int32)
    p = Prog({"x": xi})
    run("abs_int32", p, {p.op("abs", np.abs(xi), x="x"): np.abs(xi)}, tmp)
    # the narrow integer dtypes and bool through arithmetic, layout and selection ops
    for dt in (np.int8, np.uint8, np.int16, np.uint16):
        n = MILT[np.dtype(dt)]
        x = RNG.integers(0, 50, (2, 3)).astype(dt)
        y = RNG.integers(0, 50, (3,)).astype(dt)
        p = Prog({"x": x, "y": y})
        want = (x + y).astype(dt)
        run("add_%s" % n, p, {p.op("add", want, x="x", y="y"): want}, tmp)
        p = Prog({"x": x})
        want = np.ascontiguousarray(x.T)
        run("transpose_%s" % n, p, {p.op("transpose", want, x="x", perm=lit(np.array([1, 0], np.int32))): want}, tmp)
        c = RNG.random((2, 3)) < 0.5
        p = Prog({"c": c, "x": x, "y": y})
        want = np.where(c, x, y).astype(dt)
        run("select_%s" % n, p, {p.op("select", want, cond="c", a="x", b="y"): want}, tmp)
    bx = RNG.random((2, 3)) < 0.5
    p = Prog({"x": bx})
    want = np.concatenate([bx, ~bx], 0)
    nb = p.op("logical_not", bx, x="x")
    run("concat_bool", p, {p.op("concat", want, values="(x, %s)" % nb, axis=lit(np.array(0, np.int32)),
                               interleave=lit(np.array(False))): want}, tmp)

    # ---- cast ----
    xf = np.array([[-2.75, -0.5, 0.0, 0.49, 1.5, 2.5, 300.7, 65519.0]], F32)
    for src, dst, want in [
        (xf, "fp16", xf.astype(F16)), (xf.astype(F16), "fp32", xf.astype(F16).astype(F32)),
        (xf, "int32", xf.astype(np.int32)), (xf.astype(F16), "int32", xf.astype(F16).astype(np.int32)),
        (np.array([[-70000, -5, 0, 7, 70000]], np.int32), "fp16",
         np.array([[-np.inf, -5, 0, 7, np.inf]], F16)),
        (np.array([[-300, -5, 0, 7, 300]], np.int32), "int8", np.array([[-300, -5, 0, 7, 300]]).astype(np.int8)),
        (np.array([[-5, 0, 7, 300]], np.int32), "uint8", np.array([[-5, 0, 7, 300]]).astype(np.uint8)),
        (np.array([[-5, 0, 7, 70000]], np.int32), "int16", np.array([[-5, 0, 7, 70000]]).astype(np.int16)),
        (np.array([[-5, 0, 7, 70000]], np.int32), "uint16", np.array([[-5, 0, 7, 70000]]).astype(np.uint16)),
        (np.array([[-2, 0, 3]], np.int32), "bool", np.array([[True, False, True]])),
        (np.array([[True, False]]), "fp32", np.array([[1.0, 0.0]], F32)),
        (np.array([[0.0, -0.0, 0.1, np.nan]], F32), "bool", np.array([[False, False, True, True]])),
    ]:
        p = Prog({"x": src})
        o = p.op("cast", want, x="x", dtype=S(dst))
        run("cast_%s_to_%s" % (MILT[src.dtype], dst), p, {o: want}, tmp)

    # ---- linear algebra ----
    for dt in (F16, F32):
        n = MILT[np.dtype(dt)]
        for xs, ys, tx, ty_ in [((3, 4), (4, 5), False, False), ((2, 3, 4), (5, 4), False, True),
                                ((4, 3), (4, 5), True, False), ((2, 1, 3, 4), (3, 5, 4), False, True),
                                ((4,), (4, 5), False, False), ((3, 4), (4,), False, False),
                                ((4,), (4,), False, False), ((1, 2, 4, 3), (2, 1, 4, 5), True, False)]:
            x, y = rnd(xs, dt), rnd(ys, dt)
            xx = np.swapaxes(x, -1, -2) if tx else x
            yy = np.swapaxes(y, -1, -2) if ty_ else y
            want = f16r(np.matmul(xx.astype(F32), yy.astype(F32)), dt)
            p = Prog({"x": x, "y": y})
            o = p.op("matmul", want, x="x", y="y", transpose_x=lit(np.array(tx)), transpose_y=lit(np.array(ty_)))
            run("matmul_%s_%s_%s_%d%d" % (n, "x".join(map(str, xs)), "x".join(map(str, ys)), tx, ty_),
                p, {o: want}, tmp)
        x, w, b = rnd((2, 3, 6), dt), rnd((4, 6), dt), rnd((4,), dt)
        want = f16r(x.astype(F32) @ w.astype(F32).T + b.astype(F32), dt)
        p = Prog({"x": x})
        run("linear_%s" % n, p, {p.op("linear", want, x="x", weight=lit(w), bias=lit(b)): want}, tmp)
        # conv
        for cin, cout, hw, k, stride, dil, groups, pad_type, pad in [
            (6, 4, (1, 5), (1, 1), (1, 1), (1, 1), 1, "valid", None),
            (4, 6, (5, 7), (3, 3), (2, 2), (1, 1), 1, "same", None),
            (4, 6, (6, 6), (3, 2), (1, 2), (2, 1), 2, "custom", [1, 2, 0, 1]),
            (4, 4, (5, 6), (2, 3), (2, 1), (1, 1), 4, "same_lower", None),
            (3, 2, (7,), (3,), (2,), (2,), 1, "same", None),
        ]:
            x = rnd((2, cin) + hw, dt)
            w = rnd((cout, cin // groups) + k, dt)
            b = rnd((cout,), dt)
            want = conv_ref(x.astype(F32), w.astype(F32), b.astype(F32), stride, dil, groups, pad_type, pad, hw, k)
            want = f16r(want, dt)
            p = Prog({"x": x})
            args = dict(x="x", weight=lit(w), bias=lit(b), strides=lit(np.array(stride, np.int32)),
                        dilations=lit(np.array(dil, np.int32)), groups=lit(np.array(groups, np.int32)),
                        pad_type=S(pad_type))
            if pad is not None:
                args["pad"] = lit(np.array(pad, np.int32))
            run("conv_%s_k%s_s%s_d%s_g%d_%s" % (n, "x".join(map(str, k)), "x".join(map(str, stride)),
                                                 "x".join(map(str, dil)), groups, pad_type),
                p, {p.op("conv", want, **args): want}, tmp)

    # ---- normalization, softmax, reductions ----
    for dt in (F16, F32):
        n = MILT[np.dtype(dt)]
        x = rnd((2, 3, 8), dt)
        xf = x.astype(F32)
        g, b = rnd((8,), dt), rnd((8,), dt)
        m = xf.mean(-1, keepdims=True)
        v = ((xf - m) ** 2).mean(-1, keepdims=True)
        want = f16r((xf - m) / np.sqrt(v + 1e-5) * g.astype(F32) + b.astype(F32), dt)
        p = Prog({"x": x})
        run("layer_norm_%s" % n, p, {p.op("layer_norm", want, x="x", axes=lit(np.array([-1], np.int32)),
                                          gamma=lit(g), beta=lit(b), epsilon=lit(np.array(1e-5, dt))): want}, tmp)
        m = xf.mean((0, 2), keepdims=True)
        v = ((xf - m) ** 2).mean((0, 2), keepdims=True)
        want = f16r((xf - m) / np.sqrt(v + 1e-5), dt)
        p = Prog({"x": x})
        run("layer_norm_axes02_%s" % n, p,
            {p.op("layer_norm", want, x="x", axes=lit(np.array([0, -1], np.int32))): want}, tmp)
        for axis in (-1, 1):
            e = np.exp(xf - xf.max(axis, keepdims=True))
            want = f16r(e / e.sum(axis, keepdims=True), dt)
            p = Prog({"x": x})
            run("softmax_axis%d_%s" % (axis, n), p,
                {p.op("softmax", want, x="x", axis=lit(np.array(axis, np.int32))): want}, tmp)
        # long rows (every vector tail), masked positions (-inf) and terms that underflow
        xl = rnd((67, 203), dt, -30.0, 12.0)
        xl[:, 7::9] = -np.inf
        xl[0, :150] = -150.0
        xl[1, :] = -1e4
        xlf = xl.astype(np.float64)
        for axis in (-1, 0):
            e = np.exp(xlf - xlf.max(axis, keepdims=True))
            want = f16r(e / e.sum(axis, keepdims=True), dt)
            p = Prog({"x": xl})
            run("softmax_long_rows_axis%d_%s" % (axis, n), p,
                {p.op("softmax", want, x="x", axis=lit(np.array(axis, np.int32))): want}, tmp)
        for op, fn in [("reduce_sum", np.sum), ("reduce_mean", np.mean), ("reduce_max", np.max),
                       ("reduce_min", np.min), ("reduce_prod", np.prod),
                       ("reduce_l2_norm", lambda a, axis, keepdims: np.sqrt((a * a).sum(axis, keepdims=keepdims))),
                       ("reduce_log_sum_exp", lambda a, axis, keepdims: np.log(np.exp(a).sum(axis, keepdims=keepdims)))]:
            for axes, keep in [((1,), False), ((0, -1), True)]:
                want = f16r(fn(xf, axis=axes, keepdims=keep), dt)
                p = Prog({"x": x})
                run("%s_%s_%s_%d" % (op, n, "_".join(map(str, axes)), keep), p,
                    {p.op(op, want, x="x", axes=lit(np.array(axes, np.int32)), keep_dims=lit(np.array(keep))): want}, tmp)
        want = f16r(xf.sum(), dt)
        p = Prog({"x": x})
        run("reduce_sum_all_%s" % n, p, {p.op("reduce_sum", want, x="x"): want}, tmp)
        x2 = x.copy()
        x2[0, 1, 3] = x2[0, 1, 5] = 9  # a tie: the first wins
        for axis, keep in [(-1, False), (1, True)]:
            want = np.argmax(x2, axis=axis).astype(np.int32)
            if keep:
                want = np.expand_dims(want, axis)
            p = Prog({"x": x2})
            run("reduce_argmax_%s_%d_%d" % (n, axis, keep), p,
                {p.op("reduce_argmax", want, x="x", axis=lit(np.array(axis, np.int32)), keep_dims=lit(np.array(keep))): want}, tmp)
        want = np.argmin(x2, axis=0).astype(np.int32)
        p = Prog({"x": x2})
        run("reduce_argmin_%s" % n, p, {p.op("reduce_argmin", want, x="x", axis=lit(np.array(0, np.int32))): want}, tmp)
    xi = RNG.integers(-5, 5, (3, 4)).astype(np.int32)
    p = Prog({"x": xi})
    want = xi.sum(1).astype(np.int32)
    run("reduce_sum_int32", p, {p.op("reduce_sum", want, x="x", axes=lit(np.array([1], np.int32))): want}, tmp)

    shape_cases(tmp)
    slice_cases(tmp)
    const_cases(tmp)
    error_cases(tmp)
    runtime_error_cases(tmp)
    output_count_cases(tmp)


def conv_ref(x, w, b, stride, dil, groups, pad_type, pad, hw, k):
    ns = len(hw)
    pb, pa = [], []
    for d in range(ns):
        dk = (k[d] - 1) * dil[d] + 1
        if pad_type == "valid":
            pb.append(0), pa.append(0)
        elif pad_type in ("same", "same_lower"):
            o = -(-hw[d] // stride[d])
            tot = max(0, (o - 1) * stride[d] + dk - hw[d])
            lo = tot // 2 if pad_type == "same" else tot - tot // 2
            pb.append(lo), pa.append(tot - lo)
        else:
            pb.append(pad[2 * d]), pa.append(pad[2 * d + 1])
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pb[d], pa[d]) for d in range(ns)])
    N, Cin = x.shape[:2]
    Cout = w.shape[0]
    outs = [(xp.shape[2 + d] - ((k[d] - 1) * dil[d] + 1)) // stride[d] + 1 for d in range(ns)]
    y = np.zeros((N, Cout) + tuple(outs), np.float64)
    cg, og = Cin // groups, Cout // groups
    for oc in range(Cout):
        g = oc // og
        for pos in np.ndindex(*outs):
            acc = np.zeros(N)
            for kp in np.ndindex(*k):
                idx = tuple(pos[d] * stride[d] + kp[d] * dil[d] for d in range(ns))
                sl = (slice(None), slice(g * cg, (g + 1) * cg)) + idx
                acc += (xp[sl] * w[(oc, slice(None)) + kp]).sum(1)
            y[(slice(None), oc) + pos] = acc + b[oc]
    return y


def shape_cases(tmp):
    for dt in (F16, F32, np.int32):
        n = MILT[np.dtype(dt)]
        x = (RNG.uniform(-5, 5, (2, 3, 4))).astype(dt)
        p = Prog({"x": x})
        want = x.reshape(2, 6, 2)
        run("reshape_0_-1_%s" % n, p, {p.op("reshape", want, x="x", shape=lit(np.array([0, -1, 2], np.int32))): want}, tmp)
        p = Prog({"x": x})
        want = x.reshape(4, 6)
        run("reshape_-1_%s" % n, p, {p.op("reshape", want, x="x", shape=lit(np.array([-1, 6], np.int32))): want}, tmp)
        p = Prog({"x": x})
        want = np.transpose(x, (2, 0, 1))
        run("transpose_negperm_%s" % n, p,
            {p.op("transpose", want, x="x", perm=lit(np.array([-1, 0, -2], np.int32))): want}, tmp)
        # reshape → transpose chain (a view feeding a copy)
        p = Prog({"x": x})
        r = p.op("reshape", x.reshape(6, 4), x="x", shape=lit(np.array([6, 4], np.int32)))
        want = x.reshape(6, 4).T
        run("reshape_then_transpose_%s" % n, p, {p.op("transpose", want, x=r, perm=lit(np.array([1, 0], np.int32))): want}, tmp)
    x = rnd((1, 3, 1, 2), F16)
    p = Prog({"x": x})
    run("squeeze_all", p, {p.op("squeeze", x.reshape(3, 2), x="x"): x.reshape(3, 2)}, tmp)
    p = Prog({"x": x})
    run("squeeze_axes_ignores_non1", p,
        {p.op("squeeze", x.reshape(1, 3, 2), x="x", axes=lit(np.array([2, 1], np.int32))): x.reshape(1, 3, 2)}, tmp)
    p = Prog({"x": x})
    want = x.reshape(1, 3, 1, 2, 1)[None]
    run("expand_dims_neg", p, {p.op("expand_dims", want, x="x", axes=lit(np.array([0, -1], np.int32))): want}, tmp)
    for dt in (F16, F32):
        n = MILT[np.dtype(dt)]
        a, b = rnd((2, 3, 2), dt), rnd((2, 1, 2), dt)
        p = Prog({"a": a, "b": b})
        want = np.concatenate([a, b, a], 1)
        run("concat_%s" % n, p, {p.op("concat", want, values="(a, b, a)", axis=lit(np.array(-2, np.int32)),
                                      interleave=lit(np.array(False))): want}, tmp)
        c = rnd((2, 3, 2), dt)
        p = Prog({"a": a, "c": c})
        want = np.stack([a, c], 3).reshape(2, 3, 4)  # slices taken round-robin along axis 2
        run("concat_interleave_%s" % n, p, {p.op("concat", want, values="(a, c)", axis=lit(np.array(2, np.int32)),
                                                 interleave=lit(np.array(True))): want}, tmp)
        x = rnd((2, 6, 3), dt)
        p = Prog({"x": x})
        parts = np.split(x, [1, 4], 1)
        names = ["s1", "s2", "s3"]
        p.lines.append("%s s1, %s s2, %s s3 = split(axis = int32(1), split_sizes = %s, x = x)[name = string(\"sp\")];"
                       % (ty(parts[0]), ty(parts[1]), ty(parts[2]), lit(np.array([1, 3, 2], np.int32))))
        run("split_sizes_%s" % n, p, dict(zip(names, parts)), tmp)
        p = Prog({"x": x})
        parts = np.split(x, 3, 1)
        p.lines.append("%s s1, %s s2, %s s3 = split(axis = int32(-2), num_splits = int32(3), x = x)[name = string(\"sp\")];"
                       % (ty(parts[0]), ty(parts[1]), ty(parts[2])))
        run("split_num_%s" % n, p, dict(zip(names, parts)), tmp)
        x = rnd((2, 1, 3), dt)
        p = Prog({"x": x})
        want = np.tile(x, (2, 3, 1))
        run("tile_%s" % n, p, {p.op("tile", want, x="x", reps=lit(np.array([2, 3, 1], np.int32))): want}, tmp)
        x = rnd((2, 3, 4), dt)
        for mode, npmode in [("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge")]:
            p = Prog({"x": x})
            kw = {"constant_values": 1.5} if mode == "constant" else {}
            want = np.pad(x, [(0, 0), (1, 2), (2, 1)], mode=npmode, **kw).astype(dt)
            args = dict(x="x", pad=lit(np.array([1, 2, 2, 1], np.int32)), mode=S(mode))
            if mode == "constant":
                args["constant_val"] = lit(np.array(1.5, dt))
            run("pad_%s_%s" % (mode, n), p, {p.op("pad", want, **args): want}, tmp)
        x = rnd((2, 5, 5), dt)
        for lo, up in [(-1, 0), (1, 2), (0, -1)]:
            m, nn = np.indices((5, 5))
            keep = ((lo < 0) | (m - nn <= lo)) & ((up < 0) | (nn - m <= up))
            want = np.where(keep, x, 0).astype(dt)
            p = Prog({"x": x})
            run("band_part_%d_%d_%s" % (lo, up, n), p,
                {p.op("band_part", want, x="x", lower=lit(np.array(lo, np.int32)), upper=lit(np.array(up, np.int32))): want}, tmp)
        p = Prog({"x": x})
        want = np.full((2, 3), 0.75, dt)
        run("fill_%s" % n, p, {p.op("fill", want, shape=lit(np.array([2, 3], np.int32)), value=lit(np.array(0.75, dt))): want}, tmp)
        p = Prog({"x": x})
        want = np.arange(1.0, 4.0, 0.5).astype(dt)
        run("range_1d_%s" % n, p, {p.op("range_1d", want, end=lit(np.array(4.0, dt)), start=lit(np.array(1.0, dt)),
                                        step=lit(np.array(0.5, dt))): want}, tmp)
    x = rnd((2, 5, 5), F16)
    p = Prog({"x": x})
    want = np.arange(10, -3, -4).astype(np.int32)
    run("range_1d_int32_negstep", p, {p.op("range_1d", want, end=lit(np.array(-3, np.int32)), start=lit(np.array(10, np.int32)),
                                           step=lit(np.array(-4, np.int32))): want}, tmp)
    p = Prog({"x": x})
    want = np.array([2, 5, 5], np.int32)
    run("shape", p, {p.op("shape", want, x="x"): want}, tmp)
    # runtime shape for fill (from shape of an input) and a shape-driven reshape
    p = Prog({"x": x})
    s = p.op("shape", np.array([2, 5, 5], np.int32), x="x")
    want = np.zeros((2, 5, 5), F16)
    run("fill_from_shape", p, {p.op("fill", want, shape=s, value=lit(np.array(0.0, F16))): want}, tmp)


def slice_cases(tmp):
    for dt in (F16, F32, np.int32):
        n = MILT[np.dtype(dt)]
        x = np.arange(2 * 5 * 6).reshape(2, 5, 6).astype(dt)
        for b, e, s, bm, em, sm, want in [
            ([0, 1, 0], [2, 4, 6], None, None, None, None, x[0:2, 1:4, 0:6]),
            ([0, -2, 5], [1, 0, 0], [1, 1, -2], [False, False, False], [True, True, False], None, x[0:, -2:, 5:0:-2]),
            ([1, 0, -1], [0, 3, 0], [1, 2, -1], None, [False, False, True], [True, False, False], x[1, 0:3:2, -1::-1]),
            ([0, 9, 1], [2, 10, 3], None, None, None, None, x[0:2, 9:10, 1:3]),  # empty
            ([-10, 0, 0], [10, 5, 6], [1, 1, 3], None, None, None, x[-10:10, :, ::3]),
        ]:
            p = Prog({"x": x})
            args = dict(x="x", begin=lit(np.array(b, np.int32)), end=lit(np.array(e, np.int32)))
            if s is not None:
                args["stride"] = lit(np.array(s, np.int32))
            if bm is not None:
                args["begin_mask"] = lit(np.array(bm))
            if em is not None:
                args["end_mask"] = lit(np.array(em))
            if sm is not None:
                args["squeeze_mask"] = lit(np.array(sm))
            want = np.ascontiguousarray(want)
            run("slice_by_index_%s_%s_%s" % (n, "_".join(map(str, b)), "_".join(map(str, e))), p,
                {p.op("slice_by_index", want, **args): want}, tmp)
        p = Prog({"x": x})
        want = x[1:2, 2:5, 1:]
        run("slice_by_size_%s" % n, p, {p.op("slice_by_size", want, x="x", begin=lit(np.array([-1, 2, 1], np.int32)),
                                             size=lit(np.array([1, -1, -1], np.int32))): want}, tmp)
        # slice_update with a runtime begin/end computed from an input (the KV-cache write)
        u = (np.arange(2 * 1 * 6).reshape(2, 1, 6) + 100).astype(dt)
        pos = np.array([3], np.int32)
        p = Prog({"x": x, "u": u, "pos": pos})
        bgn = p.op("concat", ("int32", [3]), values="(%s, pos, %s)" % (lit(np.array([0], np.int32)), lit(np.array([0], np.int32))),
                   axis=lit(np.array(0, np.int32)), interleave=lit(np.array(False)))
        pe = p.op("add", ("int32", [1]), x="pos", y=lit(np.array([1], np.int32)))
        end = p.op("concat", ("int32", [3]), values="(%s, %s, %s)" % (lit(np.array([2], np.int32)), pe, lit(np.array([6], np.int32))),
                   axis=lit(np.array(0, np.int32)), interleave=lit(np.array(False)))
        want = x.copy()
        want[:, 3:4, :] = u
        run("slice_update_runtime_%s" % n, p, {p.op("slice_update", want, x="x", update="u", begin=bgn, end=end): want}, tmp)
        # strided, squeezed update; and a runtime slice_by_index read of the same place
        u2 = (np.arange(3) + 50).astype(dt)
        p = Prog({"x": x, "u": u2})
        want = x.copy()
        want[1, 0:5:2, 4] = u2
        run("slice_update_stride_squeeze_%s" % n, p, {p.op(
            "slice_update", want, x="x", update="u", begin=lit(np.array([1, 0, 4], np.int32)),
            end=lit(np.array([2, 5, 5], np.int32)), stride=lit(np.array([1, 2, 1], np.int32)),
            squeeze_mask=lit(np.array([True, False, True]))): want}, tmp)
        p = Prog({"x": x, "pos": pos})
        pe = p.op("add", ("int32", [1]), x="pos", y=lit(np.array([2], np.int32)))
        bgn = p.op("concat", ("int32", [3]), values="(%s, pos, %s)" % (lit(np.array([0], np.int32)), lit(np.array([0], np.int32))),
                   axis=lit(np.array(0, np.int32)), interleave=lit(np.array(False)))
        end = p.op("concat", ("int32", [3]), values="(%s, %s, %s)" % (lit(np.array([2], np.int32)), pe, lit(np.array([6], np.int32))),
                   axis=lit(np.array(0, np.int32)), interleave=lit(np.array(False)))
        want = np.ascontiguousarray(x[:, 3:5, :])
        run("slice_by_index_runtime_%s" % n, p, {p.op("slice_by_index", want, x="x", begin=bgn, end=end): want}, tmp)
        # gather: axis, negative and out-of-range indices by opset
        idx = np.array([[4, 0], [-1, 2]], np.int32)
        for opset in ("ios16", "ios18"):
            p = Prog({"x": x, "i": idx}, opset=opset)
            ii = idx.copy()
            if opset == "ios16":
                want = np.take(x, ii, axis=1)
            else:  # iOS17+: a negative index is out of bounds; this engine gives zeros
                want = np.take(x, np.where(ii < 0, 0, ii), axis=1)
                want[:, 1, 0] = 0
            run("gather_axis1_%s_%s" % (opset, n), p,
                {p.op("gather", want, x="x", indices="i", axis=lit(np.array(1, np.int32))): want}, tmp)
        idx16 = np.array([5, 1], np.uint16)
        p = Prog({"x": x.reshape(10, 6), "i": idx16})
        want = x.reshape(10, 6)[[5, 1]]
        run("gather_uint16_%s" % n, p, {p.op("gather", want, x="x", indices="i"): want}, tmp)
        bi = np.array([[1, 0, 4], [2, 2, 3]], np.int32)
        p = Prog({"x": x, "i": bi})
        want = np.stack([x[b][:, bi[b]] for b in range(2)])
        run("gather_batch_dims_%s" % n, p, {p.op("gather", want, x="x", indices="i", axis=lit(np.array(2, np.int32)),
                                                batch_dims=lit(np.array(1, np.int32))): want}, tmp)
        gi = RNG.integers(0, 5, (2, 3, 6)).astype(np.int32)
        p = Prog({"x": x, "i": gi})
        want = np.take_along_axis(x, gi, axis=1)
        run("gather_along_axis_%s" % n, p, {p.op("gather_along_axis", want, x="x", indices="i", axis=lit(np.array(-2, np.int32))): want}, tmp)


def pack_bits(vals, bits):
    out = bytearray((len(vals) * bits + 7) // 8)
    for i, v in enumerate(vals):
        for k in range(bits):
            if (v >> k) & 1:
                out[(i * bits + k) // 8] |= 1 << ((i * bits + k) % 8)
    return np.frombuffer(bytes(out), np.uint8)


def const_cases(tmp):
    # iOS18 LUT: per-grouped-channel scalar palettes, uint1..uint8 incl. straddling uint3/uint6
    for bits in (1, 2, 3, 4, 6, 8):
        for dt in (F16, F32):
            shape = (8, 6)
            idx = RNG.integers(0, 1 << bits, shape)
            lut = rnd((4, 1, 1 << bits, 1), dt)
            want = np.empty(shape, dt)
            for o in range(8):
                want[o] = lut[o // 2, 0, idx[o], 0]
            p = Prog({"x": np.zeros((1,), F16)})
            o = p.op("constexpr_lut_to_dense", want, indices="tensor<uint%d, [8, 6]>([%s])" % (bits, ", ".join(map(str, idx.reshape(-1)))),
                     lut=lit(lut))
            run("lut18_uint%d_%s" % (bits, MILT[np.dtype(dt)]), p, {o: want}, tmp)
    # vector LUT along axis 1 with blocks on both axes
    idx = RNG.integers(0, 4, (4, 3))
    lut = rnd((2, 3, 4, 2), F16)
    want = np.empty((4, 6), F16)
    for i in range(4):
        for j in range(3):
            for v in range(2):
                want[i, j * 2 + v] = lut[i // 2, j, idx[i, j], v]
    p = Prog({"x": np.zeros((1,), F16)})
    o = p.op("constexpr_lut_to_dense", want, indices="tensor<uint2, [4, 3]>([%s])" % ", ".join(map(str, idx.reshape(-1))),
             lut=lit(lut), vector_axis=lit(np.array(1, np.int32)))
    run("lut18_vector_axis1", p, {o: want}, tmp)
    # iOS16 attribute form: packed uint8 indices, per-tensor lut, shape
    for bits in (3, 6):
        vals = RNG.integers(0, 1 << bits, 10)
        lut = rnd((1 << bits,), F16)
        want = lut[vals].reshape(2, 5)
        p = Prog({"x": np.zeros((1,), F16)}, opset="ios16")
        p.lines.append('%s w = constexpr_lut_to_dense()[indices = %s, lut = %s, name = string("w"), shape = %s];'
                       % (ty(want), lit(pack_bits(vals.tolist(), bits)), lit(lut), lit(np.array([2, 5], np.uint32), "uint32")))
        run("lut16_uint%d" % bits, p, {"w": want}, tmp)
    # affine dequantize (attribute form) with a per-axis scale and zero point
    q = RNG.integers(0, 255, (3, 4)).astype(np.uint8)
    zp = np.array([128, 100, 3], np.uint8)
    sc = np.array([0.5, 0.25, 2.0], F32)
    want = (sc[:, None] * (q.astype(F32) - zp[:, None].astype(F32))).astype(F32)
    p = Prog({"x": np.zeros((1,), F16)}, opset="ios16")
    p.lines.append('%s w = constexpr_affine_dequantize()[axis = int32(0), name = string("w"), quantized_data = %s, scale = %s, zero_point = %s];'
                   % (ty(want), lit(q), lit(sc), lit(zp)))
    run("affine_dequantize_axis0", p, {"w": want}, tmp)
    # blockwise shift/scale with int4 data and an int4 offset, blocks of 2 along axis 1
    d = RNG.integers(-8, 8, (2, 4))
    sc = rnd((2, 2), F16, 0.1, 1.0)
    off = RNG.integers(-8, 8, (2, 2))
    want = np.empty((2, 4), F16)
    for i in range(2):
        for j in range(4):
            want[i, j] = F32(sc[i, j // 2]) * F32(d[i, j] - off[i, j // 2])
    p = Prog({"x": np.zeros((1,), F16)})
    o = p.op("constexpr_blockwise_shift_scale", want, data="tensor<int4, [2, 4]>([%s])" % ", ".join(map(str, d.reshape(-1))),
             scale=lit(sc), offset="tensor<int4, [2, 2]>([%s])" % ", ".join(map(str, off.reshape(-1))))
    run("blockwise_shift_scale_int4", p, {o: want}, tmp)
    # LUT → shift/scale chain, then used by a conv (a folded weight feeding a kernel)
    idx = RNG.integers(0, 16, (4, 3, 1, 1))
    lut = rnd((2, 1, 1, 1, 16, 1), F16)
    w = np.empty((4, 3, 1, 1), F16)
    for o_ in range(4):
        w[o_] = lut[o_ // 2, 0, 0, 0, idx[o_], 0]
    sc = rnd((4, 1, 1, 1), F16, 0.5, 1.5)
    w2 = (w.astype(F32) * sc.astype(F32)).astype(F16)
    x = rnd((1, 3, 1, 5), F16)
    want = f16r(np.einsum("oc,ncs->nos", w2[:, :, 0, 0].astype(F32), x[:, :, 0, :].astype(F32))[:, :, None, :], F16)
    p = Prog({"x": x})
    lw = p.op("constexpr_lut_to_dense", w, indices="tensor<uint4, [4, 3, 1, 1]>([%s])" % ", ".join(map(str, idx.reshape(-1))), lut=lit(lut))
    sw = p.op("constexpr_blockwise_shift_scale", w2, data=lw, scale=lit(sc))
    run("lut_then_shift_scale_conv", p, {p.op("conv", want, x="x", weight=sw): want}, tmp)
    src = rnd((2, 3), F16)
    p = Prog({"x": np.zeros((1,), F16)})
    want = src.astype(F32)
    run("constexpr_cast", p, {p.op("constexpr_cast", want, source_val=lit(src), output_dtype=S("fp32")): want}, tmp)


def error_cases(tmp):
    p = Prog({"x": np.zeros((2,), F32)})
    p.lines.append('tensor<fp32, [2]> y = frobnicate(x = x)[name = string("y")];')
    run("unknown_op_is_a_load_error", p, {"y": np.zeros(2, F32)}, tmp,
        expect_error="op 'frobnicate'")
    p = Prog({"x": np.zeros((2, 3), F32)})
    p.lines.append('tensor<fp32, [2, 4]> y = add(x = x, y = x)[name = string("y")];')
    run("declared_shape_mismatch_is_an_error", p, {"y": np.zeros((2, 4), F32)}, tmp,
        expect_error="differs from the declared")


def output_count_cases(tmp):
    p = Prog({"x": np.zeros((2,), F32)})
    p.lines.append('relu(x = x)[name = string("r")];')
    p.lines.append('tensor<fp32, [2]> y = relu(x = x)[name = string("y")];')
    run("op_without_output_is_a_load_error", p, {"y": np.zeros(2, F32)}, tmp, expect_error="has 0 outputs")


def runtime_error_cases(tmp):
    # a write position past the end is an error at predict time, never a wild write
    x = np.zeros((2, 5, 6), F16)
    u = np.ones((2, 1, 6), F16)
    p = Prog({"x": x, "u": u, "pos": np.array([10], np.int32)})
    bgn = p.op("concat", ("int32", [3]), values="(%s, pos, %s)" % (lit(np.array([0], np.int32)), lit(np.array([0], np.int32))),
               axis=lit(np.array(0, np.int32)), interleave=lit(np.array(False)))
    pe = p.op("add", ("int32", [1]), x="pos", y=lit(np.array([1], np.int32)))
    end = p.op("concat", ("int32", [3]), values="(%s, %s, %s)" % (lit(np.array([2], np.int32)), pe, lit(np.array([6], np.int32))),
               axis=lit(np.array(0, np.int32)), interleave=lit(np.array(False)))
    o = p.op("slice_update", x, x="x", update="u", begin=bgn, end=end)
    run("slice_update_out_of_range_is_a_predict_error", p, {o: x}, tmp, expect_error="update has 12 elements, the slice 0")


def main():
    if not os.access(BIN, os.X_OK):
        print("SKIP mil_ops: %s not built" % BIN)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cases(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
