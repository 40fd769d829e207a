#!/usr/bin/env python3
"""End-to-end tests of `anemone pull/ls/rm` against tests/hub/fake_hub.py.

Each scenario runs $ANEMONE_BIN with HF_HOME and XDG_CACHE_HOME in a fresh temporary
directory and HF_ENDPOINT pointed at the fake Hub. Expected values come from Python's
hashlib/zipfile and, for interoperability, from huggingface_hub itself (imported from
<repo>/.venv when present; those cases SKIP otherwise). After all scenarios, every blob
in every cache is checked against its name: the cache must never hold a blob whose
content does not match it, whatever fault happened.
"""
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fake_hub import FakeHub, git_sha1, sha256  # noqa: E402

BIN = os.environ.get("ANEMONE_BIN", os.path.join(ROOT, "anemone"))
VENV_PY = os.environ.get("ANEMONE_TEST_HF_PYTHON") or os.path.join(ROOT, ".venv", "bin", "python")
failures = 0
caches = []  # every HF hub cache used, for the final invariant check
TMP = tempfile.mkdtemp(prefix="anemone-hub-test-")


def report(name, ok, why=""):
    global failures
    if ok:
        print("PASS %s" % name)
    else:
        failures += 1
        print("FAIL %s: %s" % (name, why))
    sys.stdout.flush()


def skip(name, why):
    print("SKIP %s: %s" % (name, why))


# ---- fixtures: small synthetic ANEMLL-like repos ------------------------------------------

def mlmodelc(name, weight_size, seed):
    rnd = random.Random(seed)
    return {
        "model.mil": ("program(1.3)\n// %s\n" % name).encode(),
        "weights/weight.bin": bytes(rnd.getrandbits(8) for _ in range(weight_size)),
        "coremldata.bin": b"\x00" * 64,
        "metadata.json": json.dumps([{"shortDescription": name}]).encode(),
        "analytics/coremldata.bin": b"\x01" * 16,
    }


def zip_dir(dirname, files):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(dirname + "/", (2024, 1, 1, 0, 0, 0)), b"")
        for p in sorted(files):
            z.writestr(zipfile.ZipInfo(dirname + "/" + p, (2024, 1, 1, 0, 0, 0)), files[p])
    return b.getvalue()


META = """model_info:
  name: anemll-tiny
  version: 0.3.5
  architecture: qwen3
  parameters:
    context_length: 64
    batch_size: 8
    lut_embeddings: none
    lut_ffn: 4
    lut_lmhead: 6
    num_chunks: 2
    model_prefix: tiny
    embeddings: tiny_embeddings.mlmodelc
    lm_head: tiny_lm_head_lut6.mlmodelc
    ffn: tiny_FFN_PF_lut4_chunk_01of02.mlmodelc
    split_lm_head: 16
"""

COMPONENTS = {
    "tiny_embeddings": 20000,
    "tiny_lm_head_lut6": 20000,
    "tiny_FFN_PF_lut4_chunk_01of02": 100000,
    "tiny_FFN_PF_lut4_chunk_02of02": 262144,
}
SIDE = {
    "tokenizer.json": b'{"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}}',
    "tokenizer_config.json": b'{"chat_template": "{{ messages }}"}',
    "config.json": b'{"tokenizer_class": "Qwen2Tokenizer", "model_type": "qwen3"}',
}
EXTRA = {  # must not be downloaded by default
    "README.md": b"# tiny\n",
    "chat.py": b"print('hi')\n",
    "extra/big.bin": bytes(range(256)) * 200,
    "other_model.mlmodelc.zip": zip_dir("other_model.mlmodelc", mlmodelc("other", 1000, 9)),
}


