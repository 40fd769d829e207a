"""Parse program(1.3) model.mil text back into MIL protobuf messages.

Used by the checks: a round trip (parse, print again, compare bytes) over the
generated model.mil files and over Apple's samples proves the text writer
prints those constructs the same way, and the parsed program can be run by
mileval to check the compiled bundles semantically.
"""

import re
import struct

import numpy as np
from coremltools.proto import MIL_pb2

DT = MIL_pb2.DataType
NAMES = {v: k for k, v in {
    DT.BOOL: "bool", DT.STRING: "string", DT.FLOAT16: "fp16", DT.FLOAT32: "fp32",
    DT.FLOAT64: "fp64", DT.BFLOAT16: "bf16", DT.INT8: "int8", DT.INT16: "int16",
    DT.INT32: "int32", DT.INT64: "int64", DT.INT4: "int4", DT.UINT8: "uint8",
    DT.UINT16: "uint16", DT.UINT32: "uint32", DT.UINT64: "uint64", DT.UINT4: "uint4",
    DT.UINT2: "uint2", DT.UINT1: "uint1", DT.UINT6: "uint6", DT.UINT3: "uint3"}.items()}
OPSETS = {"ios15": "CoreML5", "ios16": "CoreML6", "ios17": "CoreML7", "ios18": "CoreML8",
          "ios26": "CoreML9"}

TOKEN = re.compile(r'\s*(?:(?P<str>"[^"]*")|(?P<num>-?(?:0x[0-9a-fA-F.]+p[+-]?\d+|inf\b|nan\b|\d+\.\d+|\d+))'
                   r'|(?P<id>[A-Za-z_][A-Za-z0-9_@.]*)|(?P<p>->|[()\[\]{}<>,=;?]))')


class Lexer:
    def __init__(self, text):
        self.toks = []
        pos = 0
        while True:
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip():
                    raise SyntaxError("at %r" % text[pos:pos + 40])
                break
            kind = m.lastgroup
            self.toks.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0
        self.text = text

    def peek(self, k=0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None, len(self.text))

    def next(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, v):
        t = self.next()
        if t[1] != v:
            raise SyntaxError("expected %r got %r at %d" % (v, t[1], t[2]))
        return t


def parse_type(lx, vt):
    k, v, _ = lx.next()
    if v == "tensor":
        lx.expect("<")
        dt = lx.next()[1]
        lx.expect(",")
        lx.expect("[")
        tt = vt.tensorType
        tt.dataType = NAMES[dt]
        dims = []
        while lx.peek()[1] != "]":
            d = lx.next()[1]
            dims.append(d)
            if lx.peek()[1] == ",":
                lx.next()
        lx.expect("]")
        lx.expect(">")
        tt.rank = len(dims)
        for d in dims:
            dd = tt.dimensions.add()
            if d == "?":
                dd.unknown.variadic = False
            else:
                dd.constant.size = int(d)
        return
    if v == "state":
        lx.expect("<")
        parse_type(lx, vt.stateType.wrappedType)
        lx.expect(">")
        return
    if v == "dict":
        lx.expect("<")
        parse_type(lx, vt.dictionaryType.keyType)
        lx.expect(",")
        parse_type(lx, vt.dictionaryType.valueType)
        lx.expect(">")
        return
    if v in NAMES:
        vt.tensorType.dataType = NAMES[v]
        vt.tensorType.rank = 0
        return
    raise SyntaxError("type %r" % v)


def _num(dt, s):
    if dt in (DT.FLOAT16, DT.FLOAT32, DT.FLOAT64):
        if s in ("inf", "-inf", "nan"):
            return float(s)
        return float.fromhex(s)
    return int(s)


def _flat(lx, out):
    k, v, _ = lx.next()
    if v == "[":
        while lx.peek()[1] != "]":
            _flat(lx, out)
            if lx.peek()[1] == ",":
                lx.next()
        lx.expect("]")
    else:
        out.append(v)


def parse_literal(lx, val):
    """TYPE(literal) -> Value."""
    parse_type(lx, val.type)
    lx.expect("(")
    if lx.peek()[1] == "BLOBFILE":
        lx.next()
        lx.expect("(")
        lx.expect("path")
        lx.expect("=")
        p = MIL_pb2.Value()
        parse_literal(lx, p)
        lx.expect(",")
        lx.expect("offset")
        lx.expect("=")
        o = MIL_pb2.Value()
        parse_literal(lx, o)
        lx.expect(")")
        val.blobFileValue.fileName = p.immediateValue.tensor.strings.values[0]
        val.blobFileValue.offset = o.immediateValue.tensor.longInts.values[0]
    elif val.type.WhichOneof("type") == "dictionaryType":
        lx.expect("{")
        while lx.peek()[1] != "}":
            lx.expect("{")
            kv = val.immediateValue.dictionary.values.add()
            _scalar_into(kv.key, val.type.dictionaryType.keyType, lx.next()[1])
            lx.expect(",")
            _scalar_into(kv.value, val.type.dictionaryType.valueType, lx.next()[1])
            lx.expect("}")
            if lx.peek()[1] == ",":
                lx.next()
        lx.expect("}")
    else:
        raw = []
        _flat(lx, raw)
        _fill(val, raw)
    lx.expect(")")


