/*
 * tpl_builtins.c — Jinja2's filters, tests and global functions, as the chat-template
 * environment of transformers defines them (tojson = json.dumps(ensure_ascii=False, ...),
 * raise_exception, strftime_now, the sandbox's range limit).
 *
 * Every filter and test name Jinja2 knows parses (Jinja2 rejects unknown ones at compile
 * time); the few that chat templates never use (urlize, wordwrap, xmlattr...) fail when
 * rendered, with a message saying so.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const FILTERS[] = {
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
    "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent",
    "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "pprint",
    "random", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim",
    "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr", NULL};

static const char *const TESTS[] = {
    "!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq",
    "equalto", "escaped", "even", "false", "filter", "float", "ge", "greaterthan", "gt", "in",
    "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number",
    "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", NULL};

static int in_names(const char *const *l, const char *name)
{
    for (; *l; l++)
        if (!strcmp(*l, name))
            return 1;
    return 0;
}

int tb_has_filter(const char *name) { return in_names(FILTERS, name); }
int tb_has_test(const char *name) { return in_names(TESTS, name); }

static int undef_err(rctx *c, tv u)
{
    if (u.uname && u.uname[0] == '\x02')
        return tr_fail(c, "%s", u.uname + 1);
    return tr_fail(c, "'%s' is undefined", u.uname ? u.uname : "value");
}

static tv as_str(rctx *c, tv v) { return tv_to_str(c, v); }

/* Jinja's attribute-or-item lookup for attribute= arguments ("a.b", "0"). */
static int get_path(rctx *c, tv obj, tv attr, tv *out)
{
    if (attr.k == TV_INT)
        return tr_getitem(c, obj, attr, out);
    if (attr.k != TV_STR)
        return tr_fail(c, "attribute must be a string");
    const char *p = attr.u.s->s;
    *out = obj;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        tv key;
        char *end;
        long long iv = strtoll(p, &end, 10);
        if (n && end == p + n)
            key = tv_int(iv);
        else
            key = tv_str(c, p, n);
        if (tr_getitem(c, *out, key, out))
            return -1;
        if (!dot)
            break;
        p = dot + 1;
    }
    return 0;
}

