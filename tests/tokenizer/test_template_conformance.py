#!/usr/bin/env python3
"""Chat-template conformance: every real template in $ANEMONE_SHARED (chat-templates/*
and tokenizers/*) × every conversation in data/conversations.json × add_generation_prompt
on/off × enable_thinking unset/true/false, rendered by the C engine (tool_tpl) and by
Python Jinja2 in the transformers environment (jinja_ref.py), compared byte for byte.
When Jinja2 raises, the engine must fail too (with the same message for raise_exception).
Then `anemone template DIR` itself, on every model folder, for the config-reading path."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jinja_ref  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def model_dirs(shared):
    out = []
    for group in ("chat-templates", "tokenizers"):
        base = os.path.join(shared, group)
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            d = os.path.join(base, name)
            if os.path.exists(os.path.join(d, "tokenizer_config.json")) and jinja_ref.model_template(d):
                out.append((group + "/" + name, d))
    return out


def main():
    shared = jinja_ref.shared_dir()
    if not shared:
        print("SKIP template_conformance: no shared data (set ANEMONE_SHARED)")
        return 0
    batch = jinja_ref.Batch()
    if not batch.available():
        print("SKIP template_conformance: %s not built" % batch.tool)
        return 0
    with open(os.path.join(HERE, "data", "conversations.json"), encoding="utf-8") as f:
        convs = json.load(f)
    cases, meta = [], []
    models = model_dirs(shared)
    for label, d in models:
        src = jinja_ref.model_template(d)
        with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
            toks = jinja_ref.special_tokens(json.load(f))
        for conv in convs:
            for gen in (True, False):
                for think in (None, True, False):
                    v = dict(toks)
                    v.update(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                             add_generation_prompt=gen)
                    if think is not None:
                        v["enable_thinking"] = think
                    cases.append((src, v))
                    meta.append((label, conv["name"], gen, think))
    ours = batch.run(cases)
    checks = agreed_errors = failed = 0
    per = {}
    for (src, v), (ok, text), (label, cname, gen, think) in zip(cases, ours, meta):
        rok, rtext = jinja_ref.render(src, v)
        checks += 1
        key = (label, cname)
        per.setdefault(key, [])
        if rok and ok and rtext == text:
            continue
        if not rok and not ok:
            if rtext.startswith("TemplateError: ") and rtext[len("TemplateError: "):] != text:
                per[key].append("gen=%s think=%s: raise_exception message %r vs jinja2 %r" % (gen, think, text, rtext))
            else:
                agreed_errors += 1
            continue
        if rok and not ok:
            per[key].append("gen=%s think=%s: we failed (%s), jinja2 rendered" % (gen, think, text))
        elif ok and not rok:
            per[key].append("gen=%s think=%s: we rendered, jinja2 failed (%s)" % (gen, think, rtext))
        else:
            per[key].append("gen=%s think=%s: output differs %s" % (gen, think, jinja_ref.first_diff(text, rtext)))
    for (label, cname), errs in per.items():
        if errs:
            failed += 1
            print("FAIL conformance %s × %s: %s" % (label, cname, "; ".join(errs[:2])))
        else:
            print("PASS conformance %s × %s" % (label, cname))
    print("# %d templates x %d conversations x 6 variants = %d renders compared with Jinja2 "
          "(%d where both raise)" % (len(models), len(convs), checks, agreed_errors))

    # The command itself: config reading (AddedToken objects, chat_template.jinja), the
    # variables it passes, stdout with nothing added.
    binary = os.environ.get("ANEMONE_BIN", "./anemone")
    with tempfile.TemporaryDirectory() as tmp:
        for label, d in models:
            for cname in ("multi_turn_system", "tool_call_round"):
                conv = next(c for c in convs if c["name"] == cname)
                path = os.path.join(tmp, "conv.json")
                with open(path, "w", encoding="utf-8") as f:
                    json.dump({"messages": conv["messages"], "tools": conv.get("tools")}, f, ensure_ascii=False)
                with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
                    v = jinja_ref.special_tokens(json.load(f))
                v.update(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                         add_generation_prompt=False, enable_thinking=False)
                rok, rtext = jinja_ref.render(jinja_ref.model_template(d), v)
                p = subprocess.run([binary, "template", d, "--messages", path, "--no-generation-prompt",
                                    "--var", "enable_thinking=false"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, check=False)
                name = "cli_template %s × %s" % (label, cname)
                out = p.stdout.decode("utf-8", "replace")
                if rok and p.returncode == 0 and out == rtext:
                    print("PASS " + name)
                elif not rok and p.returncode == 1 and out == "":
                    print("PASS " + name)
                else:
                    print("FAIL %s: exit %d, %s" % (name, p.returncode,
                          jinja_ref.first_diff(out, rtext) if rok else "jinja2 failed: " + rtext))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