def _scalar_into(v, vt, s):
    v.type.CopyFrom(vt)
    _fill(v, [s])


def _fill(val, raw):
    t = val.type.tensorType
    dt = t.dataType
    tv = val.immediateValue.tensor
    if dt == DT.STRING:
        tv.strings.values.extend([r[1:-1] for r in raw])
    elif dt == DT.BOOL:
        tv.bools.values.extend([r == "true" for r in raw])
    elif dt == DT.FLOAT32:
        tv.floats.values.extend([_num(dt, r) for r in raw])
    elif dt == DT.FLOAT64:
        tv.doubles.values.extend([_num(dt, r) for r in raw])
    elif dt == DT.FLOAT16:
        tv.bytes.values = np.array([_num(dt, r) for r in raw], dtype="<f2").tobytes()
    elif dt in (DT.INT32, DT.INT16, DT.UINT16):
        tv.ints.values.extend([int(r) for r in raw])
    elif dt in (DT.INT64, DT.UINT64):
        tv.longInts.values.extend([int(r) for r in raw])
    elif dt in (DT.INT8, DT.UINT8, DT.UINT32):
        npdt = {DT.INT8: "i1", DT.UINT8: "u1", DT.UINT32: "<u4"}[dt]
        tv.bytes.values = np.array([int(r) for r in raw], dtype=npdt).tobytes()
    else:
        raise SyntaxError("literal dtype %d" % dt)


def parse_operand(lx, arg):
    b = arg.arguments.add()
    if lx.peek(1)[1] in ("(", "<") and lx.peek()[0] == "id" and (
            lx.peek()[1] in NAMES or lx.peek()[1] in ("tensor", "state", "dict")):
        parse_literal(lx, b.value)
    else:
        b.name = lx.next()[1]


def parse_attrs(lx, attrs):
    lx.expect("[")
    while lx.peek()[1] != "]":
        key = lx.next()[1]
        lx.expect("=")
        parse_literal(lx, attrs[key])
        if lx.peek()[1] == ",":
            lx.next()
    lx.expect("]")


def _skip_balanced(lx):
    start = lx.peek()[2]
    depth = 0
    while True:
        k, v, p = lx.next()
        if v in ("[", "(", "{"):
            depth += 1
        elif v in ("]", ")", "}"):
            depth -= 1
            if depth == 0:
                return lx.text[start:p + 1]


def parse_program(text):
    """Returns (MIL_pb2.Program, {func: raw attribute text}, version string)."""
    lx = Lexer(text)
    lx.expect("program")
    lx.expect("(")
    version = lx.next()[1]
    lx.expect(")")
    prog = MIL_pb2.Program()
    prog.version = 1
    if lx.peek()[1] == "[":
        parse_attrs(lx, prog.attributes)
    lx.expect("{")
    fattrs = {}
    while lx.peek()[1] == "func":
        lx.next()
        name = lx.next()[1]
        lx.expect("<")
        opset = OPSETS[lx.next()[1]]
        lx.expect(">")
        f = prog.functions[name]
        f.opset = opset
        lx.expect("(")
        while lx.peek()[1] != ")":
            nv = f.inputs.add()
            parse_type(lx, nv.type)
            nv.name = lx.next()[1]
            if lx.peek()[1] == ",":
                lx.next()
        lx.expect(")")
        if lx.peek()[1] == "[":
            fattrs[name] = _skip_balanced(lx)
        lx.expect("{")
        blk = f.block_specializations[opset]
        while lx.peek()[1] != "}":
            op = blk.operations.add()
            # types never contain "(", so an "=" before the first "(" means
            # the statement declares outputs
            j = lx.i
            has_out = False
            while lx.toks[j][1] != "(":
                if lx.toks[j][1] == "=":
                    has_out = True
                    break
                j += 1
            if has_out:
                while lx.peek()[1] != "=":
                    o = op.outputs.add()
                    parse_type(lx, o.type)
                    o.name = lx.next()[1]
                    if lx.peek()[1] == ",":
                        lx.next()
                lx.expect("=")
            op.type = lx.next()[1]
            lx.expect("(")
            while lx.peek()[1] != ")":
                key = lx.next()[1]
                lx.expect("=")
                arg = op.inputs[key]
                if lx.peek()[1] == "(":
                    lx.next()
                    while lx.peek()[1] != ")":
                        parse_operand(lx, arg)
                        if lx.peek()[1] == ",":
                            lx.next()
                    lx.expect(")")
                else:
                    parse_operand(lx, arg)
                if lx.peek()[1] == ",":
                    lx.next()
            lx.expect(")")
            if lx.peek()[1] == "[":
                parse_attrs(lx, op.attributes)
            lx.expect(";")
        lx.expect("}")
        lx.expect("->")
        lx.expect("(")
        while lx.peek()[1] != ")":
            blk.outputs.append(lx.next()[1])
            if lx.peek()[1] == ",":
                lx.next()
        lx.expect(")")
        lx.expect(";")
    lx.expect("}")
    return prog, fattrs, version
