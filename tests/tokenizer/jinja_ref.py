"""The reference renderer: Python Jinja2 set up as Hugging Face transformers sets it up
for chat templates (transformers/utils/chat_template_utils.py, _compile_jinja_template):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, loopcontrols]), tojson replaced by json.dumps with
ensure_ascii=False, and the globals raise_exception and strftime_now.

Standard library + jinja2 only: this is the independent reference the C engine is
compared with, not a copy of it. Also shared helpers for the template tests.
"""
import json
import os
import subprocess
import sys
from datetime import datetime

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    # transformers records where {% generation %} blocks fall to build assistant masks;
    # the rendered text is the body, unchanged.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt):
    return datetime.now().strftime(fmt)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


_ENV = environment()
_CACHE = {}


def render(source, variables):
    """(True, text) or (False, "ExceptionType: message")."""
    try:
        t = _CACHE.get(source)
        if t is None:
            t = _CACHE[source] = _ENV.from_string(source)
        return True, t.render(**variables)
    except Exception as e:  # any failure is an outcome to compare
        return False, "%s: %s" % (type(e).__name__, e)


def special_tokens(cfg):
    """The special tokens transformers passes to templates (string or AddedToken dict)."""
    out = {}
    for k in ("bos_token", "eos_token", "unk_token", "pad_token"):
        v = cfg.get(k)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str):
            out[k] = v
    return out


def model_template(d):
    """The template of a model folder, as transformers picks it (chat_template.jinja wins)."""
    j = os.path.join(d, "chat_template.jinja")
    if os.path.exists(j):
        with open(j, encoding="utf-8") as f:
            return f.read()
    with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
        ct = json.load(f).get("chat_template")
    if isinstance(ct, list):
        ct = {e["name"]: e["template"] for e in ct}.get("default")
    return ct


class Batch:
    """Feeds {template, vars} lines to build/tests/tokenizer/tool_tpl, one process."""

    def __init__(self):
        build = os.environ.get("ANEMONE_BUILD", "build")
        self.tool = os.path.join(build, "tests", "tokenizer", "tool_tpl")

    def available(self):
        return os.access(self.tool, os.X_OK)

    def run(self, cases):
        data = "".join(json.dumps({"template": t, "vars": v}, ensure_ascii=False) + "\n" for t, v in cases)
        p = subprocess.run([self.tool], input=data.encode("utf-8"), stdout=subprocess.PIPE, check=False)
        if p.returncode != 0:
            raise RuntimeError("tool_tpl exited with status %d" % p.returncode)
        res = [json.loads(l) for l in p.stdout.decode("utf-8").split("\n") if l]
        if len(res) != len(cases):
            raise RuntimeError("tool_tpl answered %d of %d cases" % (len(res), len(cases)))
        return [(r["ok"], r["out"] if r["ok"] else r["error"]) for r in res]


def shared_dir():
    d = os.environ.get("ANEMONE_SHARED")
    if not d:
        d = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")
    d = os.path.join(d, "data")
    return d if os.path.isdir(d) else None


def first_diff(a, b):
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return "at char %d: ours %r vs jinja2 %r" % (i, a[i:i + 40], b[i:i + 40])
