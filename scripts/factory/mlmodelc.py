"""Write a compiled-style .mlmodelc directory from a saved .mlpackage.

model.mil is printed from the package's protobuf program in Apple's
program(1.3) text grammar (docs/COREML-FORMAT.md section 4), the way coremlc
prints the same constructs in the real samples under
shared/data/coreml-samples; weights/weight.bin is the package's weight file
(same offsets); metadata.json follows Apple's layout (section 1.2).
"""

import hashlib
import json
import os
import shutil
import struct

import numpy as np
from coremltools.proto import Model_pb2, MIL_pb2

DT = MIL_pb2.DataType
DTYPE_NAMES = {
    DT.BOOL: "bool", DT.STRING: "string", DT.FLOAT16: "fp16", DT.FLOAT32: "fp32",
    DT.FLOAT64: "fp64", DT.BFLOAT16: "bf16", DT.INT8: "int8", DT.INT16: "int16",
    DT.INT32: "int32", DT.INT64: "int64", DT.INT4: "int4", DT.UINT8: "uint8",
    DT.UINT16: "uint16", DT.UINT32: "uint32", DT.UINT64: "uint64", DT.UINT4: "uint4",
    DT.UINT2: "uint2", DT.UINT1: "uint1", DT.UINT6: "uint6", DT.UINT3: "uint3",
}
SUBBYTE = {DT.UINT1: 1, DT.UINT2: 2, DT.UINT3: 3, DT.UINT4: 4, DT.UINT6: 6, DT.INT4: 4}


# ---------------------------------------------------------------------------
# literals
# ---------------------------------------------------------------------------

def hexfloat(v):
    """C99 printf("%a") of a double: 0x1.8p+1, -0x1p+0, 0x0p+0, inf, nan."""
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if v == 0.0:
        return "-0x0p+0" if np.signbit(v) else "0x0p+0"
    h = v.hex()  # e.g. '-0x1.8000000000000p+1'
    sign = "-" if h.startswith("-") else ""
    h = h.lstrip("-")[2:]
    mant, exp = h.split("p")
    if "." in mant:
        ip, fp = mant.split(".")
        fp = fp.rstrip("0")
        mant = ip + ("." + fp if fp else "")
    e = int(exp)
    return "%s0x%sp%s%d" % (sign, mant, "+" if e >= 0 else "-", abs(e))


def type_str(vt):
    """ValueType -> text type."""
    k = vt.WhichOneof("type")
    if k == "tensorType":
        t = vt.tensorType
        dt = DTYPE_NAMES[t.dataType]
        if t.rank == 0:
            return dt
        dims = []
        for d in t.dimensions:
            dims.append(str(d.constant.size) if d.WhichOneof("dimension") == "constant" else "?")
        return "tensor<%s, [%s]>" % (dt, ", ".join(dims))
    if k == "stateType":
        return "state<%s>" % type_str(vt.stateType.wrappedType)
    if k == "dictionaryType":
        return "dict<%s, %s>" % (type_str(vt.dictionaryType.keyType),
                                 type_str(vt.dictionaryType.valueType))
    if k == "listType":
        return "list<%s, ?>" % type_str(vt.listType.type)
    if k == "tupleType":
        return "tuple<%s>" % ", ".join(type_str(t) for t in vt.tupleType.types)
    raise ValueError("type %s" % k)


def _shape(vt):
    return [d.constant.size for d in vt.tensorType.dimensions]


def _scalar_str(dt, v):
    if dt in (DT.FLOAT16, DT.FLOAT32, DT.FLOAT64, DT.BFLOAT16):
        return hexfloat(v)
    if dt == DT.BOOL:
        return "true" if v else "false"
    if dt == DT.STRING:
        return '"%s"' % v
    return str(int(v))