static int to_int_str(const char *s, int base, int64_t *out)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    char buf[64];
    size_t n = 0;
    for (const char *p = s; *p && n < sizeof buf - 1; p++)
        if (*p != '_')
            buf[n++] = *p;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\n'))
        buf[--n] = 0;
    if (n == 0)
        return -1;
    char *end;
    long long v = strtoll(buf, &end, base);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int to_float_str(const char *s, double *out)
{
    char *end;
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    if (!*s || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return -1;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int escape_html(rctx *c, tv in, tv *out)
{
    if (in.k == TV_STR && in.safe) {
        *out = in;
        return 0;
    }
    tv s = as_str(c, in);
    if (s.k != TV_STR)
        return -1;
    an_strbuf sb;
    an_sb_init(&sb);
    for (size_t i = 0; i < s.u.s->len; i++) {
        char ch = s.u.s->s[i];
        switch (ch) {
        case '&': an_sb_puts(&sb, "&amp;"); break;
        case '<': an_sb_puts(&sb, "&lt;"); break;
        case '>': an_sb_puts(&sb, "&gt;"); break;
        case '"': an_sb_puts(&sb, "&#34;"); break;
        case '\'': an_sb_puts(&sb, "&#39;"); break;
        default: an_sb_putc(&sb, ch);
        }
    }
    *out = tv_strbuf(c, &sb);
    out->safe = 1;
    an_sb_free(&sb);
    return an_error_isset(c->err) ? -1 : 0;
}

static int tb_tojson(rctx *c, tv in, targs *a, tv *out)
{
    tv *ind = targ(a, 0, "indent"), *seps = targ(a, -1, "separators"), *sk = targ(a, -1, "sort_keys");
    tv *ea = targ(a, -1, "ensure_ascii");
    if (ea && tv_truthy(*ea))
        return tr_fail(c, "tojson: ensure_ascii=True is not supported");
    int indent = -1;
    const char *indent_str = NULL;
    if (ind && ind->k == TV_INT)
        indent = ind->u.i < 0 ? 0 : ind->u.i > 64 ? 64 : (int)ind->u.i;
    else if (ind && ind->k == TV_STR)
        indent_str = ind->u.s->s;
    else if (ind && ind->k != TV_NONE)
        return tr_fail(c, "tojson: indent must be an int or a string");
    int pretty = indent >= 0 || indent_str;
    const char *item_sep = pretty ? "," : ", ", *key_sep = ": ";
    if (seps && seps->k == TV_LIST && seps->u.l->n == 2 && seps->u.l->v[0].k == TV_STR && seps->u.l->v[1].k == TV_STR) {
        item_sep = seps->u.l->v[0].u.s->s;
        key_sep = seps->u.l->v[1].u.s->s;
    } else if (seps && seps->k != TV_NONE)
        return tr_fail(c, "tojson: separators must be a pair of strings");
    an_strbuf sb;
    an_sb_init(&sb);
    int r = tv_tojson(c, &sb, in, indent, indent_str, item_sep, key_sep, sk && tv_truthy(*sk), 0);
    if (!r)
        *out = tv_strbuf(c, &sb);
    an_sb_free(&sb);
    return r || an_error_isset(c->err) ? -1 : 0;
}

/* select/reject/selectattr/rejectattr/map */
static int seq_filter(rctx *c, const char *name, tv in, targs *a, tv *out)
{
    int is_attr = strstr(name, "attr") != NULL, is_map = !strcmp(name, "map");
    int want = name[0] == 's';
    tlist *items = tv_iter(c, in), *res;
    if (!items || !(res = tl_new(c, items->n)))
        return -1;
    int first_arg = 0;
    tv *attr = NULL;
    if (is_map) {
        attr = targ(a, -1, "attribute");
        tv *def = targ(a, -1, "default");
        if (attr) {
            for (size_t i = 0; i < items->n; i++) {
                tv v;
                if (get_path(c, items->v[i], *attr, &v))
                    return -1;
                if (v.k == TV_UNDEF && def)
                    v = *def;
                tl_push(c, res, v);
            }
            *out = tv_list(res);
            return 0;
        }
        tv *fname = targ(a, 0, NULL);
        if (!fname || fname->k != TV_STR)
            return tr_fail(c, "map requires a filter name or attribute=");
        if (!tb_has_filter(fname->u.s->s))
            return tr_fail(c, "no filter named '%s'", fname->u.s->s);
        targs sub = {.pos = a->pos + 1, .npos = a->npos - 1, .kwn = a->kwn, .kwv = a->kwv, .nkw = a->nkw};
        for (size_t i = 0; i < items->n; i++) {
            tv v;
            if (tb_filter(c, fname->u.s->s, items->v[i], &sub, &v) || tl_push(c, res, v))
                return -1;
        }
        *out = tv_list(res);
        return 0;
    }
    if (is_attr) {
        attr = targ(a, 0, NULL);
        if (!attr)
            return tr_fail(c, "%s requires an attribute name", name);
        first_arg = 1;
    }
    tv *tname = targ(a, first_arg, NULL);
    if (tname && tname->k != TV_STR)
        return tr_fail(c, "%s: the test name must be a string", name);
    if (tname && !tb_has_test(tname->u.s->s))
        return tr_fail(c, "no test named '%s'", tname->u.s->s);
    targs sub = {.pos = a->pos + first_arg + 1, .npos = a->npos - first_arg - 1, .kwn = a->kwn, .kwv = a->kwv, .nkw = a->nkw};
    if (sub.npos < 0)
        sub.npos = 0;
    for (size_t i = 0; i < items->n; i++) {
        tv v = items->v[i];
        if (attr && get_path(c, v, *attr, &v))
            return -1;
        int ok;
        if (tname) {
            if (tb_test(c, tname->u.s->s, v, &sub, &ok))
                return -1;
        } else
            ok = tv_truthy(v);
        if (ok == want && tl_push(c, res, items->v[i]))
            return -1;
    }
    *out = tv_list(res);
    return 0;
}

/* Sort key for sort/min/max/unique: lower-cased strings unless case-sensitive. */
static tv sort_key(rctx *c, tv v, tv *attr, int case_sensitive)
{
    if (attr) {
        tv x;
        if (get_path(c, v, *attr, &x))
            return tv_undef(NULL);
        v = x;
    }
    if (!case_sensitive && v.k == TV_STR)
        return ts_case(c, v, 0);
    return v;
}

static int sorted_list(rctx *c, tlist *items, tv *attr, int case_sensitive, int reverse, tlist **out)
{
    size_t n = items->n;
    tlist *l = tl_new(c, n);
    tv *keys = tr_alloc(c, (n + 1) * sizeof *keys);
    if (!l || !keys)
        return -1;
    for (size_t i = 0; i < n; i++) {
        l->v[i] = items->v[i];
        keys[i] = sort_key(c, items->v[i], attr, case_sensitive);
        if (an_error_isset(c->err))
            return -1;
    }
    l->n = n;
    /* stable insertion sort (Python's sort is stable; reverse keeps equal items in order) */
    for (size_t i = 1; i < n; i++) {
        tv k = keys[i], v = l->v[i];
        size_t j = i;
        while (j > 0) {
            int cmp = tv_compare(c, keys[j - 1], k);
            if (cmp == -2)
                return -1;
            if (reverse ? cmp >= 0 : cmp <= 0)
                break;
            keys[j] = keys[j - 1];
            l->v[j] = l->v[j - 1];
            j--;
        }
        keys[j] = k;
        l->v[j] = v;
    }
    *out = l;
    return 0;
}

static int do_indent(rctx *c, tv in, targs *a, tv *out)
{
    tv s = as_str(c, in), *w = targ(a, 0, "width"), *fi = targ(a, 1, "first"), *bl = targ(a, 2, "blank");
    if (s.k != TV_STR)
        return -1;
    an_strbuf ind;
    an_sb_init(&ind);
    if (w && w->k == TV_STR)
        an_sb_append(&ind, w->u.s->s, w->u.s->len);
    else {
        int64_t n = w && w->k == TV_INT ? w->u.i : 4;
        for (int64_t i = 0; i < n && i < 256; i++)
            an_sb_putc(&ind, ' ');
    }
    an_strbuf text;
    an_sb_init(&text);
    an_sb_append(&text, s.u.s->s, s.u.s->len);
    an_sb_putc(&text, '\n');
    tv lines = ts_splitlines(c, tv_strbuf(c, &text), 0);
    an_sb_free(&text);
    if (lines.k != TV_LIST) {
        an_sb_free(&ind);
        return -1;
    }
    an_strbuf sb;
    an_sb_init(&sb);
    int blank = bl && tv_truthy(*bl);
    for (size_t i = 0; i < lines.u.l->n; i++) {
        tstr *ln = lines.u.l->v[i].u.s;
        if (i) {
            an_sb_putc(&sb, '\n');
            if (blank || ln->len)
                an_sb_append(&sb, ind.buf, ind.len);
        }
        an_sb_append(&sb, ln->s, ln->len);
    }
    an_strbuf res;
    an_sb_init(&res);
    if (fi && tv_truthy(*fi))
        an_sb_append(&res, ind.buf, ind.len);
    an_sb_append(&res, sb.buf, sb.len);
    *out = tv_strbuf(c, &res);
    an_sb_free(&res);
    an_sb_free(&sb);
    an_sb_free(&ind);
    return an_error_isset(c->err) ? -1 : 0;
}

int tb_filter(rctx *c, const char *name, tv in, targs *a, tv *out)
{
    tv *a0 = targ(a, 0, NULL);
    if (!strcmp(name, "length") || !strcmp(name, "count")) {
        int64_t n = tv_len(c, in);
        if (n < 0)
            return -1;
        *out = tv_int(n);
        return 0;
    }
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        tv *dv = targ(a, 0, "default_value"), *bo = targ(a, 1, "boolean");
        int use = in.k == TV_UNDEF || (bo && tv_truthy(*bo) && !tv_truthy(in));
        *out = use ? (dv ? *dv : tv_str(c, "", 0)) : in;
        return 0;
    }
    if (!strcmp(name, "tojson"))
        return tb_tojson(c, in, a, out);
    if (!strcmp(name, "safe")) {
        *out = as_str(c, in);
        out->safe = 1;
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "e") || !strcmp(name, "escape") || !strcmp(name, "forceescape"))
        return escape_html(c, name[0] == 'f' ? as_str(c, in) : in, out);
    if (!strcmp(name, "string")) {
        *out = as_str(c, in);
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "trim") || !strcmp(name, "upper") || !strcmp(name, "lower") ||
        !strcmp(name, "capitalize") || !strcmp(name, "title") || !strcmp(name, "replace") ||
        !strcmp(name, "center") || !strcmp(name, "wordcount")) {
        tv s = as_str(c, in);
        if (s.k != TV_STR)
            return -1;
        if (!strcmp(name, "trim")) {
            tv *ch = targ(a, 0, "chars");
            if (ch && ch->k != TV_NONE && ch->k != TV_STR)
                return tr_fail(c, "trim: chars must be a string");
            *out = ts_strip(c, s, ch && ch->k == TV_STR ? ch->u.s : NULL, 1, 1);
        } else if (!strcmp(name, "upper"))
            *out = ts_case(c, s, 1);
        else if (!strcmp(name, "lower"))
            *out = ts_case(c, s, 0);
        else if (!strcmp(name, "capitalize"))
            *out = ts_case(c, s, 3);
        else if (!strcmp(name, "title")) {
            /* Jinja: split at runs of [-\s({\[<], capitalize each piece */
            an_strbuf sb;
            an_sb_init(&sb);
            const char *p = s.u.s->s;
            size_t n = s.u.s->len, i = 0;
            while (i < n) {
                size_t b = i;
                int sepr = -1;
                while (i < n) {
                    size_t adv;
                    uint32_t cp = u8_decode(p + i, n - i, &adv);
                    int is_sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || u8_is_space(cp);
                    if (sepr < 0)
                        sepr = is_sep;
                    else if (is_sep != sepr)
                        break;
                    i += adv;
                }
                tv piece = tv_str(c, p + b, i - b);
                if (!sepr) {
                    size_t adv;
                    u8_decode(p + b, i - b, &adv);
                    tv head = ts_case(c, tv_str(c, p + b, adv), 1), tail = ts_case(c, tv_str(c, p + b + adv, i - b - adv), 0);
                    an_sb_append(&sb, head.u.s->s, head.u.s->len);
                    an_sb_append(&sb, tail.u.s->s, tail.u.s->len);
                } else
                    an_sb_append(&sb, piece.u.s->s, piece.u.s->len);
            }
            *out = tv_strbuf(c, &sb);
            an_sb_free(&sb);
        } else if (!strcmp(name, "replace")) {
            tv *o = targ(a, 0, "old"), *nw = targ(a, 1, "new"), *cnt = targ(a, 2, "count");
            if (!o || !nw)
                return tr_fail(c, "replace needs old and new");
            tv os = as_str(c, *o), ns = as_str(c, *nw);
            *out = ts_replace(c, s, os, ns, cnt && cnt->k == TV_INT ? cnt->u.i : -1);
        } else if (!strcmp(name, "center")) {
            tv *w = targ(a, 0, "width");
            int64_t width = w && w->k == TV_INT ? w->u.i : 80, len = (int64_t)u8_len(s.u.s->s, s.u.s->len);
            if (width > 100000)
                width = 100000;
            if (width <= len) {
                *out = s;
                return 0;
            }
            int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
            an_strbuf sb;
            an_sb_init(&sb);
            for (int64_t i = 0; i < left; i++)
                an_sb_putc(&sb, ' ');
            an_sb_append(&sb, s.u.s->s, s.u.s->len);
            for (int64_t i = 0; i < pad - left; i++)
                an_sb_putc(&sb, ' ');
            *out = tv_strbuf(c, &sb);
            an_sb_free(&sb);
        } else { /* wordcount: runs of \w */
            int64_t n = 0;
            int inword = 0;
            for (size_t i = 0; i < s.u.s->len;) {
                size_t adv;
                uint32_t cp = u8_decode(s.u.s->s + i, s.u.s->len - i, &adv);
                int w = cp == '_' || (cp < 128 ? (cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z') : !u8_is_space(cp));
                if (w && !inword)
                    n++;
                inword = w;
                i += adv;
            }
            *out = tv_int(n);
        }
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "join")) {
        tv *d = targ(a, 0, "d"), *attr = targ(a, 1, "attribute");
        tlist *l = tv_iter(c, in);
        if (!l)
            return -1;
        tv sep = d ? as_str(c, *d) : tv_str(c, "", 0);
        an_strbuf sb;
        an_sb_init(&sb);
        for (size_t i = 0; i < l->n; i++) {
            tv v = l->v[i];
            if (attr && get_path(c, v, *attr, &v))
                break;
            if (i)
                an_sb_append(&sb, sep.u.s->s, sep.u.s->len);
            tv_to_sb(c, &sb, v, 0);
        }
        if (!an_error_isset(c->err))
            *out = tv_strbuf(c, &sb);
        an_sb_free(&sb);
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "first") || !strcmp(name, "last")) {
        tlist *l = tv_iter(c, in);
        if (!l)
            return -1;
        *out = l->n ? l->v[name[0] == 'f' ? 0 : l->n - 1] : tv_undef("item");
        return 0;
    }
    if (!strcmp(name, "list")) {
        tlist *l = tv_iter(c, in), *n;
        if (!l || !(n = tl_new(c, l->n)))
            return -1;
        for (size_t i = 0; i < l->n; i++)
            tl_push(c, n, l->v[i]);
        *out = tv_list(n);
        return 0;
    }
    if (!strcmp(name, "items")) {
        if (in.k == TV_UNDEF) {
            *out = tv_list(tl_new(c, 0));
            return an_error_isset(c->err) ? -1 : 0;
        }
        if (in.k != TV_DICT && in.k != TV_NS)
            return tr_fail(c, "Can only get item pairs from a mapping.");
        tv self = in;
        self.k = TV_DICT;
        return tb_method(c, self, "items", a, out);
    }
    if (!strcmp(name, "reverse")) {
        if (in.k == TV_STR) {
            tlist *l = tv_iter(c, in);
            if (!l)
                return -1;
            an_strbuf sb;
            an_sb_init(&sb);
            for (size_t i = l->n; i-- > 0;)
                an_sb_append(&sb, l->v[i].u.s->s, l->v[i].u.s->len);
            *out = tv_strbuf(c, &sb);
            an_sb_free(&sb);
            return 0;
        }
        tlist *l = tv_iter(c, in), *n;
        if (!l || !(n = tl_new(c, l->n)))
            return -1;
        for (size_t i = l->n; i-- > 0;)
            tl_push(c, n, l->v[i]);
        *out = tv_list(n);
        return 0;
    }
    if (!strcmp(name, "int")) {
        tv *def = targ(a, 0, "default"), *base = targ(a, 1, "base");
        tv dflt = def ? *def : tv_int(0);
        int64_t iv;
        double fv;
        if (in.k == TV_INT || in.k == TV_BOOL)
            *out = tv_int(in.k == TV_INT ? in.u.i : in.u.b);
        else if (in.k == TV_FLOAT)
            *out = isfinite(in.u.f) && fabs(in.u.f) < 9.2e18 ? tv_int((int64_t)in.u.f) : dflt;
        else if (in.k == TV_STR && !to_int_str(in.u.s->s, base && base->k == TV_INT ? (int)base->u.i : 10, &iv))
            *out = tv_int(iv);
        else if (in.k == TV_STR && !to_float_str(in.u.s->s, &fv) && isfinite(fv) && fabs(fv) < 9.2e18)
            *out = tv_int((int64_t)fv);
        else
            *out = dflt;
        return 0;
    }
    if (!strcmp(name, "float")) {
        tv *def = targ(a, 0, "default");
        double fv;
        if (tv_is_num(in))
            *out = tv_float(tv_num(in));
        else if (in.k == TV_STR && !to_float_str(in.u.s->s, &fv))
            *out = tv_float(fv);
        else
            *out = def ? *def : tv_float(0);
        return 0;
    }
    if (!strcmp(name, "abs")) {
        if (!tv_is_num(in))
            return tr_fail(c, "bad operand type for abs(): '%s'", tv_type_name(in));
        *out = in.k == TV_FLOAT ? tv_float(fabs(in.u.f)) : tv_int(llabs(in.k == TV_INT ? in.u.i : in.u.b));
        return 0;
    }
    if (!strcmp(name, "round")) {
        tv *pr = targ(a, 0, "precision"), *me = targ(a, 1, "method");
        int64_t p = pr && pr->k == TV_INT ? pr->u.i : 0;
        const char *method = me && me->k == TV_STR ? me->u.s->s : "common";
        if (!tv_is_num(in))
            return tr_fail(c, "type %s doesn't define __round__ method", tv_type_name(in));
        if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
            return tr_fail(c, "method must be common, ceil or floor");
        if (in.k != TV_FLOAT && !strcmp(method, "common")) {
            /* round(int, ndigits) stays an int; negative ndigits round half to even */
            int64_t v = in.k == TV_INT ? in.u.i : in.u.b;
            if (p < 0) {
                int64_t m = 1;
                for (int64_t k = 0; k < -p && m <= INT64_MAX / 10; k++)
                    m *= 10;
                if (-p > 18) {
                    *out = tv_int(0);
                    return 0;
                }
                int64_t q = v / m, r = v % m;
                if (r < 0) {
                    r += m;
                    q--;
                }
                if (2 * r > m || (2 * r == m && (q & 1)))
                    q++;
                v = q * m;
            }
            *out = tv_int(v);
            return 0;
        }
        double v = tv_num(in), m = pow(10.0, (double)p);
        if (!strcmp(method, "common")) {
            char buf[400];
            if (p >= 0 && p < 300) {
                snprintf(buf, sizeof buf, "%.*f", (int)p, v); /* correctly rounded, half-even */
                *out = tv_float(strtod(buf, NULL));
            } else
                *out = tv_float(round(v * m) / m);
        } else
            *out = tv_float((method[0] == 'c' ? ceil(v * m) : floor(v * m)) / m);
        return 0;
    }
    if (!strcmp(name, "indent"))
        return do_indent(c, in, a, out);
    if (!strcmp(name, "batch")) {
        tv *lc = targ(a, 0, "linecount"), *fill = targ(a, 1, "fill_with");
        if (!lc || lc->k != TV_INT || lc->u.i <= 0)
            return tr_fail(c, "batch: linecount must be a positive integer");
        tlist *items = tv_iter(c, in), *res, *cur = NULL;
        if (!items || !(res = tl_new(c, 0)))
            return -1;
        for (size_t i = 0; i < items->n; i++) {
            if (!cur || (int64_t)cur->n == lc->u.i) {
                if (!(cur = tl_new(c, 0)) || tl_push(c, res, tv_list(cur)))
                    return -1;
            }
            tl_push(c, cur, items->v[i]);
        }
        if (cur && fill && fill->k != TV_NONE)
            while ((int64_t)cur->n < lc->u.i)
                tl_push(c, cur, *fill);
        *out = tv_list(res);
        return 0;
    }
    if (!strcmp(name, "map") || !strcmp(name, "select") || !strcmp(name, "reject") ||
        !strcmp(name, "selectattr") || !strcmp(name, "rejectattr"))
        return seq_filter(c, name, in, a, out);
    if (!strcmp(name, "unique") || !strcmp(name, "min") || !strcmp(name, "max") || !strcmp(name, "sort")) {
        int sort = !strcmp(name, "sort");
        tv *cs = targ(a, sort ? 1 : 0, "case_sensitive"), *attr = targ(a, sort ? 2 : 1, "attribute");
        tv *rev = sort ? targ(a, 0, "reverse") : NULL;
        int case_sensitive = cs && tv_truthy(*cs);
        tlist *items = tv_iter(c, in);
        if (!items)
            return -1;
        if (!strcmp(name, "unique")) {
            tlist *res = tl_new(c, items->n), *seen = tl_new(c, items->n);
            if (!res || !seen)
                return -1;
            for (size_t i = 0; i < items->n; i++) {
                tv k = sort_key(c, items->v[i], attr, case_sensitive);
                int dup = 0;
                for (size_t j = 0; j < seen->n && !dup; j++)
                    dup = tv_equal(seen->v[j], k);
                if (!dup) {
                    tl_push(c, seen, k);
                    tl_push(c, res, items->v[i]);
                }
            }
            *out = tv_list(res);
            return an_error_isset(c->err) ? -1 : 0;
        }
        tlist *sorted;
        if (sorted_list(c, items, attr, case_sensitive, rev && tv_truthy(*rev), &sorted))
            return -1;
        if (sort)
            *out = tv_list(sorted);
        else if (!sorted->n)
            *out = tv_undef("item");
        else
            *out = sorted->v[name[1] == 'i' ? 0 : sorted->n - 1];
        if (!sort && sorted->n && name[1] == 'a') {
            /* max: the first of the equal largest, as Python's max */
            tv best = sort_key(c, sorted->v[sorted->n - 1], attr, case_sensitive);
            for (size_t i = 0; i < sorted->n; i++)
                if (tv_equal(sort_key(c, sorted->v[i], attr, case_sensitive), best)) {
                    *out = sorted->v[i];
                    break;
                }
        }
        return 0;
    }
    if (!strcmp(name, "sum")) {
        tv *attr = targ(a, 0, "attribute"), *start = targ(a, 1, "start");
        tlist *items = tv_iter(c, in);
        if (!items)
            return -1;
        tv acc = start ? *start : tv_int(0);
        for (size_t i = 0; i < items->n; i++) {
            tv v = items->v[i];
            if (attr && get_path(c, v, *attr, &v))
                return -1;
            if (tr_binop(c, OP_ADD, acc, v, &acc))
                return -1;
        }
        *out = acc;
        return 0;
    }
    if (!strcmp(name, "attr")) {
        if (!a0 || a0->k != TV_STR)
            return tr_fail(c, "attr: the name must be a string");
        if (in.k == TV_UNDEF)
            return undef_err(c, in);
        if (in.k == TV_DICT && !tb_has_method(in, a0->u.s->s)) {
            *out = tv_undef(a0->u.s->s);
            return 0;
        }
        *out = tr_getattr(c, in, a0->u.s->s);
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "dictsort")) {
        if (in.k != TV_DICT)
            return tr_fail(c, "You can only sort by either \"key\" or \"value\"");
        tv *cs = targ(a, 0, "case_sensitive"), *by = targ(a, 1, "by"), *rev = targ(a, 2, "reverse");
        tv items;
        targs none = {0};
        if (tb_method(c, in, "items", &none, &items))
            return -1;
        tv idx = tv_int(by && by->k == TV_STR && !strcmp(by->u.s->s, "value") ? 1 : 0);
        tlist *sorted;
        if (sorted_list(c, items.u.l, &idx, cs && tv_truthy(*cs), rev && tv_truthy(*rev), &sorted))
            return -1;
        *out = tv_list(sorted);
        return 0;
    }
    return tr_fail(c, "the filter '%s' is not supported", name);
}

