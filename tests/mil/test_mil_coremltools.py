#!/usr/bin/env python3
"""Cross-checks against coremltools (dev venv only; SKIP without it):

* every .mlpackage fixture: functions, op counts and inputs read by our protobuf reader
  equal what coremltools' own protobuf classes read;
* every blob of every fixture (both forms) reads the same elements through weights.h as
  through coremltools' MIL blob reader (libmilstoragepython);
* every .mlpackage fixture compiled to .mlmodelc by the factory's writer prints the same
  `show --program` text as the package itself.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")

try:
    import numpy as np
    import coremltools  # noqa: F401
    from coremltools.libmilstoragepython import _BlobStorageReader
    from coremltools.proto import Model_pb2
except Exception:
    if os.path.exists(VENV_PY) and not os.environ.get("MIL_CT_REEXEC"):
        os.environ["MIL_CT_REEXEC"] = "1"
        os.execv(VENV_PY, [VENV_PY, __file__] + sys.argv[1:])
    for name in ("proto_reader_matches_coremltools", "blobs_match_coremltools", "compiled_prints_same"):
        print("SKIP %s: coremltools not installed (scripts/requirements-dev.txt)" % name)
    sys.exit(0)

BUILD = os.environ.get("ANEMONE_BUILD", "build")
BIN = os.environ.get("ANEMONE_BIN", os.path.join(ROOT, BUILD, "anemone"))
BLOBS = os.path.join(ROOT, BUILD, "tests", "mil", "tool_mil_blobs")
PACKAGES = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "*", "*.mlpackage")))
COMPILED = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "*", "*.mlmodelc")))

# the reader returns fp16 as raw uint16 bits and sub-byte values unpacked, one per element
DTYPES = {"fp16": ("read_fp16_data", np.uint16), "fp32": ("read_float_data", np.float32),
          "int8": ("read_int8_data", np.int8), "uint8": ("read_uint8_data", np.uint8),
          "int16": ("read_int16_data", np.int16), "uint16": ("read_uint16_data", np.uint16),
          "int32": ("read_int32_data", np.int32), "uint32": ("read_uint32_data", np.uint32),
          "int4": ("read_int4_data", np.int8), "uint1": ("read_uint1_data", np.uint8),
          "uint2": ("read_uint2_data", np.uint8), "uint3": ("read_uint3_data", np.uint8),
          "uint4": ("read_uint4_data", np.uint8), "uint6": ("read_uint6_data", np.uint8)}


def fnv(data):
    h = 1469598103934665603
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def run(*args):
    return subprocess.run(args, capture_output=True, text=True)


def spec_of(pkg):
    m = Model_pb2.Model()
    with open(os.path.join(pkg, "Data", "com.apple.CoreML", "model.mlmodel"), "rb") as f:
        m.ParseFromString(f.read())
    return m


def test_proto_reader():
    if not PACKAGES:
        return "SKIP proto_reader_matches_coremltools: no .mlpackage fixtures"
    for pkg in PACKAGES:
        spec = spec_of(pkg)
        out = run(BIN, "show", pkg)
        if out.returncode:
            return "FAIL proto_reader_matches_coremltools: %s: %s" % (pkg, out.stderr.strip())
        text = out.stdout
        for name, fn in spec.mlProgram.functions.items():
            block = fn.block_specializations[fn.opset]
            want = "function %s <" % name
            if want not in text:
                return "FAIL proto_reader_matches_coremltools: %s: no '%s'" % (pkg, want)
            section = text.split(want, 1)[1]
            nops = int(section.split("    ops: ", 1)[1].split("\n", 1)[0])
            if nops != len(block.operations):
                return "FAIL proto_reader_matches_coremltools: %s %s: %d ops, coremltools %d" % (
                    pkg, name, nops, len(block.operations))
            for inp in fn.inputs:
                if "      %s " % inp.name not in section.split("\nfunction ", 1)[0]:
                    return "FAIL proto_reader_matches_coremltools: %s %s: input %s missing" % (pkg, name, inp.name)
        for k, v in spec.description.metadata.userDefined.items():
            if "    %s: %s\n" % (k, v) not in text:
                return "FAIL proto_reader_matches_coremltools: %s: metadata %s" % (pkg, k)
    return "PASS proto_reader_matches_coremltools"


def weight_file(comp):
    p = os.path.join(comp, "Data", "com.apple.CoreML", "weights", "weight.bin")
    return p if os.path.exists(p) else os.path.join(comp, "weights", "weight.bin")


def test_blobs():
    comps = PACKAGES + COMPILED
    if not comps:
        return "SKIP blobs_match_coremltools: no fixtures"
    if not os.path.exists(BLOBS):
        return "FAIL blobs_match_coremltools: %s not built" % BLOBS
    n = 0
    for comp in comps:
        out = run(BLOBS, comp)
        if out.returncode:
            return "FAIL blobs_match_coremltools: %s: %s" % (comp, out.stderr.strip())
        reader = _BlobStorageReader(weight_file(comp))
        for line in out.stdout.split("\n"):
            if not line:
                continue
            off, dt, numel, digest = line.split()
            fn, npdt = DTYPES[dt]
            ref = np.asarray(getattr(reader, fn)(int(off))).astype(npdt)
            if ref.size != int(numel) or "%016x" % fnv(ref.tobytes()) != digest:
                return "FAIL blobs_match_coremltools: %s: blob at %s (%s) differs" % (comp, off, dt)
            n += 1
    return "PASS blobs_match_coremltools" if n else "FAIL blobs_match_coremltools: no blobs"


def test_compiled_prints_same():
    if not PACKAGES:
        return "SKIP compiled_prints_same: no .mlpackage fixtures"
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        from factory.mlmodelc import write_mlmodelc
    except Exception as e:  # the factory's writer is absent on this branch
        return "SKIP compiled_prints_same: %s" % e
    tmp = tempfile.mkdtemp()
    try:
        for pkg in PACKAGES:
            out_dir = os.path.join(tmp, os.path.basename(pkg)[:-len(".mlpackage")] + ".mlmodelc")
            write_mlmodelc(pkg, out_dir)
            a, b = run(BIN, "show", "--program", pkg), run(BIN, "show", "--program", out_dir)
            if a.returncode or b.returncode:
                return "FAIL compiled_prints_same: %s: %s%s" % (pkg, a.stderr, b.stderr)
            if a.stdout != b.stdout:
                return "FAIL compiled_prints_same: %s prints differently compiled" % pkg
            shutil.rmtree(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return "PASS compiled_prints_same"


if __name__ == "__main__":
    for t in (test_proto_reader, test_blobs, test_compiled_prints_same):
        print(t())