def _tensor_values(vt, tv):
    """Flat python list of the immediate tensor's values."""
    t = vt.tensorType
    dt = t.dataType
    k = tv.WhichOneof("value")
    if k == "floats":
        return list(tv.floats.values)
    if k == "ints":
        return list(tv.ints.values)
    if k == "bools":
        return list(tv.bools.values)
    if k == "strings":
        return list(tv.strings.values)
    if k == "longInts":
        return list(tv.longInts.values)
    if k == "doubles":
        return list(tv.doubles.values)
    if k == "bytes":
        raw = tv.bytes.values
        if dt == DT.FLOAT16:
            return [float(x) for x in np.frombuffer(raw, dtype="<f2")]
        if dt in SUBBYTE:
            bits = SUBBYTE[dt]
            n = int(np.prod(_shape(vt))) if t.rank else 1
            b = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
            b = b[: n * bits].reshape(n, bits).astype(np.int64)
            vals = (b << np.arange(bits)).sum(axis=1)
            if dt == DT.INT4:
                vals = np.where(vals >= 8, vals - 16, vals)
            return [int(x) for x in vals]
        npdt = {DT.INT8: "i1", DT.UINT8: "u1", DT.INT16: "<i2", DT.UINT16: "<u2",
                DT.INT32: "<i4", DT.UINT32: "<u4"}[dt]
        return [int(x) for x in np.frombuffer(raw, dtype=npdt)]
    if k is None:
        return []
    raise ValueError(k)


def _nest(vals, shape, dt):
    if not shape:
        return _scalar_str(dt, vals[0])
    if len(shape) == 1:
        return "[" + ", ".join(_scalar_str(dt, v) for v in vals) + "]"
    step = int(np.prod(shape[1:]))
    parts = [_nest(vals[i * step:(i + 1) * step], shape[1:], dt) for i in range(shape[0])]
    return "[" + ", ".join(parts) + "]"


def value_str(v):
    """Value -> typed literal text."""
    ts = type_str(v.type)
    k = v.WhichOneof("value")
    if k == "blobFileValue":
        b = v.blobFileValue
        return '%s(BLOBFILE(path = string("%s"), offset = uint64(%d)))' % (ts, b.fileName, b.offset)
    iv = v.immediateValue
    ik = iv.WhichOneof("value")
    if ik == "tensor":
        t = v.type.tensorType
        vals = _tensor_values(v.type, iv.tensor)
        if t.rank == 0:
            return "%s(%s)" % (ts, _scalar_str(t.dataType, vals[0]))
        return "%s(%s)" % (ts, _nest(vals, _shape(v.type), t.dataType))
    if ik == "dictionary":
        items = []
        for kv in iv.dictionary.values:
            items.append("{%s, %s}" % (_bare(kv.key), _bare(kv.value)))
        return "%s({%s})" % (ts, ", ".join(items))
    raise ValueError("value kind %s/%s" % (k, ik))


def _bare(v):
    """A literal without its type prefix (used inside dict literals)."""
    t = v.type.tensorType
    vals = _tensor_values(v.type, v.immediateValue.tensor)
    if t.rank == 0:
        return _scalar_str(t.dataType, vals[0])
    return _nest(vals, _shape(v.type), t.dataType)


# ---------------------------------------------------------------------------
# program text
# ---------------------------------------------------------------------------

def _arg_str(arg):
    parts = []
    for b in arg.arguments:
        if b.WhichOneof("binding") == "name":
            parts.append(b.name)
        else:
            parts.append(value_str(b.value))
    if len(parts) == 1:
        return parts[0]
    return "(" + ", ".join(parts) + ")"


def op_str(op):
    outs = ", ".join("%s %s" % (type_str(o.type), o.name) for o in op.outputs)
    args = ", ".join("%s = %s" % (k, _arg_str(op.inputs[k])) for k in sorted(op.inputs))
    attrs = ", ".join("%s = %s" % (k, value_str(op.attributes[k])) for k in sorted(op.attributes))
    s = "%s(%s)" % (op.type, args)
    if attrs:
        s += "[%s]" % attrs
    if outs:
        s = "%s = %s" % (outs, s)
    return s + ";"


def flexible_attr(inputs_desc):
    """FlexibleShapeInformation function attribute for enumerated inputs,
    built from the model description (as coremlc does)."""
    default, enum = [], []
    flex = False
    for fd in inputs_desc:
        if fd.type.WhichOneof("Type") != "multiArrayType":
            continue
        a = fd.type.multiArrayType
        if a.WhichOneof("ShapeFlexibility") != "enumeratedShapes":
            continue
        flex = True
        default.append('{"%s", [%s]}' % (fd.name, ", ".join(str(x) for x in a.shape)))
        for s in a.enumeratedShapes.shapes:
            dims = [int(x) for x in s.shape]
            key = hashlib.sha256(("%s:%s" % (fd.name, dims)).encode()).hexdigest()[:8]
            enum.append((key, '{"%s", [%s]}' % (fd.name, ", ".join(str(x) for x in dims))))
    if not flex:
        return ""
    es = ", ".join('{"%s", {%s}}' % (k, v) for k, v in enum)
    ty = ("tuple<tuple<string, dict<string, tensor<int32, [?]>>>, "
          "tuple<string, dict<string, dict<string, tensor<int32, [?]>>>>>")
    return ' [FlexibleShapeInformation = %s((("DefaultShapes", {%s}), ("EnumeratedShapes", {%s})))]' % (
        ty, ", ".join(default), es)


