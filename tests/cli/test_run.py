"""anemone run, chat and bench through the real binary on the test models.

The expected text of a greedy run comes from the NumPy reference (tests/ref/anemll_ref.py,
from the weights the model files hold): the prompt's ids are taken from `anemone tokenize`
(whose byte-exactness the tokenizer suite checks), the reference extends them greedily,
and `anemone detokenize` turns the reference's ids into the text `anemone run` must print."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "ref"))
BIN = os.environ.get("ANEMONE_BIN", os.path.join(REPO, "anemone"))

try:
    import numpy as np  # noqa: F401
    import anemll_ref as R
except ImportError as e:
    print("SKIP run_end_to_end: %s" % e)
    sys.exit(0)

FIX = os.path.join(REPO, "tests", "fixtures")
GOLD = os.path.join(REPO, "tests", "ref", "goldens")


def report(ok, name, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))


def anemone(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    return subprocess.run([BIN] + list(args), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=e, timeout=120)


def detok(d, ids):
    """The reference text: `anemone detokenize` prints it with one newline after."""
    out = anemone("detokenize", "--skip-special", d, *[str(i) for i in ids]).stdout
    return out[:-1] if out.endswith(b"\n") else out


def reference(fixture, ids, n_new):
    man = json.load(open(os.path.join(GOLD, fixture, "manifest.json")))
    conf, w = R.load_weights(os.path.join(GOLD, fixture, "weights.json"), FIX)
    new, _, _, _ = R.run_greedy(R.Model(conf, w), ids, n_new, man["num_chunks"])
    return new


def check_raw_run(fixture, text, n_new=24, threads=None):
    d = os.path.join(FIX, fixture)
    name = "run_raw_greedy_%s" % fixture + ("_t%d" % threads if threads else "")
    extra = ["-t", str(threads)] if threads else []
    t = anemone("tokenize", d, text)
    if t.returncode != 0:
        return report(False, name, "tokenize failed: " + t.stderr.decode())
    ids = json.loads(t.stdout)
    want_ids = reference(fixture, ids, n_new)
    want = detok(d, want_ids)
    got = anemone("run", d, "--raw", "--greedy", "--ignore-eos", "-n", str(n_new), *extra, text)
    if got.returncode != 0:
        return report(False, name, "exit %d: %s" % (got.returncode, got.stderr.decode()))
    report(got.stdout == want, name, "printed %r, reference %r" % (got.stdout, want))
    # nothing but text on stdout, no terminal control codes anywhere when piped
    report(b"\x1b" not in got.stdout + got.stderr, "run_no_control_codes_%s" % fixture, "escape codes in output")


def check_template_run(fixture, text, n_new=8):
    """With the chat template: the prompt is the template's rendering, tokenized without
    extra special tokens (as transformers' apply_chat_template does)."""
    d = os.path.join(FIX, fixture)
    name = "run_template_greedy_%s" % fixture
    msgs = os.path.join(os.environ.get("TMPDIR", "/tmp"), "anemone-run-msgs-%d.json" % os.getpid())
    json.dump([{"role": "user", "content": text}], open(msgs, "w"))
    try:
        p = anemone("template", d, "--messages", msgs)
    finally:
        os.unlink(msgs)
    if p.returncode != 0:
        return report(False, name, "template failed: " + p.stderr.decode())
    ids = json.loads(anemone("tokenize", "--no-special", d, p.stdout.decode()).stdout)
    want_ids = reference(fixture, ids, n_new)
    want = detok(d, want_ids)
    got = anemone("run", d, "--greedy", "--ignore-eos", "-n", str(n_new), text)
    report(got.returncode == 0 and got.stdout == want, name,
           "exit %d, printed %r, reference %r %s" % (got.returncode, got.stdout, want, got.stderr.decode()))


def check_stdin_and_errors():
    d = os.path.join(FIX, "llama-fp16-c1")
    a = anemone("run", d, "--raw", "--greedy", "-n", "6", "hello")
    b = anemone("run", d, "--raw", "--greedy", "-n", "6", stdin=b"hello")
    report(a.returncode == 0 and a.stdout == b.stdout, "run_prompt_from_stdin", "%r vs %r" % (a.stdout, b.stdout))
    s1 = anemone("run", d, "--raw", "--temp", "1.2", "-s", "7", "-n", "12", "hi")
    s2 = anemone("run", d, "--raw", "--temp", "1.2", "-s", "7", "-n", "12", "hi")
    report(s1.returncode == 0 and s1.stdout == s2.stdout, "run_seed_reproducible", "%r vs %r" % (s1.stdout, s2.stdout))
    j = anemone("run", d, "--raw", "--greedy", "-n", "5", "--json", "hi")
    try:
        stats = json.loads(j.stderr.decode().strip().splitlines()[-1])
        ok = stats["generated_tokens"] == 5 and stats["stop_reason"] == "max_tokens" and stats["prompt_tokens"] > 0
    except (ValueError, KeyError, IndexError) as e:
        ok, stats = False, str(e)
    report(ok, "run_json_stats", "stderr: %r" % j.stderr)
    m = anemone("run", "/nonexistent/model", "hi")
    report(m.returncode == 1 and m.stderr.decode().startswith("anemone: "), "run_missing_model_exit1", m.stderr.decode())
    u = anemone("run")
    report(u.returncode == 2, "run_no_model_usage_exit2", "exit %d" % u.returncode)
    u = anemone("run", d, "--top-p", "much")
    report(u.returncode == 2, "run_bad_flag_usage_exit2", "exit %d" % u.returncode)
    long_prompt = " ".join(["word"] * 200)
    c = anemone("run", d, "--raw", long_prompt)
    report(c.returncode == 1 and b"context" in c.stderr, "run_prompt_too_long", c.stderr.decode())


def check_chat_piped():
    d = os.path.join(FIX, "qwen3-fp16-c1")
    p = anemone("chat", d, "--greedy", "-n", "4", "-q", stdin=b"hi\n/set temp 0\n\"\"\"two\nlines\"\"\"\n/bye\nnot read\n")
    out = p.stdout.decode("utf-8", "replace")
    ok = p.returncode == 0 and b"\x1b" not in p.stdout + p.stderr and ">>>" not in out
    report(ok, "chat_piped_turns", "exit %d stdout %r stderr %r" % (p.returncode, p.stdout, p.stderr))
    # two piped turns: the second does not prefill the first turn's prompt again
    # (footer: "[ prefill N tok, ... | decode M tok, ... | ctx U/C ]")
    p = anemone("chat", d, "--greedy", "-n", "3", stdin=b"hi\nhello again\n")
    feet = [l for l in p.stderr.decode().splitlines() if l.startswith("[ prefill")]
    try:
        (p1, _, _), (p2, d2, u2) = [(int(f.split()[2]), int(f.split("decode ")[1].split()[0]),
                                     int(f.split("ctx ")[1].split("/")[0])) for f in feet]
        ok = len(feet) == 2 and p2 <= (u2 - d2) - p1
    except ValueError:
        ok = False
    report(ok, "chat_second_turn_reuses_cache", "footers %r" % feet)


def check_ctx_overflow():
    """--ctx-overflow: stop cuts the answer with a notice; shift drops the oldest turn and
    carries on with the answer (the 64-token test context fills within a turn)."""
    d = os.path.join(FIX, "qwen3-fp16-c1")
    feed = b"hi\n/set n_predict 60\nok\n"
    stop = anemone("chat", d, "--greedy", "-n", "3", stdin=feed)
    err = stop.stderr.decode()
    report(stop.returncode == 0 and "the answer was cut there" in err and "dropped" not in err,
           "chat_ctx_overflow_stop", err)
    shift = anemone("chat", d, "--greedy", "-n", "3", "--ctx-overflow", "shift", stdin=feed)
    err = shift.stderr.decode()
    feet = [l for l in err.splitlines() if l.startswith("[ prefill")]
    report(shift.returncode == 0 and "dropped the oldest turn and continued" in err and len(feet) == 2,
           "chat_ctx_overflow_shift_continues", err)
    # the continued answer is longer than what fitted before the shift
    cut = [l for l in stop.stderr.decode().splitlines() if l.startswith("[ prefill")]
    try:
        n_stop = len(stop.stdout.decode("utf-8", "replace"))
        n_shift = len(shift.stdout.decode("utf-8", "replace"))
        ok = len(cut) == 2 and n_shift > n_stop
    except ValueError:
        ok = False
    report(ok, "chat_ctx_overflow_shift_says_more", "stop %r / shift %r" % (stop.stdout, shift.stdout))


def check_bench():
    d = os.path.join(FIX, "llama-lut4-c2")
    for fmt in ("json", "jsonl", "csv", "md"):
        p = anemone("bench", d, "-p", "8,512", "-n", "4", "-pg", "8,4", "-r", "2", "-o", fmt)
        name = "bench_output_%s" % fmt
        if p.returncode != 0:
            report(False, name, p.stderr.decode())
            continue
        text = p.stdout.decode()
        try:
            if fmt == "json":
                rows = json.loads(text)
            elif fmt == "jsonl":
                rows = [json.loads(l) for l in text.splitlines() if l.strip()]
            elif fmt == "csv":
                import csv
                rows = list(csv.DictReader(text.splitlines()))
                for r in rows:
                    r["skipped"] = r["skipped"] == "1"
                    r["samples_ns"] = [float(x) for x in r["samples_ns"].split(";") if x]
            else:
                rows = [l for l in text.splitlines() if l.startswith("| ") and "test" not in l and "---" not in l]
                ok = len(rows) == 4 and "skipped" in rows[1] and "±" in rows[0]
                report(ok, name, text)
                continue
            tests = [r["test"] for r in rows]
            ok = tests == ["pp8", "pp512", "tg4", "pp8+tg4"]
            ok = ok and rows[1]["skipped"] and not rows[0]["skipped"]
            ok = ok and all(len(r["samples_ns"]) == 2 for r in rows if not r["skipped"])
            if fmt != "csv":
                ok = ok and all(r["peak_rss"] > 0 and r["avg_ts"] > 0 for r in rows if not r["skipped"])
            report(ok, name, text)
        except (ValueError, KeyError) as e:
            report(False, name, "%s in %r" % (e, text))


def physical_cores():
    """Distinct (core, socket) pairs, as lscpu(1) counts them; None when unknown."""
    try:
        out = subprocess.run(["lscpu", "-p=core,socket"], stdout=subprocess.PIPE, timeout=10).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return None
    pairs = {l for l in out.splitlines() if l and not l.startswith("#")}
    return len(pairs) or None


def check_threads():
    """-t reaches the engine (bench reports it), the default is the physical core count,
    and bad values are usage errors."""
    d = os.path.join(FIX, "llama-lut4-c2")
    for t in ("1", "3"):
        p = anemone("bench", d, "-p", "8", "-n", "2", "-r", "1", "-o", "json", "-t", t)
        rows = json.loads(p.stdout) if p.returncode == 0 else []
        report(bool(rows) and all(r["threads"] == int(t) for r in rows), "bench_threads_%s" % t,
               p.stdout.decode() + p.stderr.decode())
    cores = physical_cores()
    if cores is None:
        print("SKIP bench_threads_default: lscpu is not available")
    else:
        p = anemone("bench", d, "-p", "8", "-n", "2", "-r", "1", "-o", "json")
        rows = json.loads(p.stdout) if p.returncode == 0 else []
        report(bool(rows) and rows[0]["threads"] == cores, "bench_threads_default",
               "want %d: %s" % (cores, p.stdout.decode()))
    for bad in ("-1", "x", "1000"):
        p = anemone("run", d, "-t", bad, "hi")
        report(p.returncode == 2 and b"--threads" in p.stderr, "threads_usage_error_%s" % bad,
               "exit %d: %s" % (p.returncode, p.stderr.decode()))


def check_bench_membw():
    """--membw: the weight bytes per token are the FFN chunk's and LM head's weight files
    (sizes read here from the directory), and bw_fraction = bytes x t/s / bandwidth."""
    d = os.path.join(FIX, "qwen3-fp16-c1")
    want = 0
    for comp in os.listdir(d):
        if "embeddings" in comp or not comp.endswith((".mlpackage", ".mlmodelc")):
            continue
        for root, _, files in os.walk(os.path.join(d, comp)):
            if os.path.basename(root) == "weights":
                want += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    for fmt in ("json", "jsonl", "csv", "md"):
        name = "bench_membw_%s" % fmt
        p = anemone("bench", d, "-p", "4", "-n", "3", "-r", "1", "--membw", "--membw-size", "8", "-o", fmt)
        if p.returncode != 0:
            report(False, name, p.stderr.decode())
            continue
        text = p.stdout.decode()
        try:
            if fmt == "md":
                lines = text.splitlines()
                bw = [l for l in lines if l.startswith("memory bandwidth: read ")]
                wb = [l for l in lines if l.startswith("weights read per decoded token: ")]
                fr = [l for l in lines if l.startswith("tg3: ") and l.endswith("% of the bandwidth limit")]
                mib = float(wb[0].split(": ")[1].split(" MiB")[0]) if wb else -1
                ok = len(bw) == 1 and len(fr) == 1 and abs(mib - want / 1048576.0) < 0.01
                report(ok, name, text)
                continue
            if fmt == "json":
                rows = json.loads(text)
            elif fmt == "jsonl":
                rows = [json.loads(l) for l in text.splitlines() if l.strip()]
            else:
                import csv
                rows = list(csv.DictReader(text.splitlines()))
                for r in rows:
                    for k in ("avg_ts", "membw_read_gbs", "membw_copy_gbs", "load_ms"):
                        r[k] = float(r[k])
                    r["weight_bytes_per_token"] = int(r["weight_bytes_per_token"])
                    r["bw_fraction"] = float(r["bw_fraction"]) if r["bw_fraction"] else None
            ok = [r["test"] for r in rows] == ["pp4", "tg3"] and want > 0
            for r in rows:
                ok = ok and r["weight_bytes_per_token"] == want and r["membw_read_gbs"] > 0
                ok = ok and r["membw_copy_gbs"] > 0 and r["load_ms"] > 0
            ok = ok and rows[0]["bw_fraction"] is None
            tg = rows[1]
            frac = want * tg["avg_ts"] / (tg["membw_read_gbs"] * 1e9)
            ok = ok and tg["bw_fraction"] is not None and abs(tg["bw_fraction"] - frac) <= 1e-3 * frac + 1e-6
            report(ok, name, text)
        except (ValueError, KeyError, IndexError) as e:
            report(False, name, "%s in %r" % (e, text))


def check_bench_rss_own():
    """peak_rss is anemone's own: not the peak of the (bigger) process that started it."""
    ballast = bytearray(300 << 20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    p = anemone("bench", os.path.join(FIX, "qwen3-fp16-c1"), "-n", "2", "-r", "1", "-o", "json")
    del ballast
    try:
        rss = json.loads(p.stdout)[0]["peak_rss"]
        report(0 < rss < (200 << 20), "bench_peak_rss_own", "peak_rss %d with a 300 MiB parent" % rss)
    except (ValueError, KeyError, IndexError) as e:
        report(False, "bench_peak_rss_own", "%s: %r" % (e, p.stdout))


def check_show_model():
    """`anemone show MODEL` against the fixture manifests (written by the generator)."""
    for fx in sorted(os.listdir(GOLD)):
        man = json.load(open(os.path.join(GOLD, fx, "manifest.json")))
        c = man["config"]
        p = anemone("show", os.path.join(FIX, fx))
        out = p.stdout.decode()
        # parameters from the model's definition: embeddings, head, layers, norms, RoPE tables
        H, I, L, nh, nkv, D, V = c["hidden"], c["inter"], c["layers"], c["heads"], c["kv_heads"], c["head_dim"], c["vocab"]
        layer = H * nh * D + 2 * H * nkv * D + nh * D * H + 3 * H * I + 2 * H
        if c["family"] == "qwen3":
            layer += 2 * D
        params = 2 * V * H + L * layer + H + 2 * 2 * c["state"] * D
        want = ["context: %d tokens (state %d), prefill batch %d" % (c["ctx"], c["state"], c["batch"]),
                ("layout: monolithic" if man.get("monolithic") else "%d FFN chunk" % man["num_chunks"]),
                "parameters: %.2f M" % (params / 1e6)]
        if man.get("lut_ffn"):
            want.append("FFN LUT%d" % man["lut_ffn"])
        missing = [w for w in want if w not in out]
        report(p.returncode == 0 and not missing, "show_model_%s" % fx, "missing %r in:\n%s" % (missing, out[:600]))


def check_load_progress():
    """A terminal sees which component is loading; a pipe sees nothing of it."""
    import shutil
    d = os.path.join(FIX, "llama-lut4-c2")
    piped = anemone("run", d, "--raw", "-n", "2", "hi")
    report(b"loading" not in piped.stderr, "load_progress_not_on_pipes", piped.stderr.decode())
    if not shutil.which("script"):
        print("SKIP load_progress_on_terminal: script(1) is not installed")
        return
    cmd = "'%s' run '%s' --raw -n 2 hi" % (BIN, d)
    t = subprocess.run(["script", "-qec", cmd, "/dev/null"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=60)
    out = t.stdout.decode("utf-8", "replace")
    want = ["loading embeddings (1/4)", "loading FFN chunk 2 of 2 (3/4)", "loading LM head (4/4)"]
    report(t.returncode == 0 and all(w in out for w in want), "load_progress_on_terminal", repr(out[:400]))


check_show_model()
check_load_progress()
check_raw_run("llama-fp16-c1", "hello world, how are you")
check_raw_run("qwen3-fp16-c1", "hello world, how are you")
check_raw_run("llama-lut4-c2", "the quick brown fox")
check_raw_run("llama-lut4-c2", "the quick brown fox", threads=1)
check_raw_run("qwen3-lut6-c1-argmax", "the quick brown fox", threads=2)
check_raw_run("qwen3-updmask-c1", "the quick brown fox jumps over the lazy dog again", threads=3)
check_threads()
check_template_run("qwen3-fp16-c1", "hi")
check_template_run("llama-fp16-c1", "hi")
check_stdin_and_errors()
check_chat_piped()
check_ctx_overflow()
check_bench()
check_bench_membw()
check_bench_rss_own()
