#!/usr/bin/env python3
"""Jinja2 semantics, one feature at a time: each snippet is rendered by the C engine
(tool_tpl) and by Python Jinja2 in the transformers environment (jinja_ref.py) and the
outputs must be byte-identical; where Jinja2 raises, the engine must fail too."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jinja_ref  # noqa: E402

V = {
    "s": "Hello, World", "u": "héllo wörld ß ǅ", "n": 7, "f": 2.5, "neg": -3, "z": 0, "t": True, "fl": False,
    "nil": None, "lst": [3, 1, 2], "strs": ["b", "A", "c", "a"], "d": {"b": 1, "a": 2, "items": 3},
    "msgs": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
             {"role": "assistant", "content": "<think>\nr\n</think>\n\nok"}],
    "nested": {"x": [1, {"y": "z"}], "w": None, "q": "a\"b'c\\d\n\té"},
    "big": 12345678901234, "tiny": 1e-7, "huge": 1.5e300, "third": 1 / 3, "parts": [{"type": "text", "text": "A"}],
    "empty": [], "edict": {}, "es": "", "ws": "  \t x y \n ",
}

SNIPPETS = [
    # literals, escapes, numbers, float repr
    "{{ 'a\\nb\\t\\\\c\\'d\"e' }}", '{{ "x\\u00e9\\x41\\101" }}', "{{ 'unknown \\q escape' }}",
    "{{ 1 }}|{{ -1 }}|{{ 1.0 }}|{{ 1.5e3 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ 1_000 }}",
    "{{ 0.1 + 0.2 }}|{{ 1/3 }}|{{ 2/2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }}",
    "{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 2.0 ** 2 }}|{{ 3 * 'ab' }}|{{ 'ab' * 2 }}|{{ [1] * 3 }}",
    "{{ big }}|{{ tiny }}|{{ huge }}|{{ third }}|{{ f }}|{{ -f }}|{{ +n }}|{{ -neg }}",
    "{{ true }}|{{ True }}|{{ none }}|{{ None }}|{{ false }}|{{ nil }}|{{ t }}",
    "{{ [1, 'a', none, true, 1.5, [2]] }}|{{ (1,) }}|{{ (1, 2) }}|{{ () }}|{{ {'a': 1, 'b': [none]} }}",
    "{{ nested }}|{{ msgs[0] }}|{{ 'it\\'s' }}|{{ ['it\\'s', 'a\"b', 'both\\'\"'] }}",
    "{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'a' < 'b' }}|{{ [1,2] < [1,3] }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ 1.0 ~ undefined_thing }}|{{ 1 + 2 ~ 3 }}|{{ 'x' ~ [1] }}",
    "{{ 'ell' in s }}|{{ 2 in lst }}|{{ 'a' in d }}|{{ 'q' not in d }}|{{ 'x' in undefined_thing }}",
    "{{ n if t else f }}|{{ n if fl else f }}|{{ n if fl }}|{{ t and n }}|{{ fl or 'dflt' }}|{{ not t }}",
    # attribute / item access, slices
    "{{ s[0] }}{{ s[-1] }}|{{ s[1:4] }}|{{ s[::-1] }}|{{ s[::2] }}|{{ s[-3:] }}|{{ s[:-3] }}|{{ s[5:1:-1] }}|{{ s[100:] }}",
    "{{ u[::-1] }}|{{ u[1:3] }}|{{ u[-2] }}|{{ u|length }}|{{ lst[::-1] }}|{{ lst[1:] }}|{{ lst[-1] }}|{{ lst[10] }}",
    "{{ msgs[1].content }}|{{ msgs[1]['role'] }}|{{ d.b }}|{{ d['a'] }}|{{ d.missing }}|{{ lst.0 }}|{{ (msgs|last).role }}",
    "{{ d.items() | list }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.get('a') }}|{{ d.get('zz', 5) }}|{{ d.get('zz') }}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}",
    # string methods
    "{{ s.upper() }}|{{ s.lower() }}|{{ s.title() }}|{{ 'hello world'.capitalize() }}|{{ u.upper() }}|{{ u.title() }}",
    "{{ ws.strip() }}|{{ ws.lstrip() }}|{{ ws.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ '\\n\\nhi\\n'.rstrip('\\n') }}",
    "{{ s.startswith('Hell') }}|{{ s.endswith('x') }}|{{ s.startswith(('a', 'H')) }}|{{ s.replace('l', 'L') }}|{{ s.replace('l', '', 1) }}",
    "{{ 'a,b,,c'.split(',') }}|{{ ' a  b c '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'a b  c'.rsplit(None, 1) }}",
    "{{ msgs[2].content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}|{{ msgs[2].content.split('</think>')[-1].lstrip('\\n') }}",
    "{{ '{} and {}'.format(1, 'b') }}|{{ '{0}{1}{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='n') }}|{{ s.find('o') }}|{{ s.rfind('o') }}|{{ s.count('l') }}",
    "{{ '-'.join(['a', 'b']) }}|{{ 'ab\\ncd\\r\\nef'.splitlines() }}|{{ '12'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ ' '.isspace() }}",
    # filters
    "{{ ws|trim }}|{{ 'xxaxx'|trim('x') }}|{{ s|length }}|{{ lst|count }}|{{ s|upper }}|{{ s|lower }}|{{ 'hello wORLD-foo(bar'|title }}|{{ 'hELLO'|capitalize }}",
    "{{ s|replace('o', '0') }}|{{ lst|join(', ') }}|{{ strs|join }}|{{ msgs|map(attribute='role')|join('/') }}|{{ lst|first }}|{{ lst|last }}|{{ s|first }}",
    "{{ 'abc'|list }}|{{ d|list }}|{{ d|items|list }}|{{ undefined_thing|items|list }}|{{ lst|reverse|list }}|{{ 'abc'|reverse }}",
    "{{ undefined_thing|default('dv') }}|{{ nil|default('dv') }}|{{ es|default('dv', true) }}|{{ es|d('x', boolean=true) }}|{{ undefined_thing|d }}",
    "{{ '42'|int }}|{{ '42.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(7) }}|{{ 3.9|int }}|{{ '0x1A'|int(0, 16) }}|{{ '3.5'|float }}|{{ 'x'|float }}|{{ 4|float }}",
    "{{ n|string }}|{{ f|string ~ 'x' }}|{{ lst|string }}|{{ nil|string }}|{{ 3.7|round }}|{{ 2.5|round }}|{{ 3.14159|round(2) }}|{{ 7|round }}|{{ 2.567|round(1, 'floor') }}|{{ 2.1|round(0, 'ceil') }}",
    "{{ neg|abs }}|{{ -2.5|abs }}|{{ lst|sum }}|{{ lst|min }}|{{ lst|max }}|{{ strs|sort }}|{{ strs|sort(case_sensitive=true) }}|{{ lst|sort(reverse=true) }}|{{ strs|unique|list }}",
    "{{ [1, 'a', 2, 'b']|select('string')|list }}|{{ lst|select('odd')|list }}|{{ lst|reject('odd')|list }}|{{ [0, 1, '', 'x']|select|list }}",
    "{{ msgs|selectattr('role', 'equalto', 'user')|list }}|{{ msgs|rejectattr('role', '==', 'system')|map(attribute='role')|list }}|{{ msgs|selectattr('content')|list|length }}",
    "{{ lst|map('string')|join('+') }}|{{ strs|map('upper')|list }}|{{ [[1, 2], [3]]|map('length')|list }}|{{ msgs|map(attribute='nope', default='-')|list }}",
    "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x\\ny'|indent('> ') }}",
    "{{ '<a href=\"x\">&\\'</a>'|e }}|{{ '<b>'|escape }}|{{ '<b>'|safe }}|{{ (lst + [4, 5])|batch(2)|list }}|{{ lst|batch(2, 0)|list }}",
    "{{ 'one two  three'|wordcount }}|{{ 'ab'|center(6) }}|{{ d|dictsort }}|{{ [3, 1]|sort|first }}",
    # tojson, as transformers defines it
    "{{ nested|tojson }}|{{ msgs[0]|tojson }}|{{ 'é\"\\n'|tojson }}|{{ [1, 2.0, none, true]|tojson }}|{{ f|tojson }}",
    "{{ nested|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ empty|tojson(indent=4) }}|{{ edict|tojson }}",
    "{{ {'a': [1, {'b': []}], 'c': {}}|tojson(indent=2) }}|{{ nested|tojson(indent='\\t') }}|{{ {1: 'x', 2.5: 'y', true: 'z', none: 'n'}|tojson }}",
    # tests
    "{{ n is number }}{{ t is number }}{{ s is string }}{{ d is mapping }}{{ lst is iterable }}{{ s is iterable }}{{ n is iterable }}{{ lst is sequence }}{{ d is sequence }}",
    "{{ t is boolean }}{{ n is boolean }}{{ t is true }}{{ 1 is true }}{{ fl is false }}{{ nil is none }}{{ undefined_thing is defined }}{{ undefined_thing is undefined }}{{ n is defined }}",
    "{{ n is odd }}{{ n is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ n is integer }}{{ f is float }}{{ n is float }}{{ n is eq 7 }}{{ n is ne 7 }}{{ n is lt 8 }}{{ n is ge 8 }}",
    "{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'a' is in 'abc' }}{{ nil is sameas none }}{{ t is sameas true }}{{ range is callable }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ n is not none }}",
    # statements: if/elif/else, for with loop.*, else, filter, break/continue
    "{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}|{% if nil %}x{% elif 0 %}y{% endif %}",
    "{% for x in lst %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for x in lst %}{{ loop.previtem|default('-') }}>{{ x }}>{{ loop.nextitem|default('-') }} {% endfor %}|{% for x in lst %}{{ loop.cycle('a', 'b') }}{% endfor %}",
    "{% for x in empty %}no{% else %}empty{% endfor %}|{% for x in lst if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}|{% for x in undefined_thing %}u{% endfor %}",
    "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}|{{ range(3)|list }}|{{ range(1, 10, 3)|list }}|{{ range(5, 0, -2)|list }}",
    "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}|{% for m in msgs %}{{ m.role[0] }}{% endfor %}|{% for c in 'héy' %}[{{ c }}]{% endfor %}",
    "{% for x in [1, 2] %}{% for y in [3, 4] %}{{ loop.index }}{{ x }}{{ y }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for m in msgs|reverse %}{{ m.role }},{% endfor %}|{% for m in msgs[::-1] %}{{ loop.index0 }}{% endfor %}",
    # set, namespace, scoping
    "{% set x = 5 %}{% set y = x * 2 %}{{ x }},{{ y }}|{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t1 = (1, 2) %}{{ t1 }}",
    "{% set x = 1 %}{% for i in lst %}{% set x = i %}{% endfor %}{{ x }}|{% set ns = namespace(x=1, found=false) %}{% for i in lst %}{% set ns.x = ns.x + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.x }}{{ ns.found }}",
    "{% set ns = namespace(d={'a': 1}) %}{{ ns.d.a }}{{ ns.missing is defined }}|{% if true %}{% set inif = 3 %}{% endif %}{{ inif }}",
    "{% set block %}inner {{ n }}{% endset %}[{{ block }}]|{% set up | upper %}shout{% endset %}{{ up }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}",
    # macros, call blocks, filter blocks, raw, comments
    "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}",
    "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}|{% macro r(k) %}{% if k > 0 %}{{ k }}{{ r(k - 1) }}{% endif %}{% endmacro %}{{ r(3) }}",
    "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ n }}{% endcall %}|{% macro li(x) %}{% for i in x %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(item) li([1, 2]) %}<{{ item }}>{% endcall %}",
    "{% filter upper %}abc {{ s }}{% endfilter %}|{% filter replace('a', 'b')|upper %}aaa{% endfilter %}",
    "{% raw %}{{ not rendered }} {% if %}{% endraw %}|{# a comment #}x{# multi\nline #}y",
    # whitespace control with trim_blocks / lstrip_blocks
    "a\n{% if true %}\nb\n{% endif %}\nc",
    "a\n    {% if true %}\n    b\n    {% endif %}\nc\n",
    "  {{ n }}  \n  {%- if true -%}  x  {%- endif %}  \n  y",
    "<{%- if true %} a {% endif -%}>\n{%+ if true %}plus{% endif %}\n  {%+ if true %}keep{% endif %}",
    "x {# c #}\n  {# c2 #}\ny\n{%- for i in lst %}\n  {{ i }}\n{%- endfor %}\nz",
    "line1\r\nline2\r\n{% if true %}\r\nin\r\n{% endif %}\r\n",
    "{% for m in msgs %}\n{% if m.role == 'user' %}\n{{- '<u>' + m.content + '</u>\\n' }}\n{% elif m.role == 'assistant' %}\n    {{- '<a>' + m.content }}\n{% endif %}\n{% endfor %}\n",
    "{{- '  lead' -}}   \n  {{ 'trail' }} {{- ' x ' -}} end\n\n",
    "{% generation %}gen {{ n }}{% endgeneration %}",
    # undefined behaviour, content parts
    "{{ undefined_thing }}|{{ undefined_thing|length }}|{{ undefined_thing|upper }}|{{ undefined_thing is none }}|{{ d.missing is defined }}|[{{ d.missing }}]",
    "{% if parts is string %}s{% else %}{% for p in parts %}{% if p.type == 'text' %}{{ p.text }}{% endif %}{% endfor %}{% endif %}",
    "{{ msgs|length }}{{ msgs[0]['content'] is string }}{{ (msgs|selectattr('role', 'eq', 'user')|first).content }}",
    "{{ dict(a=1, b='x') }}|{{ namespace(a=1).a }}|{{ strftime_now('%Y') is string }}",
    # errors: Jinja2 raises, the engine must fail too
    "{{ undefined_thing.attr }}", "{{ undefined_thing + 1 }}", "{{ 1 + 'a' }}", "{{ 1 / 0 }}", "{{ 1 // 0 }}",
    "{{ raise_exception('custom message here') }}", "{{ lst.append(4) }}", "{{ d.update({'x': 1}) }}",
    "{{ nil.x.y }}", "{{ 'a' < 1 }}", "{{ range(1000000)|length }}", "{% set x.y = 1 %}", "{{ none() }}",
    "{{ d.missing.deeper }}", "{{ 1 in 5 }}", "{{ nested|tojson(ensure_ascii=true) if false else 'ok' }}",
    # scoping and loops, in more depth
    "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}",
    "{% for i in [1, 2, 3] %}{% if i > 1 %}{{ y }}{% endif %}{% set y = i %}{% endfor %}",
    "{% for i in [1, 1, 2, 3, 3] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %}|{{ loop is defined }}",
    "{% macro show() %}{{ outer }}{% endmacro %}{% set outer = 'late' %}{{ show() }}",
    "{% macro m(a, b=a * 2) %}{{ a }}{{ b }}{% endmacro %}{{ m(2) }}{{ m(2, 5) }}{{ m() }}",
    "{% for x in [1, 2] %}{% for x in ['a'] %}{{ x }}{{ loop.index }}{% endfor %}{{ x }}{{ loop.index }}{% endfor %}",
    "{% set d2 = {'a': 1, 'b': 2, 'a': 3} %}{{ d2 }}|{{ d }}|{{ {'k': d}|tojson }}",
    "{% set ns = namespace(items=[]) %}{% for i in lst %}{% set ns.items = ns.items + [i * 2] %}{% endfor %}{{ ns.items }}",
    "{%- for message in msgs[::-1] %}{%- set index = (msgs|length - 1) - loop.index0 %}{{ index }}{{ message.role[0] }}{% endfor %}",
    "{{ 'a' 'b' \"c\" }}|{{ \"{{\" }}|{{ '%}' }}|{{ 7 / 2 }}|{{ 3.0 == 3 }}|{{ 0.1 * 3 }}|{{ 1e100 }}|{{ 1e-7|tojson }}|{{ 1e16|tojson }}",
    "{{ -1|abs }}|{{ not undefined_thing is defined }}|{{ 1 if undefined_thing is defined else 2 }}|{{ undefined_thing == none }}|{{ nil == none }}",
    "{{ undefined_thing|first }}|{{ undefined_thing|list }}|{{ undefined_thing|join(',') }}|{{ empty|first }}|{{ undefined_thing|trim }}|{{ undefined_thing|string }}",
    "{{ msgs|selectattr('role', 'in', ['user', 'system'])|list|length }}|{{ (lst|sort)[0] }}|{{ range(3)|reverse|list }}|{{ lst|map('string')|list }}",
    "{{ s[1:] ~ 'x' }}|{{ lst|length > 2 }}|{{ msgs[1:]|length }}|{{ nested.x.1.y }}|{{ nested['x'][0] + 1 }}",
    "{% if not tools is defined %}{% set tools = none %}{% endif %}{{ tools }}|{% if tools is not none %}t{% else %}n{% endif %}",
    "  {# comment #}\n  text\n  {#- trimmed #}  \nend",
    "a  {%- if true %}  b  {% endif -%}  c\n  {{- ' d ' }}  \n",
    "{% for i in lst %}\n  {% if i == 1 %}\n    one\n  {% else %}\n    {{ i }}\n  {% endif %}\n{% endfor %}\n",
    "{%- if true -%}\n\n  x  \n\n{%- endif -%}\n\n",
    "{% set x %}\n  a\n{% endset %}[{{ x }}]",
    "{% raw -%}   {{ x }}   {%- endraw %}|{%- raw %} a {% endraw -%}  |",
    "{{ s.split(', ') | map('lower') | join('-') }}|{{ ('a' ~ 'b')|upper }}|{{ [3, 1, 2]|sort|join }}|{{ 'x'.join(['1', '2']) }}",
    "{{ 'ǅungla'.lower() }}|{{ 'İ'.lower()|length }}|{{ 'ﬁ'.upper() }}|{{ 'straße'|upper }}|{{ 'aBc DeF'|capitalize }}",
    "{{ '  a\u00a0\u3000'|trim|length }}|{{ 'a\u3000b'.split() }}|{{ 'x\u2028y'.splitlines() }}",
    "{{ 'abc' < 'abd' }}{{ 'é' > 'z' }}{{ [1, 'a'] == [1, 'a'] }}{{ (1, 2) == [1, 2] }}{{ {'a': 1} == {'a': 1} }}{{ 1 != 1.0 }}",
    "{{ 10 ** 3 }}|{{ 2 ** 0.5 }}|{{ -2 ** 2 }}|{{ (-2) ** 2 }}|{{ 2 * 3 + 4 }}|{{ 2 + 3 * 4 }}|{{ 10 - 2 - 3 }}|{{ 2 ** 3 ** 2 }}",
    "{{ 1 ~ 2 + 3 }}|{{ 'a' ~ 2 * 3 }}|{{ not 1 == 2 }}|{{ not 1 and 0 }}|{{ 0 or none or '' }}|{{ [] or 'e' }}",
    "{{ lst[1:2][0] }}|{{ lst[-10:10] }}|{{ lst[::-2] }}|{{ lst[2:0:-1] }}|{{ s[-100:3] }}|{{ s[3:-100:-1] }}|{{ lst[:] }}",
    "{{ t|int }}|{{ fl|float }}|{{ ' 12 '|int }}|{{ '-3'|int }}|{{ '1_000'|int }}|{{ '1e3'|float }}|{{ 'inf'|float }}|{{ nil|int }}",
    "{{ 2.5|round|int }}|{{ 3.5|round }}|{{ -2.5|round }}|{{ 1.005|round(2) }}|{{ 0.125|round(2) }}|{{ 12345|round(-2) }}",
    "{{ {'b': 1, 'a': {'d': 1, 'c': 2}}|tojson(sort_keys=true, indent=1) }}|{{ [[]]|tojson(indent=2) }}|{{ 'tab\\there\\x01\\x7f\\u2028'|tojson }}",
    "{{ msgs[2].content|replace('\\n', '\\\\n') }}|{{ 'a\\nb'|replace('\\n', '') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|replace('', '-') }}",
    "{% for k, v in {'x': 1, 'y': [2]}|items %}{{ k }}{{ v }}{% endfor %}|{% for p in d|dictsort %}{{ p[0] }}{% endfor %}",
    "{{ lst|batch(2)|map('sum')|list }}|{{ ['a', 'B', 'a', 'b']|unique|list }}|{{ ['a', 'B', 'A']|unique(case_sensitive=true)|list }}|{{ strs|max }}|{{ strs|min }}",
    "{{ msgs|map(attribute='content')|select('string')|map('length')|list }}|{{ msgs|sum(attribute='role', start='') if false else 'n' }}",
    "{{ {'a': none}|tojson }}|{{ [true, false]|tojson }}|{{ 'é'|tojson(ensure_ascii=false) }}|{{ 12.0|tojson }}|{{ -0.0|tojson }}|{{ -0.0 }}",
    "{{ undefined_thing[0] }}", "{{ undefined_thing() }}", "{{ lst['a'] }}", "{{ lst[1.5] if false else 'x' }}",
    "{% macro rec(n) %}{{ rec(n + 1) }}{% endmacro %}{{ rec(0) }}",
    "{{ 'abc'.nosuchmethod() }}", "{% for a, b in [1, 2] %}{% endfor %}", "{{ {[1]: 2} }}", "{{ ns.x }}",
    "{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }}{{ ns }}",
    "{% if true %}{% elif %}{% endif %}", "{% for %}", "{{ a.  }}", "{% macro %}{% endmacro %}", "{% set = 1 %}", "{{ 'a' ~ }}",
    "{% for x in lst %}{{ x }}{% endfor %}{% endfor %}", "{% if true %}{% else %}{% else %}{% endif %}", "{{ [1, 2 }}", "{{ {1: } }}",
    "{{ [1, 2][:, :-1] }}", "{{ 1E5 }}", "{% call foo %}{% endcall %}", "{% filter %}{% endfilter %}", "{%- raw %}never closed", "{# never closed", "{{ 1 }", "{{ x is }}",
    # syntax errors
    "{% if %}", "{{ }}", "{% for x in %}{% endfor %}", "{% endif %}", "{{ 'unterminated }}", "{% if true %}no end",
    "{{ 1 + }}", "{% foo %}", "{{ x|nosuchfilter }}", "{{ x is nosuchtest }}", "{% break %}", "{{ (1, 2 }}",
]


def main():
    batch = jinja_ref.Batch()
    if not batch.available():
        print("SKIP template_jinja: %s not built" % batch.tool)
        return 0
    ours = batch.run([(s, V) for s in SNIPPETS])
    failed = 0
    for i, (src, (ok, text)) in enumerate(zip(SNIPPETS, ours)):
        rok, rtext = jinja_ref.render(src, V)
        name = "jinja_snippet_%03d %s" % (i, src[:50].replace("\n", "\\n"))
        if rok and ok and text == rtext:
            print("PASS " + name)
        elif not rok and not ok:
            if rtext.startswith("TemplateError: ") and rtext[len("TemplateError: "):] != text:
                failed += 1
                print("FAIL %s: raise_exception message %r vs %r" % (name, text, rtext))
            else:
                print("PASS " + name)
        else:
            failed += 1
            why = jinja_ref.first_diff(text, rtext) if ok and rok else \
                ("we failed: %s; jinja2: %r" % (text, rtext[:80]) if rok else "we rendered %r; jinja2 failed: %s" % (text[:80], rtext))
            print("FAIL %s: %s" % (name, why))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
