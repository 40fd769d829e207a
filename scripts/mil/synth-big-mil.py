#!/usr/bin/env python3
"""Write a real-size model.mil for parser benchmarks: an ANEMLL-style FFN chunk with
N layers (default 28), functions `infer` and `prefill`, LUT-palettized conv weights as
inline BLOBFILE constexpr inputs, a KV-cache state, RMSNorm-by-layer_norm, rotary
embedding slices and attention written out by hand, in the program(1.3) grammar
(COREML-FORMAT.md section 4). No weight file is written: parsing does not need one.

usage: synth-big-mil.py OUT.mil [--layers N] [--hidden H]
"""
import argparse
import re

WPATH = '@model_path/weights/weight.bin'


class Writer:
    def __init__(self, out):
        self.out = out
        self.offset = 64
        self.n = 0

    def blob(self, dtype, shape, nbytes):
        off = self.offset
        self.offset += 64 + (nbytes + 63) // 64 * 64
        dims = ", ".join(str(d) for d in shape)
        return ('tensor<%s, [%s]>(BLOBFILE(path = string("%s"), offset = uint64(%d)))'
                % (dtype, dims, WPATH, off))

    def line(self, s):
        """Print an op; its inline literal arguments become const ops first (coremlc
        prints every parameter as its own named const)."""
        if "= const()" not in s and "BLOBFILE" not in s and "(" in s:
            head, _, rest = s.partition("(")
            lhs = head.split("=")[0].split()[-1] if "=" in head else "ws"
            def hoist(m):
                arg, typ, lit = m.group(1), m.group(2), m.group(3)
                self.n += 1
                name = "%s_%s_%d" % (lhs, arg, self.n)
                self.out.write('            %s %s = const()[name = string("%s"), val = %s(%s)];\n'
                               % (typ, name, name, typ, lit))
                return "%s = %s" % (arg, name)
            args, sep, attrs = rest.rpartition(")[")
            args = re.sub(r"(\w+) = ((?:tensor<[^>]*>)|(?:int32|fp16|bool|string))\(([^()]*)\)", hoist, args)
            s = head + "(" + args + sep + attrs
        self.out.write("            " + s + "\n")


def t(dtype, shape):
    return "tensor<%s, [%s]>" % (dtype, ", ".join(str(d) for d in shape))


