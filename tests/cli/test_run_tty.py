"""anemone run on a terminal and through pipes: dimmed thinking, --hide-thinking, Ctrl-C.

The terminal is a pseudo-terminal from Python's pty module. The thinking template
(tests/cli/think_open.jinja) opens a <think> section in its generation prompt, so the whole
answer of the random-weight model is thinking. ANEMONE_DEBUG_DELAY_MS makes each model step
slow enough to interrupt; the interrupt is SIGINT, what the terminal sends on Ctrl-C."""
import os
import pty
import re
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("ANEMONE_BIN", os.path.join(REPO, "anemone"))
MODEL = os.path.join(REPO, "tests", "fixtures", "qwen3-fp16-c1")
TEMPLATE = os.path.join(HERE, "think_open.jinja")
THINK = ["--chat-template", TEMPLATE, "-n", "6", "--seed", "1", "--greedy"]
LONG = "tell me a long story about the sea and the salt in the water"
SGR = re.compile(rb"\x1b\[[0-9;]*m")


def report(ok, name, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))


def env(**extra):
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ANEMONE_DEBUG_DELAY_MS")}
    e["TERM"] = "xterm"
    e.update(extra)
    return e


def on_tty(args, **extra):
    """Run with stdout on a pseudo-terminal (stderr to a pipe); the bytes it wrote, less
    the terminal's \\r before \\n."""
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN] + args, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                         env=env(**extra))
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    p.wait(timeout=60)
    p.stderr.close()
    return p.returncode, out.replace(b"\r\n", b"\n")


def piped(args, **extra):
    p = subprocess.run([BIN] + args, stdin=subprocess.DEVNULL, capture_output=True, env=env(**extra), timeout=60)
    return p.returncode, p.stdout, p.stderr


def thinking():
    rc, plain, err = piped(["run", MODEL] + THINK + ["hi"])
    report(rc == 0 and plain and b"\x1b" not in plain + err, "run_thinking_pipe_plain",
           "rc %d, stdout %r, stderr %r" % (rc, plain, err[-200:]))
    rc, tty = on_tty(["run", MODEL] + THINK + ["hi"])
    undimmed = re.sub(rb"\x1b\[2m[^\x1b]*\x1b\[0m", b"", tty)
    # every piece of the answer between ESC[2m and ESC[0m; the same text as through a pipe
    # (and the newline a terminal gets at the end)
    report(rc == 0 and tty.startswith(b"\x1b[2m") and undimmed == b"\n" and SGR.sub(b"", tty) == plain + b"\n",
           "run_thinking_tty_dimmed", "rc %d, tty %r, pipe %r" % (rc, tty, plain))
    rc, tty = on_tty(["run", MODEL] + THINK + ["hi"], NO_COLOR="1")
    report(rc == 0 and tty == plain + b"\n", "run_thinking_tty_no_color", "rc %d, tty %r" % (rc, tty))
    rc, tty = on_tty(["run", MODEL] + THINK + ["--hide-thinking", "hi"])
    report(rc == 0 and tty == b"\n", "run_hide_thinking_tty", "rc %d, tty %r" % (rc, tty))
    rc, out, err = piped(["run", MODEL] + THINK + ["--hide-thinking", "hi"])
    report(rc == 0 and out == b"", "run_hide_thinking_pipe", "rc %d, stdout %r" % (rc, out))


def wait_sleeping(pid, timeout=30):
    """Until the process sleeps in the step delay (Linux /proc/PID/wchan); False if never."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if "nanosleep" in open("/proc/%d/wchan" % pid).read():
                return True
        except OSError:
            return False
        time.sleep(0.01)
    return False


def interrupt():
    args = ["run", MODEL, "-n", "30", "--seed", "1", "--greedy", "--ignore-eos", "--stats"]
    rc, full, _ = piped(args + ["go"])
    if rc != 0 or not full:
        return report(False, "run_ctrl_c_generation", "the plain run: rc %d, %r" % (rc, full))
    # during the answer: what was generated so far is written out, the status is 130
    p = subprocess.Popen([BIN] + args + ["go"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env(ANEMONE_DEBUG_DELAY_MS="300"))
    first = p.stdout.read1(4096)  # the answer has begun
    p.send_signal(signal.SIGINT)
    rest = p.stdout.read()
    err = p.stderr.read()
    p.wait(timeout=60)
    got = first + rest
    report(p.returncode == 130 and got and len(got) < len(full) and full.startswith(got)
           and b"stop: cancelled" in err, "run_ctrl_c_generation",
           "status %d, printed %r of %r, stderr %r" % (p.returncode, got, full, err[-300:]))
    # during the prefill (6 batches of 8 tokens, 400 ms each): nothing printed, status 130
    p = subprocess.Popen([BIN] + args + [LONG], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env(ANEMONE_DEBUG_DELAY_MS="400"))
    if not wait_sleeping(p.pid):
        time.sleep(0.5)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    # stopped at once, not after the 2 s of prefill left
    report(p.returncode == 130 and out == b"" and b"generated 0 tok" in err and time.time() - t0 < 1.5,
           "run_ctrl_c_prefill", "status %d after %.1f s, stdout %r, stderr %r"
           % (p.returncode, time.time() - t0, out, err[-300:]))


def main():
    if not os.path.isfile(os.path.join(MODEL, "meta.yaml")):
        for n in ("thinking", "ctrl_c"):
            print("SKIP run_tty_%s: %s is missing" % (n, MODEL))
        return
    thinking()
    interrupt()


main()