def build_hub():
    hub = FakeHub(page_size=3, lifetime=300, stall_seconds=3.0)
    files, lfs = {"meta.yaml": META.encode()}, []
    for i, (c, size) in enumerate(sorted(COMPONENTS.items())):
        files[c + ".mlmodelc.zip"] = zip_dir(c + ".mlmodelc", mlmodelc(c, size, i))
        lfs.append(c + ".mlmodelc.zip")
    files.update(SIDE)
    files.update(EXTRA)
    lfs += ["extra/big.bin", "other_model.mlmodelc.zip"]
    hub.zip_files = dict(files)
    hub.main = hub.add_repo("anemll/tiny-zip", files, lfs)
    v1 = dict(files)
    v1["config.json"] = b'{"tokenizer_class": "Qwen2Tokenizer", "model_type": "qwen3", "v": 1}'
    hub.v1 = hub.add_repo("anemll/tiny-zip", v1, lfs, branch="v1")
    # The "iOS" layout: .mlmodelc directories, unzipped.
    dfiles, dlfs = {"meta.yaml": META.encode()}, []
    for i, (c, size) in enumerate(sorted(COMPONENTS.items())):
        for p, d in mlmodelc(c, size // 4, 100 + i).items():
            dfiles["%s.mlmodelc/%s" % (c, p)] = d
            if p.endswith("weight.bin"):
                dlfs.append("%s.mlmodelc/%s" % (c, p))
    dfiles.update(SIDE)
    dfiles["README.md"] = b"# dir\n"
    hub.dir_files = dfiles
    hub.dir_main = hub.add_repo("anemll/tiny-dir", dfiles, dlfs)
    hub.aliases["anemll/old-tiny"] = "anemll/tiny-zip"
    hub.add_repo("anemll/gated", files, lfs, gated=True)
    hub.add_repo("anemll/private", files, lfs, private=True)
    hub.add_repo("someone/not-anemll", {"config.json": b"{}", "model.safetensors": b"x" * 100},
                 ["model.safetensors"])
    # Hostile archives: each names one component.
    evil_meta = ("model_info:\n  parameters:\n    model_prefix: evil\n"
                 "    embeddings: evil_embeddings.mlmodelc\n")

    def evil(entries):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as z:
            for name, data, link in entries:
                zi = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
                if link:
                    zi.create_system = 3
                    zi.external_attr = (0o120777 << 16)
                z.writestr(zi, data)
        return b.getvalue()

    ok = ("evil_embeddings.mlmodelc/model.mil", b"program", False)
    hub.evil = {
        "dotdot": evil([ok, ("evil_embeddings.mlmodelc/../../../escape_dotdot.txt", b"pwned", False)]),
        "absolute": evil([ok, ("/tmp/anemone_escape_abs_%d.txt" % os.getpid(), b"pwned", False)]),
        "symlink": evil([ok, ("evil_embeddings.mlmodelc/link", b"../../../../../../../tmp", True),
                         ("evil_embeddings.mlmodelc/link/escape_link.txt", b"pwned", False)]),
    }
    for kind, z in hub.evil.items():
        hub.add_repo("anemll/evil-" + kind, {"meta.yaml": evil_meta.encode(),
                                             "evil_embeddings.mlmodelc.zip": z},
                     ["evil_embeddings.mlmodelc.zip"])
    return hub.start()


# ---- running anemone ------------------------------------------------------------------------

def new_home(tag):
    d = tempfile.mkdtemp(prefix=tag + "-", dir=TMP)
    caches.append(os.path.join(d, "hf", "hub"))
    return d


def env_for(home, hub, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HF_") and not k.startswith("HUGGING") and k not in
           ("TRANSFORMERS_OFFLINE", "ANEMONE_CACHE", "XDG_CACHE_HOME")}
    env.update({
        "HOME": home, "HF_HOME": os.path.join(home, "hf"),
        "XDG_CACHE_HOME": os.path.join(home, "xdg"),
        "HF_ENDPOINT": hub.endpoint if hub else "http://127.0.0.1:9",
        "ANEMONE_HUB_RETRY_BASE_MS": "20", "HF_HUB_DOWNLOAD_TIMEOUT": "1",
        "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DISABLE_TELEMETRY": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(args, env, stdin=None, timeout=60):
    p = subprocess.run([BIN] + args, env=env, input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def repo_dir(home, repo="anemll/tiny-zip"):
    return os.path.join(home, "hf", "hub", "models--" + repo.replace("/", "--"))


def cdn_gets(hub, digest):
    return [e for e in hub.log if e["server"] == "cdn" and e["method"] == "GET"
            and digest in e["path"]]


def ffn2_sha(hub):
    return sha256(hub.zip_files["tiny_FFN_PF_lut4_chunk_02of02.mlmodelc.zip"])


def scenario(fn):
    try:
        fn()
    except Exception:
        report(fn.__name__, False, "exception: " + traceback.format_exc().replace("\n", " | "))


# ---- scenarios ------------------------------------------------------------------------------

def t_pull_basic():
    home = new_home("basic")
    env = env_for(home, HUB, HF_TOKEN="hf_secret_token")
    n_log = len(HUB.log)
    rc, out, err = run(["pull", "anemll/tiny-zip"], env)
    report("pull_exit0", rc == 0, "rc=%d err=%s" % (rc, err))
    lines = out.splitlines()
    report("pull_prints_one_line", len(lines) == 1, repr(out))
    d = lines[-1] if lines else ""
    comps_ok = all(os.path.isfile(os.path.join(d, c + ".mlmodelc", "weights", "weight.bin"))
                   for c in COMPONENTS)
    report("pull_model_dir_resolves_components", comps_ok and os.path.isfile(os.path.join(d, "meta.yaml")),
           "dir %s: %s" % (d, os.listdir(d) if os.path.isdir(d) else "missing"))
    # The extracted weights equal the fixture's bytes.
    c = "tiny_FFN_PF_lut4_chunk_02of02"
    want = mlmodelc(c, COMPONENTS[c], sorted(COMPONENTS).index(c))["weights/weight.bin"]
    got = open(os.path.join(d, c + ".mlmodelc", "weights", "weight.bin"), "rb").read() if comps_ok else b""
    report("pull_unzipped_bytes_match", got == want)
    report("pull_side_files", all(os.path.isfile(os.path.join(d, f)) for f in SIDE))
    rd = repo_dir(home)
    snap = os.path.join(rd, "snapshots", HUB.main)
    report("cache_refs_main", open(os.path.join(rd, "refs", "main")).read() == HUB.main)
    link = os.readlink(os.path.join(snap, "meta.yaml"))
    report("cache_relative_symlink", link == "../../blobs/" + git_sha1(META.encode()), link)
    zlink = os.readlink(os.path.join(snap, c + ".mlmodelc.zip"))
    report("cache_lfs_blob_named_sha256",
           zlink == "../../blobs/" + sha256(HUB.zip_files[c + ".mlmodelc.zip"]), zlink)
    tag = os.path.join(home, "hf", "hub", "CACHEDIR.TAG")
    report("cache_cachedir_tag", os.path.isfile(tag) and open(tag).read().startswith(
        "Signature: 8a477f597d28d172789f06886806bc55"))
    report("cache_locks_dir", os.path.isdir(os.path.join(home, "hf", "hub", ".locks",
                                                         "models--anemll--tiny-zip")))
    extra_absent = [f for f in EXTRA if os.path.lexists(os.path.join(snap, f))]
    report("pull_skips_unnamed_files", not extra_absent, "downloaded %s" % extra_absent)
    report("pull_no_incomplete_left", not [f for f in os.listdir(os.path.join(rd, "blobs"))
                                           if f.endswith(".incomplete")])
    unz = os.path.join(home, "xdg", "anemone", "unzipped")
    report("unzipped_keyed_by_etag", sorted(os.listdir(unz)) == sorted(
        sha256(HUB.zip_files[x + ".mlmodelc.zip"]) for x in COMPONENTS))
    new = HUB.log[n_log:]
    cdn = [e for e in new if e["server"] == "cdn"]
    api = [e for e in new if e["server"] == "api"]
    report("token_sent_to_hub", api and all(e["headers"].get("authorization") == "Bearer hf_secret_token"
                                            for e in api))
    report("token_never_sent_to_cdn", cdn and not any("authorization" in e["headers"] for e in cdn),
           "%d cdn requests" % len(cdn))
    report("user_agent", all(e["headers"].get("user-agent", "").startswith("anemone/") for e in new))
    heads = [e for e in api if e["method"] == "HEAD"]
    report("head_accept_encoding_identity", heads and all(
        e["headers"].get("accept-encoding") == "identity" for e in heads))
    trees = [e for e in api if "/tree/" in e["path"]]
    report("tree_pagination_followed", len(trees) >= 3 and any("cursor=" in e["path"] for e in trees),
           "%d tree requests" % len(trees))
    # A second pull: nothing is downloaded again.
    n_log = len(HUB.log)
    ino = os.stat(d).st_ino if d else 0
    rc, out2, err = run(["pull", "anemll/tiny-zip"], env)
    report("model_dir_left_alone_when_current", d and os.stat(d).st_ino == ino)
    again = [e for e in HUB.log[n_log:] if e["server"] == "cdn" or e["method"] == "HEAD"]
    report("pull_again_no_downloads", rc == 0 and out2 == out and not again,
           "rc=%d, %d requests" % (rc, len(again)))
    # Other reference forms reach the same snapshot.
    for name, ref in (("ref_hf_uri", "hf://anemll/tiny-zip@main"), ("ref_commit", "anemll/tiny-zip@" + HUB.main)):
        rc, o, err = run(["pull", ref], env)
        report(name, rc == 0 and o == out, "rc=%d out=%s err=%s" % (rc, o, err))
    rc, o, err = run(["pull", d], env)
    report("ref_local_dir", rc == 0 and o.strip() == d, o + err)
    rc, o, err = run(["pull", os.path.join(d, "meta.yaml")], env)
    report("ref_local_meta_yaml", rc == 0 and o.strip() == d, o + err)
    # ls and the v1 branch (shares every blob but config.json).
    n_log = len(HUB.log)
    rc, o, err = run(["pull", "anemll/tiny-zip@v1"], env)
    report("pull_branch", rc == 0 and HUB.v1 in o, err)
    heads = [e["path"] for e in HUB.log[n_log:] if e["method"] == "HEAD"]
    report("known_blobs_linked_without_head", len(heads) == 1 and heads[0].endswith("/config.json"), str(heads))
    report("refs_branch_written", open(os.path.join(rd, "refs", "v1")).read() == HUB.v1)
    rc, o, err = run(["ls"], env)
    rows = [l for l in o.splitlines() if l.startswith("anemll/tiny-zip")]
    report("ls_lists_snapshots", rc == 0 and len(rows) == 2 and any(HUB.main[:12] in r and "main" in r for r in rows),
           o + err)
    # rm: refuses without confirmation, removes one revision keeping shared blobs, then all.
    rc, o, err = run(["rm", "anemll/tiny-zip@v1"], env, stdin="n\n")
    report("rm_asks", rc != 0 and os.path.isdir(os.path.join(rd, "snapshots", HUB.v1)), err)
    rc, o, err = run(["rm", "anemll/tiny-zip@v1", "-y"], env)
    v1_cfg = os.path.join(rd, "blobs", git_sha1(b'{"tokenizer_class": "Qwen2Tokenizer", "model_type": "qwen3", "v": 1}'))
    report("rm_revision", rc == 0 and not os.path.exists(os.path.join(rd, "snapshots", HUB.v1))
           and not os.path.exists(v1_cfg) and not os.path.exists(os.path.join(rd, "refs", "v1")), err)
    rc, o, err = run(["pull", "--offline", "anemll/tiny-zip"], env)
    report("rm_revision_keeps_shared", rc == 0 and o == out, err)
    rc, o, err = run(["rm", "-y", "anemll/tiny-zip"], env)
    report("rm_all", rc == 0 and not os.path.exists(rd) and not os.listdir(unz), err)
    rc, o, err = run(["rm", "-y", "anemll/tiny-zip"], env)
    report("rm_not_cached", rc == 1 and "not in the cache" in err, err)


def t_dir_layout_and_redirect():
    home = new_home("dir")
    env = env_for(home, HUB)
    rc, out, err = run(["pull", "anemll/tiny-dir"], env)
    snap = os.path.join(repo_dir(home, "anemll/tiny-dir"), "snapshots", HUB.dir_main)
    report("dir_repo_is_its_snapshot", rc == 0 and out.strip() == snap, out + err)
    w = os.path.join(snap, "tiny_embeddings.mlmodelc", "weights", "weight.bin")
    report("dir_repo_nested_symlink", os.path.islink(w) and os.readlink(w).startswith("../../../../blobs/")
           and open(w, "rb").read() == HUB.dir_files["tiny_embeddings.mlmodelc/weights/weight.bin"])
    report("dir_repo_skips_readme", not os.path.lexists(os.path.join(snap, "README.md")))
    # --include / --exclude
    rc, out, err = run(["pull", "anemll/tiny-dir", "--include", "README*", "--exclude", "tokenizer_config.json"],
                       env_for(new_home("incl"), HUB))
    d = out.strip()
    report("include_exclude", rc == 0 and os.path.isfile(os.path.join(d, "README.md"))
           and not os.path.lexists(os.path.join(d, "tokenizer_config.json")), out + err)
    # A renamed repo: resolve URLs answer a relative redirect that must be followed.
    rc, out, err = run(["pull", "anemll/old-tiny"], env_for(new_home("alias"), HUB))
    report("relative_redirect_followed", rc == 0 and os.path.isfile(os.path.join(out.strip(), "meta.yaml")), err)


def t_odd_etags():
    home = new_home("oddetag")
    HUB.odd_etags = True
    sha = git_sha1(SIDE["tokenizer.json"])
    try:
        rc, out, err = run(["pull", "anemll/tiny-dir"], env_for(home, HUB))
        link = os.readlink(os.path.join(out.strip(), "tokenizer.json")) if rc == 0 else ""
        ok1 = rc == 0 and link == "../../blobs/odd-" + sha[:20]
        HUB.faults[sha] = ["wrong"]
        rc2, out2, err2 = run(["pull", "anemll/tiny-dir"], env_for(new_home("oddetag2"), HUB))
    finally:
        HUB.odd_etags = False
        HUB.faults.pop(sha, None)
    report("etag_not_a_checksum_named_and_verified", ok1 and rc2 == 1 and "checksum " + sha in err2,
           "rc=%d link=%s rc2=%d %s" % (rc, link, rc2, err2))


def t_errors():
    env = env_for(new_home("errors"), HUB)
    cases = [
        ("error_repo_not_found", ["pull", "anemll/nope"], "not found", "HF_TOKEN"),
        ("error_private_without_token", ["pull", "anemll/private"], "not found", "HF_TOKEN"),
        ("error_gated", ["pull", "anemll/gated"], "gated", HUB.endpoint + "/anemll/gated"),
        ("error_revision_not_found", ["pull", "anemll/tiny-zip@nope"], "revision 'nope' not found", ""),
        ("error_not_anemll", ["pull", "someone/not-anemll"], "no meta.yaml", ""),
    ]
    for name, args, what, advice in cases:
        rc, out, err = run(args, env)
        lines = err.strip().splitlines()
        ok = rc == 1 and not out and lines and lines[0].startswith("anemone: ") and what in lines[0] \
            and len(lines) <= 2 and advice in err
        report(name, ok, "rc=%d err=%r" % (rc, err))
    rc, out, err = run(["pull", "anemll/tiny-dir"], env_for(new_home("badtoken"), HUB, HF_TOKEN="hf_bad_one"))
    report("error_token_refused", rc == 1 and "refused the token" in err and len(err.strip().splitlines()) == 2, err)
    rc, out, err = run(["pull", "not a repo!"], env)
    report("error_bad_reference", rc == 1 and "org/name" in err, err)
    rc, out, err = run(["pull"], env)
    report("usage_missing_model", rc == 2, err)
    # With the token that unlocks them, private and gated repos download.
    tok = os.path.join(new_home("tokfile"), "token")
    with open(tok, "w") as f:
        f.write("hf_granted\n")
    rc, out, err = run(["pull", "anemll/private"], env_for(new_home("tok"), HUB, HF_TOKEN_PATH=tok))
    report("token_from_hf_token_path", rc == 0, err)
    home = new_home("tokhome")
    os.makedirs(os.path.join(home, "hf"))
    with open(os.path.join(home, "hf", "token"), "w") as f:
        f.write("hf_granted")
    rc, out, err = run(["pull", "anemll/gated"], env_for(home, HUB))
    report("token_from_hf_home", rc == 0, err)
    rc, out, err = run(["pull", "anemll/private"], env_for(new_home("tokwrong"), HUB, HF_TOKEN="hf_granted",
                                                           HF_TOKEN_PATH="/nonexistent"))
    report("token_env_wins", rc == 0, err)


def t_rate_limit():
    env = env_for(new_home("rate"), HUB)
    HUB.api_faults[:] = [("429", 1)]
    n = len(HUB.log)
    t0 = time.time()
    rc, out, err = run(["pull", "anemll/tiny-dir"], env)
    dt = time.time() - t0
    revs = [e for e in HUB.log[n:] if "/revision/" in e["path"]]
    report("retry_after_honoured", rc == 0 and dt >= 1.0 and len(revs) == 2,
           "rc=%d dt=%.2f revs=%d err=%s" % (rc, dt, len(revs), err))
    HUB.api_faults[:] = [("429", 3600)]
    rc, out, err = run(["pull", "anemll/tiny-dir"], env_for(new_home("rate2"), HUB))
    report("rate_limited_error", rc == 1 and "rate limit" in err and "3600 seconds" in err, err)
    HUB.api_faults[:] = []


def fault_case(name, faults, check_range=True, **envx):
    home = new_home(name)
    env = env_for(home, HUB, **envx)
    sha = ffn2_sha(HUB)
    HUB.faults[sha] = list(faults)
    n = len(HUB.log)
    rc, out, err = run(["pull", "anemll/tiny-zip"], env)
    HUB.faults.pop(sha, None)
    gets = [e for e in HUB.log[n:] if e["server"] == "cdn" and sha in e["path"]]
    blob = os.path.join(repo_dir(home), "blobs", sha)
    ok = rc == 0 and os.path.isfile(blob) and sha256(open(blob, "rb").read()) == sha
    why = "rc=%d gets=%d err=%s" % (rc, len(gets), err)
    if ok and check_range:
        rng = [e["headers"].get("range", "") for e in gets[1:]]
        ok = any(re.fullmatch(r"bytes=[1-9]\d*-", r) for r in rng)
        why += " ranges=%s" % rng
    report(name, ok, why)
    return home, gets


def t_faults():
    fault_case("resume_after_dropped_connection", ["drop"])
    fault_case("resume_after_stall", ["stall"])
    _, gets = fault_case("retry_5xx_burst", ["503", "503", "503"], check_range=False)
    report("retry_5xx_count", len(gets) == 4, "%d gets" % len(gets))
    # Range ignored: a partial file exists, the server answers 200: start over from 0.
    home = new_home("range_ignored")
    sha = ffn2_sha(HUB)
    data = HUB.zip_files["tiny_FFN_PF_lut4_chunk_02of02.mlmodelc.zip"]
    os.makedirs(os.path.join(repo_dir(home), "blobs"))
    with open(os.path.join(repo_dir(home), "blobs", sha + ".incomplete"), "wb") as f:
        f.write(data[:5000])
    HUB.faults[sha] = ["ignore_range"]
    rc, out, err = run(["pull", "anemll/tiny-zip"], env_for(home, HUB))
    blob = os.path.join(repo_dir(home), "blobs", sha)
    report("range_ignored_restarts", rc == 0 and sha256(open(blob, "rb").read()) == sha, err)
    # A 206 whose Content-Range is not the one asked for: its bytes are not appended.
    home = new_home("bad_range")
    os.makedirs(os.path.join(repo_dir(home), "blobs"))
    with open(os.path.join(repo_dir(home), "blobs", sha + ".incomplete"), "wb") as f:
        f.write(data[:5000])
    HUB.faults[sha] = ["bad_range"]
    rc, out, err = run(["pull", "anemll/tiny-zip"], env_for(home, HUB))
    HUB.faults.pop(sha, None)
    blob = os.path.join(repo_dir(home), "blobs", sha)
    report("wrong_content_range_restarts", rc == 0 and sha256(open(blob, "rb").read()) == sha
           and "corrupt" not in err, err)
    # A corrupt partial file from an earlier run: detected by the checksum, downloaded afresh.
    home = new_home("corrupt_partial")
    os.makedirs(os.path.join(repo_dir(home), "blobs"))
    with open(os.path.join(repo_dir(home), "blobs", sha + ".incomplete"), "wb") as f:
        f.write(b"\xff" * 70000)
    rc, out, err = run(["pull", "anemll/tiny-zip"], env_for(home, HUB))
    blob = os.path.join(repo_dir(home), "blobs", sha)
    report("corrupt_incomplete_discarded", rc == 0 and sha256(open(blob, "rb").read()) == sha, err)
    # Wrong bytes every time: the pull fails, nothing enters the cache under that name.
    home = new_home("sha_mismatch")
    HUB.faults[sha] = ["wrong"] * 3
    rc, out, err = run(["pull", "anemll/tiny-zip"], env_for(home, HUB))
    HUB.faults.pop(sha, None)
    blobs = os.listdir(os.path.join(repo_dir(home), "blobs"))
    report("sha_mismatch_fails", rc == 1 and "checksum" in err and sha not in blobs
           and sha + ".incomplete" not in blobs, "rc=%d err=%s blobs=%s" % (rc, err, blobs))
    snap = os.path.join(repo_dir(home), "snapshots", HUB.main, "tiny_FFN_PF_lut4_chunk_02of02.mlmodelc.zip")
    report("sha_mismatch_not_linked", not os.path.lexists(snap))


def t_parallel_cap():
    HUB.slow_all = 0.05
    HUB.max_active = 0
    try:
        rc, out, err = run(["pull", "anemll/tiny-dir"], env_for(new_home("parallel"), HUB))
    finally:
        HUB.slow_all = 0
    report("parallel_downloads_at_most_4", rc == 0 and HUB.max_active == 4,
           "rc=%d max at once=%d %s" % (rc, HUB.max_active, err))


def t_disk_full_and_no_exist():
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (150000, 150000))

    home = new_home("diskfull")
    env = env_for(home, HUB)
    sha = ffn2_sha(HUB)
    p = subprocess.run([BIN, "pull", "anemll/tiny-zip"], env=env, capture_output=True, text=True,
                       timeout=60, preexec_fn=limit)
    inc = os.path.join(repo_dir(home), "blobs", sha + ".incomplete")
    kept = os.path.getsize(inc) if os.path.exists(inc) else -1
    report("disk_full_says_what_was_kept", p.returncode == 1 and "disk full" in p.stderr
           and ("kept %d of" % kept) in p.stderr and 0 < kept <= 150000, "kept=%d err=%s" % (kept, p.stderr))
    rc, out, err = run(["pull", "anemll/tiny-zip"], env)
    blob = os.path.join(repo_dir(home), "blobs", sha)
    report("disk_full_then_resume", rc == 0 and sha256(open(blob, "rb").read()) == sha, err)
    home = new_home("noexist")
    HUB.missing.add(("anemll/tiny-dir", "tokenizer.json"))
    rc, out, err = run(["pull", "anemll/tiny-dir"], env_for(home, HUB))
    HUB.missing.clear()
    marker = os.path.join(repo_dir(home, "anemll/tiny-dir"), ".no_exist", HUB.dir_main, "tokenizer.json")
    report("entry_not_found_marks_no_exist", rc == 1 and "no such file" in err and os.path.isfile(marker), err)


def t_progress():
    if not shutil.which("script"):
        skip("progress_on_terminal", "script(1) is not installed")
        return
    home = new_home("progress")
    sha = ffn2_sha(HUB)
    data = HUB.blobs[sha]
    os.makedirs(os.path.join(repo_dir(home), "blobs"))
    with open(os.path.join(repo_dir(home), "blobs", sha + ".incomplete"), "wb") as f:
        f.write(data[:150000])  # a valid partial file the server will ignore (200): restart at 0
    HUB.faults[sha] = ["ignore_range"]
    HUB.slow[sha] = 0.01
    env = env_for(home, HUB)
    p = subprocess.run(["script", "-qec", BIN + " pull anemll/tiny-zip", "/dev/null"], env=env,
                       capture_output=True, text=True, timeout=60)
    HUB.slow.pop(sha, None)
    HUB.faults.pop(sha, None)
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    totals = [float(a) * units[u] for a, u in re.findall(r"total\s+([\d.]+) (B|kB|MB|GB) /", p.stdout)]
    files = [float(a) * units[u] for a, u in re.findall(
        r"chunk_02of02\.mlmodelc\.zip\s+([\d.]+) (B|kB|MB|GB) /", p.stdout)]
    mono = all(b >= a for a, b in zip(totals, totals[1:])) and all(b >= a for a, b in zip(files, files[1:]))
    report("progress_on_terminal", p.returncode == 0 and len(totals) >= 2 and "/s" in p.stdout,
           "rc=%d frames=%d" % (p.returncode, len(totals)))
    report("progress_never_backwards", len(totals) >= 2 and len(files) >= 2 and mono, "%s | %s" % (totals, files))
    home = new_home("noprogress")
    p = subprocess.run(["script", "-qec", BIN + " pull anemll/tiny-dir", "/dev/null"],
                       env=env_for(home, HUB, HF_HUB_DISABLE_PROGRESS_BARS="1"),
                       capture_output=True, text=True, timeout=60)
    report("progress_disabled_by_env", p.returncode == 0 and "total" not in p.stdout, p.stdout[-300:])


def wait_for(pred, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.02)
    return False


def t_kill_and_resume():
    home = new_home("kill9")
    env = env_for(home, HUB)
    sha = ffn2_sha(HUB)
    inc = os.path.join(repo_dir(home), "blobs", sha + ".incomplete")
    HUB.slow[sha] = 0.02
    p = subprocess.Popen([BIN, "pull", "anemll/tiny-zip"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    started = wait_for(lambda: os.path.exists(inc) and os.path.getsize(inc) > 20000, 20)
    p.send_signal(signal.SIGKILL)
    p.wait()
    HUB.slow.pop(sha, None)
    kept = os.path.getsize(inc) if os.path.exists(inc) else 0
    report("kill9_leaves_partial", started and 0 < kept < len(HUB.blobs[sha]), "kept %d" % kept)
    n = len(HUB.log)
    rc, out, err = run(["pull", "anemll/tiny-zip"], env)
    gets = [e for e in HUB.log[n:] if e["server"] == "cdn" and sha in e["path"]]
    rng = gets[0]["headers"].get("range", "") if gets else ""
    m = re.fullmatch(r"bytes=(\d+)-", rng)
    blob = os.path.join(repo_dir(home), "blobs", sha)
    report("kill9_resumes_with_range", rc == 0 and m and int(m.group(1)) >= kept > 0
           and sha256(open(blob, "rb").read()) == sha, "rc=%d range=%r kept=%d err=%s" % (rc, rng, kept, err))


def t_concurrent():
    home = new_home("concurrent")
    env = env_for(home, HUB)
    sha = ffn2_sha(HUB)
    HUB.slow[sha] = 0.005
    n = len(HUB.log)
    ps = [subprocess.Popen([BIN, "pull", "anemll/tiny-zip"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in ps]
    HUB.slow.pop(sha, None)
    gets = [e for e in HUB.log[n:] if e["server"] == "cdn" and sha in e["path"] and e["method"] == "GET"]
    ok = all(p.returncode == 0 for p in ps) and outs[0][0] == outs[1][0] and outs[0][0]
    report("concurrent_pulls_agree", ok, str([(p.returncode, o[1]) for p, o in zip(ps, outs)]))
    report("concurrent_pulls_download_once", len(gets) == 1, "%d downloads" % len(gets))


def t_offline():
    home = new_home("offline")
    env = env_for(home, HUB)
    rc, out, err = run(["pull", "anemll/tiny-zip"], env)
    n = len(HUB.log)
    rc2, out2, err2 = run(["pull", "anemll/tiny-zip"], env_for(home, HUB, HF_HUB_OFFLINE="1"))
    report("offline_env_uses_cache", rc2 == 0 and out2 == out and "offline" in err2 and len(HUB.log) == n,
           "rc=%d err=%s requests=%d" % (rc2, err2, len(HUB.log) - n))
    rc2, out2, err2 = run(["pull", "--offline", "anemll/tiny-zip"], env)
    report("offline_flag_uses_cache", rc2 == 0 and out2 == out and len(HUB.log) == n, err2)
    rc2, out2, err2 = run(["pull", "--offline", "anemll/tiny-dir"], env)
    report("offline_not_cached", rc2 == 1 and "anemone pull anemll/tiny-dir" in err2
           and len(err2.strip().splitlines()) == 2, err2)
    # The Hub unreachable (nothing listens on the port): fall back to the cache and say so.
    down = env_for(home, None)
    t0 = time.time()
    rc2, out2, err2 = run(["pull", "anemll/tiny-zip"], down)
    report("unreachable_uses_cache", rc2 == 0 and out2 == out and "using cached revision" in err2,
           "rc=%d err=%s" % (rc2, err2))
    # The library call run/chat/show use: with prefer_cache, no request at all.
    tool = os.path.join(ROOT, os.environ.get("ANEMONE_BUILD", "build"), "tests", "hub", "tool_hub_resolve")
    if os.access(tool, os.X_OK):
        n = len(HUB.log)
        p = subprocess.run([tool, "--prefer-cache", "anemll/tiny-zip"], env=env, capture_output=True,
                           text=True, timeout=60)
        report("prefer_cache_no_network", p.returncode == 0 and p.stdout == out and len(HUB.log) == n,
               "rc=%d err=%s requests=%d" % (p.returncode, p.stderr, len(HUB.log) - n))
        p = subprocess.run([tool, "--prefer-cache", "anemll/tiny-dir"], env=env, capture_output=True,
                           text=True, timeout=60)
        report("prefer_cache_downloads_when_missing", p.returncode == 0 and len(HUB.log) > n, p.stderr)
    else:
        skip("prefer_cache_no_network", "tool_hub_resolve is not built")
    rc2, out2, err2 = run(["pull", "anemll/tiny-dir"], env_for(new_home("down"), None))
    report("unreachable_not_cached", rc2 == 1 and "cannot reach" in err2, err2)
    report("unreachable_is_quick", time.time() - t0 < 15, "%.1fs" % (time.time() - t0))


def t_zip_traversal():
    for kind in ("dotdot", "absolute", "symlink"):
        home = new_home("evil-" + kind)
        rc, out, err = run(["pull", "anemll/evil-" + kind], env_for(home, HUB))
        escaped = []
        for root, dirs, files in os.walk(home):
            escaped += [f for f in files if f.startswith("escape")]
        escaped += [p for p in ("/tmp/escape_link.txt", "/tmp/anemone_escape_abs_%d.txt" % os.getpid())
                    if os.path.exists(p)]
        unz = os.path.join(home, "xdg", "anemone", "unzipped")
        report("zip_refuses_" + kind, rc == 1 and "refused" in err and not escaped
               and not (os.path.isdir(unz) and os.listdir(unz)),
               "rc=%d err=%s escaped=%s" % (rc, err, escaped))


# ---- interoperability with huggingface_hub --------------------------------------------------

def hf_python(code, env):
    p = subprocess.run([VENV_PY, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def t_interop():
    if not os.path.exists(VENV_PY) or subprocess.run([VENV_PY, "-c", "import huggingface_hub"],
                                                     capture_output=True).returncode != 0:
        skip("interop_hf_download_then_anemone_offline", "huggingface_hub is not installed in .venv")
        skip("interop_anemone_pull_then_hf_offline", "huggingface_hub is not installed in .venv")
        return
    home = new_home("interop1")
    env = env_for(home, HUB)
    rc, out, err = hf_python(
        "from huggingface_hub import snapshot_download\n"
        "print(snapshot_download('anemll/tiny-zip', allow_patterns=['meta.yaml', '*.mlmodelc.zip', 'tokenizer*', 'config.json']))",
        env)
    hf_dir = out.strip().splitlines()[-1] if out.strip() else ""
    n = len(HUB.log)
    rc2, out2, err2 = run(["pull", "--offline", "anemll/tiny-zip"], env)
    d = out2.strip()
    report("interop_hf_download_then_anemone_offline",
           rc == 0 and rc2 == 0 and len(HUB.log) == n and hf_dir.endswith(HUB.main)
           and all(os.path.isdir(os.path.join(d, c + ".mlmodelc")) for c in COMPONENTS),
           "hf rc=%d %s | anemone rc=%d %s" % (rc, err[-300:], rc2, err2))
    home = new_home("interop2")
    env = env_for(home, HUB)
    rc, out, err = run(["pull", "anemll/tiny-dir"], env)
    code = (
        "import json\n"
        "from huggingface_hub import snapshot_download, hf_hub_download, scan_cache_dir\n"
        "s = snapshot_download('anemll/tiny-dir')\n"
        "m = hf_hub_download('anemll/tiny-dir', 'tiny_embeddings.mlmodelc/weights/weight.bin')\n"
        "info = scan_cache_dir()\n"
        "repos = [(r.repo_id, [rev.commit_hash for rev in r.revisions], sorted(r.refs)) for r in info.repos]\n"
        "print(json.dumps({'snap': s, 'file': m, 'warnings': [str(w) for w in info.warnings], 'repos': repos}))\n")
    n = len(HUB.log)
    rc2, out2, err2 = hf_python(code, dict(env, HF_HUB_OFFLINE="1"))
    try:
        r = json.loads(out2.strip().splitlines()[-1])
    except Exception:
        r = {}
    # (huggingface_hub before 1.x did not know CACHEDIR.TAG and warns about it: harmless.)
    ok = rc == 0 and rc2 == 0 and r.get("snap") == out.strip() and len(HUB.log) == n \
        and open(r.get("file"), "rb").read() == HUB.dir_files["tiny_embeddings.mlmodelc/weights/weight.bin"] \
        and not [w for w in r.get("warnings", []) if "CACHEDIR.TAG" not in w] and r.get("repos") == [["anemll/tiny-dir", [HUB.dir_main], ["main"]]]
    report("interop_anemone_pull_then_hf_offline", ok, "anemone rc=%d | hf rc=%d %s %s" % (rc, rc2, out2[-400:], err2[-400:]))


def t_failed_update_keeps_old_revision():
    home = new_home("update")
    env = env_for(home, HUB)
    rc, old_dir, err = run(["pull", "anemll/tiny-zip"], env)
    repo = HUB.repos["anemll/tiny-zip"]
    files = dict(HUB.zip_files)
    c = "tiny_FFN_PF_lut4_chunk_02of02"
    files[c + ".mlmodelc.zip"] = zip_dir(c + ".mlmodelc", mlmodelc(c, 5000, 77))
    lfs = [p for p in repo.lfs]
    new_commit = HUB.add_repo("anemll/tiny-zip", files, lfs)  # main moves on
    new_sha = sha256(files[c + ".mlmodelc.zip"])
    HUB.faults[new_sha] = ["wrong"]
    try:
        rc1, out1, err1 = run(["pull", "anemll/tiny-zip"], env)
        rc2, out2, err2 = run(["pull", "--offline", "anemll/tiny-zip"], env)
        report("failed_update_keeps_old_revision", rc1 == 1 and rc2 == 0 and out2 == old_dir
               and open(os.path.join(repo_dir(home), "refs", "main")).read() == HUB.main,
               "rc1=%d rc2=%d %s %s" % (rc1, rc2, err1, err2))
        rc3, out3, err3 = run(["pull", "anemll/tiny-zip"], env)
        report("update_moves_ref", rc3 == 0 and new_commit in out3
               and open(os.path.join(repo_dir(home), "refs", "main")).read() == new_commit, err3)
    finally:
        HUB.faults.pop(new_sha, None)
        repo.refs["main"] = HUB.main


# ---- the invariant ------------------------------------------------------------------------

def t_cache_invariant():
    bad, checked = [], 0
    for cache in caches:
        if not os.path.isdir(cache):
            continue
        for repo in os.listdir(cache):
            bdir = os.path.join(cache, repo, "blobs")
            if not os.path.isdir(bdir):
                continue
            for name in os.listdir(bdir):
                if name.endswith(".incomplete"):
                    continue
                data = open(os.path.join(bdir, name), "rb").read()
                checked += 1
                if (len(name) == 64 and sha256(data) != name) or (len(name) == 40 and git_sha1(data) != name):
                    bad.append(os.path.join(repo, name))
    report("cache_blobs_match_their_names", checked > 0 and not bad, "%d checked, bad: %s" % (checked, bad))


if __name__ == "__main__":
    if not os.access(BIN, os.X_OK):
        print("FAIL setup: %s is not built" % BIN)
        sys.exit(1)
    HUB = build_hub()
    t0 = time.time()
    for fn in (t_pull_basic, t_dir_layout_and_redirect, t_odd_etags, t_errors, t_rate_limit, t_faults,
               t_kill_and_resume, t_concurrent, t_parallel_cap, t_disk_full_and_no_exist, t_progress, t_offline, t_zip_traversal, t_interop,
               t_cache_invariant):
        scenario(fn)
    HUB.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    print("# hub tests took %.1f s" % (time.time() - t0))
    sys.exit(1 if failures else 0)