def program_text(spec, func_attrs=None):
    """func_attrs: optional {function: raw attribute text} to print instead
    of the FlexibleShapeInformation derived from the model description."""
    prog = spec.mlProgram
    lines = ["program(1.3)"]
    bi = prog.attributes.get("buildInfo") if "buildInfo" in prog.attributes else None
    if bi is not None:
        pairs = []
        for kv in bi.immediateValue.dictionary.values:
            pairs.append((kv.key.immediateValue.tensor.strings.values[0],
                          kv.value.immediateValue.tensor.strings.values[0]))
        pairs.sort()
        lines.append("[buildInfo = dict<string, string>({%s})]" % ", ".join(
            '{"%s", "%s"}' % p for p in pairs))
    lines.append("{")
    desc = spec.description
    fdescs = {f.name: f for f in desc.functions}
    for fname in sorted(prog.functions):
        f = prog.functions[fname]
        opset = f.opset
        blk = f.block_specializations[opset]
        params = ", ".join("%s %s" % (type_str(i.type), i.name) for i in f.inputs)
        ins = fdescs[fname].input if fname in fdescs else desc.input
        osname = {"CoreML5": "ios15", "CoreML6": "ios16", "CoreML7": "ios17",
                  "CoreML8": "ios18", "CoreML9": "ios26"}[opset]
        if func_attrs is not None:
            fa = (" " + func_attrs[fname]) if fname in func_attrs else ""
        else:
            fa = flexible_attr(ins)
        lines.append("    func %s<%s>(%s)%s {" % (fname, osname, params, fa))
        for op in blk.operations:
            lines.append("            " + op_str(op))
        lines.append("        } -> (%s);" % ", ".join(blk.outputs))
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# metadata.json
# ---------------------------------------------------------------------------

ARRAY_DT = {65552: "Float16", 65568: "Float32", 65600: "Double", 131104: "Int32", 131080: "Int8"}


def _feature(fd):
    t = fd.type
    kind = t.WhichOneof("Type")
    if kind == "stateType":
        a = t.stateType.arrayType
        dims = [int(x) for x in a.shape]
        dt = ARRAY_DT[a.dataType]
        return dict([("hasShapeFlexibility", "0"), ("isOptional", "0"), ("dataType", dt),
                     ("formattedType", "State (%s %s)" % (dt, " \u00d7 ".join(map(str, dims)))),
                     ("shortDescription", fd.shortDescription), ("shape", str(dims)),
                     ("name", fd.name), ("type", "State")])
    a = t.multiArrayType
    dims = [int(x) for x in a.shape]
    dt = ARRAY_DT[a.dataType]
    fmt = ("MultiArray (%s %s)" % (dt, " \u00d7 ".join(map(str, dims)))) if dims else (
        "MultiArray (%s)" % dt)
    d = [("hasShapeFlexibility", "0"), ("isOptional", "1" if t.isOptional else "0"),
         ("dataType", dt), ("formattedType", fmt),
         ("shortDescription", fd.shortDescription), ("shape", str(dims)),
         ("name", fd.name), ("type", "MultiArray")]
    d = dict(d)
    if a.WhichOneof("ShapeFlexibility") == "enumeratedShapes":
        shapes = [[int(x) for x in s.shape] for s in a.enumeratedShapes.shapes]
        d["hasShapeFlexibility"] = "1"
        d["shapeFlexibility"] = " | ".join(" \u00d7 ".join(map(str, s)) for s in shapes)
        d["enumeratedShapes"] = str(shapes)
    return d


def _camel(op):
    parts = op.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _histogram(func):
    h = {}
    ver = {"CoreML5": "Ios15", "CoreML6": "Ios16", "CoreML7": "Ios17",
           "CoreML8": "Ios18", "CoreML9": "Ios26"}[func.opset]
    for op in func.block_specializations[func.opset].operations:
        if op.type == "const":
            continue
        k = "%s.%s" % (ver, _camel(op.type))
        h[k] = h.get(k, 0) + 1
    return dict(sorted(h.items()))