int tb_test(rctx *c, const char *name, tv in, targs *a, int *res)
{
    tv *a0 = targ(a, 0, NULL);
    if (!strcmp(name, "defined")) { *res = in.k != TV_UNDEF; return 0; }
    if (!strcmp(name, "undefined")) { *res = in.k == TV_UNDEF; return 0; }
    if (!strcmp(name, "none")) { *res = in.k == TV_NONE; return 0; }
    if (!strcmp(name, "boolean")) { *res = in.k == TV_BOOL; return 0; }
    if (!strcmp(name, "true")) { *res = in.k == TV_BOOL && in.u.b; return 0; }
    if (!strcmp(name, "false")) { *res = in.k == TV_BOOL && !in.u.b; return 0; }
    if (!strcmp(name, "string")) { *res = in.k == TV_STR; return 0; }
    if (!strcmp(name, "mapping")) { *res = in.k == TV_DICT; return 0; }
    if (!strcmp(name, "number")) { *res = tv_is_num(in); return 0; }
    if (!strcmp(name, "integer")) { *res = in.k == TV_INT; return 0; }
    if (!strcmp(name, "float")) { *res = in.k == TV_FLOAT; return 0; }
    if (!strcmp(name, "iterable")) {
        *res = in.k == TV_STR || in.k == TV_LIST || in.k == TV_DICT || in.k == TV_UNDEF;
        return 0;
    }
    if (!strcmp(name, "sequence")) { *res = in.k == TV_STR || in.k == TV_LIST || in.k == TV_DICT; return 0; }
    if (!strcmp(name, "callable")) {
        *res = in.k == TV_MACRO || in.k == TV_FUNC || in.k == TV_METHOD;
        return 0;
    }
    if (!strcmp(name, "escaped")) { *res = in.k == TV_STR && in.safe; return 0; }
    if (!strcmp(name, "filter") || !strcmp(name, "test")) {
        *res = in.k == TV_STR && (name[0] == 'f' ? tb_has_filter(in.u.s->s) : tb_has_test(in.u.s->s));
        return 0;
    }
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        tv s = as_str(c, in);
        if (s.k != TV_STR)
            return -1;
        tv conv = ts_case(c, s, name[0] == 'l' ? 0 : 1);
        int cased = 0;
        for (size_t i = 0; i < s.u.s->len; i++) {
            unsigned char ch = (unsigned char)s.u.s->s[i];
            cased |= ((ch | 32) >= 'a' && (ch | 32) <= 'z') || ch >= 0x80;
        }
        *res = cased && tv_equal(conv, s);
        return 0;
    }
    if (!strcmp(name, "odd") || !strcmp(name, "even") || !strcmp(name, "divisibleby")) {
        if (in.k != TV_INT && in.k != TV_BOOL && in.k != TV_FLOAT)
            return in.k == TV_UNDEF ? undef_err(c, in) : tr_fail(c, "not all arguments converted during string formatting");
        tv m = !strcmp(name, "divisibleby") ? (a0 ? *a0 : tv_int(0)) : tv_int(2), r;
        if (tr_binop(c, OP_MOD, in, m, &r))
            return -1;
        int zero = tv_num(r) == 0;
        *res = name[0] == 'o' ? !zero : zero;
        return 0;
    }
    if (!strcmp(name, "sameas")) {
        if (!a0)
            return tr_fail(c, "sameas needs an argument");
        if (in.k != a0->k)
            *res = 0;
        else if (in.k == TV_NONE || in.k == TV_UNDEF)
            *res = 1;
        else if (in.k == TV_BOOL)
            *res = in.u.b == a0->u.b;
        else if (in.k == TV_INT)
            *res = in.u.i == a0->u.i && in.u.i >= -5 && in.u.i <= 256; /* CPython small ints */
        else
            *res = in.u.l == a0->u.l;
        return 0;
    }
    static const char *const cmp_names[][3] = {
        {"==", "eq", "equalto"}, {"!=", "ne", NULL}, {"<", "lt", "lessthan"}, {"<=", "le", NULL},
        {">", "gt", "greaterthan"}, {">=", "ge", NULL}, {"in", NULL, NULL}};
    static const int cmp_ops[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN};
    for (int k = 0; k < 7; k++)
        for (int j = 0; j < 3; j++)
            if (cmp_names[k][j] && !strcmp(name, cmp_names[k][j])) {
                if (!a0)
                    return tr_fail(c, "the test '%s' needs an argument", name);
                int op = cmp_ops[k];
                if (op == OP_EQ) { *res = tv_equal(in, *a0); return 0; }
                if (op == OP_NE) { *res = !tv_equal(in, *a0); return 0; }
                if (op == OP_IN) {
                    tv hay = *a0;
                    if (hay.k == TV_STR) {
                        if (in.k != TV_STR)
                            return tr_fail(c, "'in <string>' requires string as left operand");
                        *res = memmem(hay.u.s->s, hay.u.s->len, in.u.s->s, in.u.s->len) != NULL || !in.u.s->len;
                    } else if (hay.k == TV_LIST) {
                        *res = 0;
                        for (size_t i = 0; i < hay.u.l->n && !*res; i++)
                            *res = tv_equal(hay.u.l->v[i], in);
                    } else if (hay.k == TV_DICT)
                        *res = td_get(hay.u.d, in) != NULL;
                    else if (hay.k == TV_UNDEF)
                        *res = 0;
                    else
                        return tr_fail(c, "argument of type '%s' is not iterable", tv_type_name(hay));
                    return 0;
                }
                if (in.k == TV_UNDEF)
                    return undef_err(c, in);
                if (a0->k == TV_UNDEF)
                    return undef_err(c, *a0);
                int r = tv_compare(c, in, *a0);
                if (r == -2)
                    return -1;
                *res = op == OP_LT ? r < 0 : op == OP_LE ? r <= 0 : op == OP_GT ? r > 0 : r >= 0;
                return 0;
            }
    return tr_fail(c, "the test '%s' is not supported", name);
}