def function(w, name, layers, hidden, batch, ctx, heads, hd, group):
    kvshape = [2 * layers, heads, ctx, hd]
    w.out.write("    func %s<ios18>(%s hidden_states, %s position_ids, %s causal_mask, "
                "%s current_pos, state<%s> model_model_kv_cache_0) {\n"
                % (name, t("fp16", [1, batch, hidden]), t("int32", [batch]),
                   t("fp16", [1, 1, batch, ctx]), t("int32", [1]), t("fp16", kvshape)))
    x = "hidden_states"
    w.line('int32 var_axis = const()[name = string("op_axis"), val = int32(-1)];')
    w.line('bool var_false = const()[name = string("op_false"), val = bool(false)];')
    w.line('fp16 var_eps = const()[name = string("op_eps"), val = fp16(0x1.5p-17)];')
    w.line('%s var_cos = const()[name = string("op_cos"), val = %s];'
           % (t("fp16", [ctx, hd]), w.blob("fp16", [ctx, hd], ctx * hd * 2)))
    for L in range(layers):
        p = "model_model_layers_%d_" % L
        w.line('%s %sneg = mul(x = %s, y = fp16(-0x1p+0))[name = string("%sneg")];'
               % (t("fp16", [1, batch, hidden]), p, x, p))
        w.line('%s %scat = concat(axis = var_axis, interleave = var_false, values = (%s, %sneg))[name = string("%scat")];'
               % (t("fp16", [1, batch, 2 * hidden]), p, x, p, p))
        w.line('%s %snorm = layer_norm(axes = tensor<int32, [1]>([-1]), epsilon = var_eps, x = %scat)[name = string("%snorm")];'
               % (t("fp16", [1, batch, 2 * hidden]), p, p, p))
        w.line('%s %shalf = slice_by_index(begin = tensor<int32, [3]>([0, 0, 0]), end = tensor<int32, [3]>([1, %d, %d]), end_mask = tensor<bool, [3]>([true, true, false]), x = %snorm)[name = string("%shalf")];'
               % (t("fp16", [1, batch, hidden]), p, batch, hidden, p, p))
        w.line('%s %sgamma = const()[name = string("%sgamma"), val = %s];'
               % (t("fp16", [hidden]), p, p, w.blob("fp16", [hidden], hidden * 2)))
        w.line('%s %sxn = mul(x = %shalf, y = %sgamma)[name = string("%sxn")];'
               % (t("fp16", [1, batch, hidden]), p, p, p, p))
        w.line('%s %sxt = transpose(perm = tensor<int32, [3]>([0, 2, 1]), x = %sxn)[name = string("%sxt")];'
               % (t("fp16", [1, hidden, batch]), p, p, p))
        w.line('%s %sx4 = expand_dims(axes = tensor<int32, [1]>([2]), x = %sxt)[name = string("%sx4")];'
               % (t("fp16", [1, hidden, 1, batch]), p, p, p))
        outs = {}
        for proj, cout in (("q", heads * hd), ("k", heads * hd), ("v", heads * hd), ("o", hidden),
                           ("gate", 4 * hidden), ("up", 4 * hidden), ("down", hidden)):
            cin = 4 * hidden if proj == "down" else hidden
            wname = "%s%s_w" % (p, proj)
            w.line('%s %s = constexpr_lut_to_dense(indices = %s, lut = %s)[name = string("%s")];'
                   % (t("fp16", [cout, cin, 1, 1]), wname,
                      w.blob("uint4", [cout, cin, 1, 1], cout * cin // 2),
                      w.blob("fp16", [cout // group, 1, 1, 1, 16, 1], cout // group * 32), wname))
            src = {"o": "%sattn4" % p, "down": "%sact" % p}.get(proj, "%sx4" % p)
            w.line('%s %s%s = conv(dilations = tensor<int32, [2]>([1, 1]), groups = int32(1), pad = tensor<int32, [4]>([0, 0, 0, 0]), pad_type = string("valid"), strides = tensor<int32, [2]>([1, 1]), weight = %s, x = %s)[name = string("%s%s")];'
                   % (t("fp16", [1, cout, 1, batch]), p, proj, wname, src, p, proj))
            outs[proj] = "%s%s" % (p, proj)
            if proj in ("q", "k"):
                r = "%s%s_rot_" % (p, proj)
                shp = t("fp16", [1, heads, batch, hd])
                w.line('%s %sr4 = reshape(shape = tensor<int32, [4]>([1, %d, %d, %d]), x = %s%s)[name = string("%sr4")];'
                       % (shp, r, heads, hd, batch, p, proj, r))
                w.line('%s %st = transpose(perm = tensor<int32, [4]>([0, 1, 3, 2]), x = %sr4)[name = string("%st")];'
                       % (shp, r, r, r))
                w.line('%s %sx1 = slice_by_index(begin = tensor<int32, [4]>([0, 0, 0, 0]), end = tensor<int32, [4]>([1, %d, %d, %d]), end_mask = tensor<bool, [4]>([true, true, true, false]), x = %st)[name = string("%sx1")];'
                       % (t("fp16", [1, heads, batch, hd // 2]), r, heads, batch, hd // 2, r, r))
                w.line('%s %sx2 = slice_by_index(begin = tensor<int32, [4]>([0, 0, 0, %d]), end = tensor<int32, [4]>([1, %d, %d, %d]), end_mask = tensor<bool, [4]>([true, true, true, true]), x = %st)[name = string("%sx2")];'
                       % (t("fp16", [1, heads, batch, hd // 2]), r, hd // 2, heads, batch, hd, r, r))
                w.line('%s %snx2 = mul(x = %sx2, y = fp16(-0x1p+0))[name = string("%snx2")];'
                       % (t("fp16", [1, heads, batch, hd // 2]), r, r, r))
                w.line('%s %srot = concat(axis = int32(-1), interleave = bool(false), values = (%snx2, %sx1))[name = string("%srot")];'
                       % (shp, r, r, r, r))
                w.line('%s %sc = mul(x = %st, y = var_cos)[name = string("%sc")];' % (shp, r, r, r))
                w.line('%s %ss = mul(x = %srot, y = var_cos)[name = string("%ss")];' % (shp, r, r, r))
                w.line('%s %sout = add(x = %sc, y = %ss)[name = string("%sout")];' % (shp, r, r, r, r))
                w.line('%s %scast = cast(dtype = string("fp32"), x = %sout)[name = string("%scast")];'
                       % (t("fp32", [1, heads, batch, hd]), r, r, r))
                w.line('%s %sback = cast(dtype = string("fp16"), x = %scast)[name = string("%sback")];'
                       % (shp, r, r, r))
            if proj == "v":
                w.line('%s %skv = read_state(input = model_model_kv_cache_0)[name = string("%skv")];'
                       % (t("fp16", kvshape), p, p))
                w.line('%s %sbegin = concat(axis = int32(0), interleave = bool(false), values = (tensor<int32, [1]>([%d]), tensor<int32, [1]>([0]), current_pos, tensor<int32, [1]>([0])))[name = string("%sbegin")];'
                       % (t("int32", [4]), p, L, p))
                w.line('%s %supd = slice_update(begin = %sbegin, end = %sbegin, end_mask = tensor<bool, [4]>([false, true, false, true]), update = %sk, x = %skv)[name = string("%supd")];'
                       % (t("fp16", kvshape), p, p, p, p, p, p))
                w.line('write_state(data = %supd, input = model_model_kv_cache_0)[name = string("%sws")];' % (p, p))
                w.line('%s %sscores = matmul(transpose_x = bool(false), transpose_y = bool(true), x = %sq, y = %sk)[name = string("%sscores")];'
                       % (t("fp16", [1, heads, batch, ctx]), p, p, p, p))
                w.line('%s %smasked = add(x = %sscores, y = causal_mask)[name = string("%smasked")];'
                       % (t("fp16", [1, heads, batch, ctx]), p, p, p))
                w.line('%s %smax = reduce_max(axes = tensor<int32, [1]>([-1]), keep_dims = bool(true), x = %smasked)[name = string("%smax")];'
                       % (t("fp16", [1, heads, batch, 1]), p, p, p))
                w.line('%s %sexp = exp(x = %smasked)[name = string("%sexp")];'
                       % (t("fp16", [1, heads, batch, ctx]), p, p, p))
                w.line('%s %ssum = reduce_sum(axes = tensor<int32, [1]>([-1]), keep_dims = bool(true), x = %sexp)[name = string("%ssum")];'
                       % (t("fp16", [1, heads, batch, 1]), p, p, p))
                w.line('%s %sprobs = real_div(x = %sexp, y = %ssum)[name = string("%sprobs")];'
                       % (t("fp16", [1, heads, batch, ctx]), p, p, p, p))
                w.line('%s %svt = tile(reps = tensor<int32, [4]>([1, 1, 1, 1]), x = %skv)[name = string("%svt")];'
                       % (t("fp16", kvshape), p, p, p))
                w.line('%s %sctx = matmul(transpose_x = bool(false), transpose_y = bool(false), x = %sprobs, y = %svt)[name = string("%sctx")];'
                       % (t("fp16", [1, heads, batch, hd]), p, p, p, p))
                w.line('%s %sattn4 = reshape(shape = tensor<int32, [4]>([1, %d, 1, %d]), x = %sv)[name = string("%sattn4")];'
                       % (t("fp16", [1, hidden, 1, batch]), p, hidden, batch, p, p))
            if proj == "up":
                w.line('%s %sact = mul(x = %sgate, y = %sup)[name = string("%sact")];'
                       % (t("fp16", [1, 4 * hidden, 1, batch]), p, p, p, p))
        w.line('%s %sres = reshape(shape = tensor<int32, [3]>([1, %d, %d]), x = %sdown)[name = string("%sres")];'
               % (t("fp16", [1, batch, hidden]), p, batch, hidden, p, p))
        w.line('%s %sout = add(x = %s, y = %sres)[name = string("%sout")];'
               % (t("fp16", [1, batch, hidden]), p, x, p, p))
        x = "%sout" % p
    w.line('%s output_hidden_states = identity(x = %s)[name = string("output")];'
           % (t("fp16", [1, batch, hidden]), x))
    w.out.write("        } -> (output_hidden_states);\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=28)
    ap.add_argument("--hidden", type=int, default=1024)
    a = ap.parse_args()
    heads, hd = 8, a.hidden // 8
    with open(a.out, "w") as f:
        w = Writer(f)
        f.write('program(1.3)\n[buildInfo = dict<string, string>({{"coremlc-version", "3600.25.1"}, '
                '{"coremltools-version", "9.0"}})]\n{\n')
        function(w, "infer", a.layers, a.hidden, 1, 512, heads, hd, 8)
        w.offset = 64  # prefill shares the weights
        function(w, "prefill", a.layers, a.hidden, 64, 512, heads, hd, 8)
        f.write("}\n")


if __name__ == "__main__":
    main()