AVAILABILITY = {"macOS": "15.0", "tvOS": "18.0", "visionOS": "2.0", "watchOS": "11.0",
                "iOS": "18.0", "macCatalyst": "18.0"}


def metadata(spec, class_name):
    desc = spec.description
    prog = spec.mlProgram
    md = desc.metadata
    out = {"metadataOutputVersion": "3.0"}
    if desc.functions:
        funcs = []
        for f in desc.functions:
            funcs.append({
                "name": f.name,
                "computePrecision": "Mixed (Float16, Int16, Int32, UInt16)",
                "inputSchema": [_feature(x) for x in f.input],
                "outputSchema": [_feature(x) for x in f.output],
                "stateSchema": [_feature(x) for x in f.state],
                "mlProgramOperationTypeHistogram": _histogram(prog.functions[f.name]),
            })
        dflt = desc.defaultFunctionName
        dfd = [f for f in desc.functions if f.name == dflt][0]
        ins, outs, states = dfd.input, dfd.output, dfd.state
        out["functions"] = funcs
        out["defaultFunctionName"] = dflt
        hist = _histogram(prog.functions[dflt])
    else:
        ins, outs, states = desc.input, desc.output, desc.state
        hist = _histogram(prog.functions["main"])
    out["outputSchema"] = [_feature(x) for x in outs]
    out["modelParameters"] = []
    out["specificationVersion"] = spec.specificationVersion
    out["mlProgramOperationTypeHistogram"] = hist
    out["computePrecision"] = "Mixed (Float16, Int16, Int32, UInt16)"
    out["isUpdatable"] = "0"
    out["stateSchema"] = [_feature(x) for x in states]
    out["availability"] = dict(AVAILABILITY)
    out["modelType"] = {"name": "MLModelType_mlProgram"}
    if md.author:
        out["author"] = md.author
    if md.shortDescription:
        out["shortDescription"] = md.shortDescription
    if md.versionString:
        out["version"] = md.versionString
    out["userDefinedMetadata"] = dict(sorted(md.userDefined.items()))
    out["inputSchema"] = [_feature(x) for x in ins]
    out["generatedClassName"] = class_name
    out["method"] = "predict"
    return [out]


def apple_json(obj, indent=0):
    """JSON the way Apple's compiler writes metadata.json: 2-space indent,
    ' : ' separators, empty containers with a blank line inside."""
    pad = "  " * indent
    pad1 = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{\n\n%s}" % pad
        items = ['%s%s : %s' % (pad1, json.dumps(k, ensure_ascii=False), apple_json(v, indent + 1))
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if not obj:
            return "[\n\n%s]" % pad
        items = [pad1 + apple_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def coremldata(spec):
    """coremldata.bin as laid out in COREML-FORMAT.md 1.2 (header, serialized
    ModelDescription, one 16-byte trailer per function)."""
    payload = spec.description.SerializeToString(deterministic=True)
    hdr = bytearray(0x53)
    struct.pack_into("<I", hdr, 0, 502)
    struct.pack_into("<I", hdr, 4, spec.specificationVersion)
    struct.pack_into("<I", hdr, 0x1C, 7)
    hdr[0x24:0x2B] = b"generic"
    hdr[0x2B] = spec.specificationVersion
    struct.pack_into("<Q", hdr, 0x4B, len(payload))
    nfun = max(1, len(spec.description.functions))
    trailer = (struct.pack("<I", 502) + bytes(12)) * nfun
    return bytes(hdr) + payload + trailer


def write_mlmodelc(pkg, out):
    spec = Model_pb2.Model()
    with open(os.path.join(pkg, "Data", "com.apple.CoreML", "model.mlmodel"), "rb") as f:
        spec.ParseFromString(f.read())
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "weights"))
    with open(os.path.join(out, "model.mil"), "w") as f:
        f.write(program_text(spec))
    src = os.path.join(pkg, "Data", "com.apple.CoreML", "weights", "weight.bin")
    if os.path.exists(src):
        shutil.copyfile(src, os.path.join(out, "weights", "weight.bin"))
    name = os.path.basename(out).split(".")[0]
    with open(os.path.join(out, "metadata.json"), "w", encoding="utf-8") as f:
        f.write(apple_json(metadata(spec, name)))
    with open(os.path.join(out, "coremldata.bin"), "wb") as f:
        f.write(coremldata(spec))
    return spec