int tb_global_fn(const char *name)
{
    if (!strcmp(name, "range")) return TF_RANGE;
    if (!strcmp(name, "namespace")) return TF_NAMESPACE;
    if (!strcmp(name, "dict")) return TF_DICT;
    if (!strcmp(name, "raise_exception")) return TF_RAISE;
    if (!strcmp(name, "strftime_now")) return TF_STRFTIME;
    return 0;
}

int tb_call_global(rctx *c, int fn, targs *a, tv *out)
{
    switch (fn) {
    case TF_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (a->npos < 1 || a->npos > 3 || a->nkw)
            return tr_fail(c, "range expected 1 to 3 arguments");
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].k != TV_INT && a->pos[i].k != TV_BOOL)
                return tr_fail(c, "'%s' object cannot be interpreted as an integer", tv_type_name(a->pos[i]));
            v[a->npos == 1 ? 1 : i] = a->pos[i].k == TV_INT ? a->pos[i].u.i : a->pos[i].u.b;
        }
        if (v[2] == 0)
            return tr_fail(c, "range() arg 3 must not be zero");
        double count = v[2] > 0 ? ceil(((double)v[1] - (double)v[0]) / (double)v[2])
                                : ceil(((double)v[0] - (double)v[1]) / (double)-v[2]);
        if (count > 100000)
            return tr_fail(c, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        tlist *l = tl_new(c, count > 0 ? (size_t)count : 0);
        if (!l)
            return -1;
        for (int64_t x = v[0]; v[2] > 0 ? x < v[1] : x > v[1]; x += v[2])
            if (tl_push(c, l, tv_int(x)))
                return -1;
        *out = tv_list(l);
        return 0;
    }
    case TF_NAMESPACE: case TF_DICT: {
        tdict *d = td_new(c, 4);
        if (!d)
            return -1;
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].k != TV_DICT && a->pos[i].k != TV_NS)
                return tr_fail(c, "%s() positional argument must be a mapping", fn == TF_DICT ? "dict" : "namespace");
            for (size_t k = 0; k < a->pos[i].u.d->n; k++)
                td_set(c, d, a->pos[i].u.d->key[k], a->pos[i].u.d->val[k]);
        }
        for (int k = 0; k < a->nkw; k++)
            if (td_set(c, d, tv_cstr(c, a->kwn[k]), a->kwv[k]))
                return -1;
        *out = tv_dict(d);
        if (fn == TF_NAMESPACE)
            out->k = TV_NS;
        return an_error_isset(c->err) ? -1 : 0;
    }
    case TF_RAISE: {
        tv *m = targ(a, 0, "message");
        tv s = m ? tv_to_str(c, *m) : tv_str(c, "", 0);
        if (s.k != TV_STR)
            return -1;
        /* the template's own message, as transformers raises it (TemplateError) */
        return an_errorf(c->err, "%s", s.u.s->s);
    }
    case TF_STRFTIME: {
        tv *f = targ(a, 0, "format");
        if (!f || f->k != TV_STR)
            return tr_fail(c, "strftime_now needs a format string");
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char buf[512];
        size_t n = f->u.s->len ? strftime(buf, sizeof buf, f->u.s->s, &tm) : 0;
        *out = tv_str(c, buf, n);
        return an_error_isset(c->err) ? -1 : 0;
    }
    }
    return tr_fail(c, "not callable");
}
