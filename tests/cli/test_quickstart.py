"""The README's quick start, run for real: the `anemone pull` and `anemone run` commands of
its "Quick start" section, read from README.md (so the test follows the README), against
the local stand-in for the Hugging Face Hub (tests/hub/fake_hub.py) serving a test model
under the repo id the README names, into a fresh Hugging Face cache."""
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "hub"))
from fake_hub import FakeHub  # noqa: E402

BIN = os.environ.get("ANEMONE_BIN", os.path.join(REPO, "anemone"))
# like the repo the README names: Qwen3, two chunks of LUT6 FFN, ANEMLL 0.3.5, .mlmodelc
MODEL = os.path.join(REPO, "tests", "fixtures", "qwen3-lut6-c2-argmax")


def report(ok, name, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))


def quick_start_commands():
    """The anemone command lines in the code blocks of README.md's "## Quick start"."""
    text = open(os.path.join(REPO, "README.md")).read()
    start = text.index("\n## Quick start")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end >= 0 else len(text)]
    cmds, fenced = [], False
    for line in section.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            words = shlex.split(line, comments=True)
            if words and os.path.basename(words[0]) == "anemone":
                cmds.append(words)
    return cmds


def fixture_files():
    files = {}
    for root, _, names in os.walk(MODEL):
        for n in names:
            p = os.path.join(root, n)
            files[os.path.relpath(p, MODEL)] = open(p, "rb").read()
    return files


def main():
    try:
        cmds = quick_start_commands()
    except ValueError:
        return report(False, "quickstart_commands", "README.md has no '## Quick start' section")
    verbs = [c[1] if len(c) > 1 else "" for c in cmds]
    ok = verbs == ["pull", "run"] and len(cmds[0]) == 3 and cmds[1][2] == cmds[0][2]
    report(ok, "quickstart_commands", "want `anemone pull REPO` then `anemone run REPO ...`, found %r" % cmds)
    if not ok:
        return
    repo_id = cmds[0][2]
    if not os.path.isfile(os.path.join(MODEL, "meta.yaml")):
        return print("SKIP quickstart_pull_run: %s is missing" % MODEL)
    files = fixture_files()
    hub = FakeHub(lifetime=120)
    hub.add_repo(repo_id, files, [p for p in files if p.endswith(".bin")])
    hub.start()
    try:
        home = tempfile.mkdtemp(prefix="anemone-quickstart-")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGING")) and k not in
               ("TRANSFORMERS_OFFLINE", "ANEMONE_CACHE", "XDG_CACHE_HOME", "NO_COLOR")}
        env.update({"HOME": home, "HF_HOME": os.path.join(home, "hf"), "XDG_CACHE_HOME": os.path.join(home, "xdg"),
                    "HF_ENDPOINT": hub.endpoint, "ANEMONE_HUB_RETRY_BASE_MS": "20"})
        pull = subprocess.run([BIN] + cmds[0][1:], env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        d = pull.stdout.strip()
        cache = os.path.join(home, "hf", "hub", "models--" + repo_id.replace("/", "--"))
        report(pull.returncode == 0 and os.path.isfile(os.path.join(d, "meta.yaml")) and os.path.isdir(cache),
               "quickstart_pull", "status %d, stdout %r, stderr %r" % (pull.returncode, pull.stdout, pull.stderr))
        # the run streams: with each model step slowed down, the answer arrives in pieces
        n_hub = len(hub.log)
        p = subprocess.Popen([BIN] + cmds[1][1:], env=dict(env, ANEMONE_DEBUG_DELAY_MS="20"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pieces, t0 = [], time.time()
        while True:
            b = p.stdout.read1(4096)
            if not b:
                break
            pieces.append(b)
        err = p.stderr.read().decode(errors="replace")
        p.wait(timeout=60)
        out = b"".join(pieces)
        report(p.returncode == 0 and len(pieces) >= 2 and out.strip() != b"", "quickstart_run_streams",
               "status %d after %.1f s, %d pieces %r, stderr %r" % (p.returncode, time.time() - t0, len(pieces),
                                                                   out, err[-300:]))
        # what was pulled is what ran: nothing was downloaded again
        fetched = [e["path"] for e in hub.log[n_hub:] if e["method"] == "GET" and "/resolve/" in e["path"]]
        report(not fetched, "quickstart_run_uses_the_pulled_copy", "downloaded again: %r" % fetched)
    finally:
        hub.stop()
        subprocess.run(["rm", "-rf", home])


main()
