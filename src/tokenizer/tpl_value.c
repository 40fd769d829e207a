/*
 * tpl_value.c — template values with Python semantics: truthiness, equality, ordering,
 * str()/repr() (including repr of floats), json.dumps as transformers' tojson calls it,
 * and conversion from JSON input.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *tr_alloc(rctx *c, size_t n)
{
    size_t max = c->lim && c->lim->max_memory ? c->lim->max_memory : (size_t)512 << 20;
    if (n > max || c->bytes_alloc > max - n) {
        tr_fail(c, "template uses too much memory (over %zu MiB)", max >> 20);
        return NULL;
    }
    c->bytes_alloc += n;
    void *p = an_arena_alloc(c->a, n);
    if (!p)
        tr_fail(c, "out of memory");
    return p;
}

int tr_fail(rctx *c, const char *fmt, ...)
{
    if (an_error_isset(c->err))
        return -1;
    char msg[AN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->line)
        return an_errorf(c->err, "%s:%d:%d: %s", c->t->name, c->line, c->col, msg);
    return an_errorf(c->err, "%s: %s", c->t->name, msg);
}

tv tv_undef(const char *name) { tv v = {.k = TV_UNDEF}; v.uname = name; return v; }
tv tv_none(void) { tv v = {.k = TV_NONE}; return v; }
tv tv_bool(int b) { tv v = {.k = TV_BOOL}; v.u.b = b != 0; return v; }
tv tv_int(int64_t i) { tv v = {.k = TV_INT}; v.u.i = i; return v; }
tv tv_float(double f) { tv v = {.k = TV_FLOAT}; v.u.f = f; return v; }
tv tv_list(tlist *l) { tv v = {.k = TV_LIST}; v.u.l = l; return v; }
tv tv_dict(tdict *d) { tv v = {.k = TV_DICT}; v.u.d = d; return v; }

tv tv_str(rctx *c, const char *s, size_t n)
{
    tstr *t = tr_alloc(c, sizeof *t + n + 1);
    if (!t)
        return tv_undef(NULL);
    t->len = n;
    if (n)
        memcpy(t->s, s, n);
    t->s[n] = 0;
    tv v = {.k = TV_STR};
    v.u.s = t;
    return v;
}

tv tv_cstr(rctx *c, const char *s) { return tv_str(c, s, strlen(s)); }
tv tv_strbuf(rctx *c, an_strbuf *sb) { return tv_str(c, sb->buf, sb->len); }

tlist *tl_new(rctx *c, size_t cap)
{
    tlist *l = tr_alloc(c, sizeof *l);
    if (!l)
        return NULL;
    if (cap && !(l->v = tr_alloc(c, cap * sizeof *l->v)))
        return NULL;
    l->cap = cap;
    return l;
}

int tl_push(rctx *c, tlist *l, tv v)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        tv *nv = tr_alloc(c, nc * sizeof *nv);
        if (!nv)
            return -1;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = v;
    return 0;
}

tdict *td_new(rctx *c, size_t cap)
{
    tdict *d = tr_alloc(c, sizeof *d);
    if (!d)
        return NULL;
    if (cap && (!(d->key = tr_alloc(c, cap * sizeof *d->key)) || !(d->val = tr_alloc(c, cap * sizeof *d->val))))
        return NULL;
    d->cap = cap;
    return d;
}

tv *td_get(tdict *d, tv key)
{
    for (size_t i = 0; i < d->n; i++)
        if (tv_equal(d->key[i], key))
            return &d->val[i];
    return NULL;
}

tv *td_gets(tdict *d, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < d->n; i++)
        if (d->key[i].k == TV_STR && d->key[i].u.s->len == n && memcmp(d->key[i].u.s->s, key, n) == 0)
            return &d->val[i];
    return NULL;
}

int td_set(rctx *c, tdict *d, tv key, tv val)
{
    tv *old = td_get(d, key);
    if (old) {
        *old = val;
        return 0;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 8;
        tv *nk = tr_alloc(c, nc * sizeof *nk), *nv = tr_alloc(c, nc * sizeof *nv);
        if (!nk || !nv)
            return -1;
        if (d->n) {
            memcpy(nk, d->key, d->n * sizeof *nk);
            memcpy(nv, d->val, d->n * sizeof *nv);
        }
        d->key = nk;
        d->val = nv;
        d->cap = nc;
    }
    d->key[d->n] = key;
    d->val[d->n] = val;
    d->n++;
    return 0;
}

/* ---- UTF-8 ---- */

uint32_t u8_decode(const char *s, size_t n, size_t *adv)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0) {
        *adv = 0;
        return 0;
    }
    unsigned c = p[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if ((size_t)len > n)
        len = 1;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *adv = 1;
            return c;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *adv = (size_t)len;
    return cp;
}

int u8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t u8_len(const char *s, size_t n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cnt++;
    return cnt;
}

size_t u8_offset(const char *s, size_t n, size_t cp)
{
    size_t i = 0, k = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == cp)
                return i;
            k++;
        }
        i++;
    }
    return n;
}

int u8_is_space(uint32_t cp)
{
    return (cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* ---- Python semantics ---- */

int tv_is_num(tv v) { return v.k == TV_BOOL || v.k == TV_INT || v.k == TV_FLOAT; }

double tv_num(tv v)
{
    return v.k == TV_FLOAT ? v.u.f : v.k == TV_INT ? (double)v.u.i : v.k == TV_BOOL ? v.u.b : 0;
}

int tv_truthy(tv v)
{
    switch (v.k) {
    case TV_UNDEF: case TV_NONE: return 0;
    case TV_BOOL: return v.u.b;
    case TV_INT: return v.u.i != 0;
    case TV_FLOAT: return v.u.f != 0;
    case TV_STR: return v.u.s->len != 0;
    case TV_LIST: return v.u.l->n != 0;
    case TV_DICT: return v.u.d->n != 0;
    default: return 1;
    }
}

int tv_equal(tv a, tv b)
{
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.k != TV_FLOAT && b.k != TV_FLOAT)
            return (a.k == TV_INT ? a.u.i : a.u.b) == (b.k == TV_INT ? b.u.i : b.u.b);
        return tv_num(a) == tv_num(b);
    }
    int ak = a.k == TV_NS ? TV_DICT : a.k, bk = b.k == TV_NS ? TV_DICT : b.k;
    if (ak != bk)
        return 0;
    switch (a.k) {
    case TV_UNDEF: case TV_NONE: return 1;
    case TV_STR: return a.u.s->len == b.u.s->len && memcmp(a.u.s->s, b.u.s->s, a.u.s->len) == 0;
    case TV_LIST:
        if (a.tuple != b.tuple || a.u.l->n != b.u.l->n)
            return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!tv_equal(a.u.l->v[i], b.u.l->v[i]))
                return 0;
        return 1;
    case TV_DICT:
        if (a.k != b.k)
            return 0;
        if (a.u.d == b.u.d)
            return 1;
        if (a.u.d->n != b.u.d->n)
            return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            tv *o = td_get(b.u.d, a.u.d->key[i]);
            if (!o || !tv_equal(a.u.d->val[i], *o))
                return 0;
        }
        return 1;
    case TV_MACRO: return a.u.m == b.u.m;
    case TV_FUNC: return a.u.fn == b.u.fn;
    default: return a.u.d == b.u.d;
    }
}

const char *tv_type_name(tv v)
{
    switch (v.k) {
    case TV_UNDEF: return "Undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_STR: return "str";
    case TV_LIST: return v.tuple ? "tuple" : "list";
    case TV_DICT: return "dict";
    case TV_NS: return "Namespace";
    case TV_MACRO: return "Macro";
    case TV_METHOD: return "builtin_function_or_method";
    case TV_LOOP: return "LoopContext";
    default: return "function";
    }
}

int tv_compare(rctx *c, tv a, tv b)
{
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.k != TV_FLOAT && b.k != TV_FLOAT) {
            int64_t x = a.k == TV_INT ? a.u.i : a.u.b, y = b.k == TV_INT ? b.u.i : b.u.b;
            return x < y ? -1 : x > y;
        }
        double x = tv_num(a), y = tv_num(b);
        return x < y ? -1 : x > y;
    }
    if (a.k == TV_STR && b.k == TV_STR) {
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int r = memcmp(a.u.s->s, b.u.s->s, n); /* UTF-8 byte order = code point order */
        if (r)
            return r < 0 ? -1 : 1;
        return a.u.s->len < b.u.s->len ? -1 : a.u.s->len > b.u.s->len;
    }
    if (a.k == TV_LIST && b.k == TV_LIST && a.tuple == b.tuple) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (tv_equal(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return tv_compare(c, a.u.l->v[i], b.u.l->v[i]);
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    tr_fail(c, "'<' not supported between instances of '%s' and '%s'", tv_type_name(a), tv_type_name(b));
    return -2;
}

/* repr(float), Python's shortest round-trip form. */
void tpl_float_repr(double f, char *buf, size_t n)
{
    if (isnan(f)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, n, f < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    /* tmp = [-]d.ddde[+-]XX: take the digits and the decimal exponent */
    char digits[32];
    int nd = 0, neg = tmp[0] == '-';
    const char *p = tmp + neg;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    int decpt = exp10 + 1; /* digits d1d2... = 0.d1d2... x 10^decpt */
    char out[64];
    int o = 0;
    if (neg)
        out[o++] = '-';
    if (decpt > 16 || decpt < -3) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (decpt <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -decpt; i++)
            out[o++] = '0';
        for (int i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i < decpt; i++)
            out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > decpt)
            for (int i = decpt; i < nd; i++)
                out[o++] = digits[i];
        else
            out[o++] = '0';
    }
    out[o] = 0;
    snprintf(buf, n, "%s", out);
}

static int repr_str(an_strbuf *sb, const char *s, size_t n)
{
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    int r = an_sb_putc(sb, q);
    for (size_t i = 0; i < n && !r;) {
        size_t adv;
        uint32_t cp = u8_decode(s + i, n - i, &adv);
        if (cp == (uint32_t)q || cp == '\\') {
            r |= an_sb_putc(sb, '\\');
            r |= an_sb_putc(sb, (char)cp);
        } else if (cp == '\n')
            r |= an_sb_puts(sb, "\\n");
        else if (cp == '\r')
            r |= an_sb_puts(sb, "\\r");
        else if (cp == '\t')
            r |= an_sb_puts(sb, "\\t");
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0xad)
            r |= an_sb_appendf(sb, "\\x%02x", cp);
        else if (cp == 0x2028 || cp == 0x2029 || cp == 0x85 || (cp >= 0x2000 && cp <= 0x200f) || cp == 0xfeff)
            r |= an_sb_appendf(sb, "\\u%04x", cp);
        else
            r |= an_sb_append(sb, s + i, adv);
        i += adv;
    }
    return r | an_sb_putc(sb, q);
}

int tv_to_sb(rctx *c, an_strbuf *sb, tv v, int repr)
{
    char buf[64];
    switch (v.k) {
    case TV_UNDEF: return 0;
    case TV_NONE: return an_sb_puts(sb, "None");
    case TV_BOOL: return an_sb_puts(sb, v.u.b ? "True" : "False");
    case TV_INT: return an_sb_appendf(sb, "%lld", (long long)v.u.i);
    case TV_FLOAT:
        tpl_float_repr(v.u.f, buf, sizeof buf);
        return an_sb_puts(sb, buf);
    case TV_STR:
        if (repr)
            return repr_str(sb, v.u.s->s, v.u.s->len);
        return an_sb_append(sb, v.u.s->s, v.u.s->len);
    case TV_LIST: {
        int r = an_sb_putc(sb, v.tuple ? '(' : '[');
        for (size_t i = 0; i < v.u.l->n && !r; i++) {
            if (i)
                r |= an_sb_puts(sb, ", ");
            r |= tv_to_sb(c, sb, v.u.l->v[i], 1);
        }
        if (v.tuple && v.u.l->n == 1)
            r |= an_sb_putc(sb, ',');
        return r | an_sb_putc(sb, v.tuple ? ')' : ']');
    }
    case TV_DICT: case TV_NS: {
        int r = an_sb_puts(sb, v.k == TV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.u.d->n && !r; i++) {
            if (i)
                r |= an_sb_puts(sb, ", ");
            r |= tv_to_sb(c, sb, v.u.d->key[i], 1);
            r |= an_sb_puts(sb, ": ");
            r |= tv_to_sb(c, sb, v.u.d->val[i], 1);
        }
        return r | an_sb_puts(sb, v.k == TV_NS ? "}>" : "}");
    }
    case TV_MACRO: return an_sb_appendf(sb, "<Macro '%s'>", v.u.m->name);
    default: return an_sb_appendf(sb, "<%s>", tv_type_name(v));
    }
}

tv tv_to_str(rctx *c, tv v)
{
    if (v.k == TV_STR)
        return v;
    an_strbuf sb;
    an_sb_init(&sb);
    if (tv_to_sb(c, &sb, v, 0)) {
        an_sb_free(&sb);
        tr_fail(c, "out of memory");
        return tv_undef(NULL);
    }
    tv r = tv_strbuf(c, &sb);
    an_sb_free(&sb);
    return r;
}

static int json_str(an_strbuf *sb, const char *s, size_t n)
{
    int r = an_sb_putc(sb, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char ub[8];
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (ch < 0x20) {
                snprintf(ub, sizeof ub, "\\u%04x", ch);
                esc = ub;
            }
        }
        if (esc) {
            r |= an_sb_append(sb, s + run, i - run);
            r |= an_sb_puts(sb, esc);
            run = i + 1;
        }
    }
    r |= an_sb_append(sb, s + run, n - run);
    return r | an_sb_putc(sb, '"');
}

static int json_newline(an_strbuf *sb, int indent, const char *indent_str, int level)
{
    int r = an_sb_putc(sb, '\n');
    for (int i = 0; i < level && !r; i++) {
        if (indent_str)
            r |= an_sb_puts(sb, indent_str);
        else
            for (int k = 0; k < indent; k++)
                r |= an_sb_putc(sb, ' ');
    }
    return r;
}

static int key_cmp_ctx(rctx *kc, tv a, tv b) { return tv_compare(kc, a, b); }

int tv_tojson(rctx *c, an_strbuf *sb, tv v, int indent, const char *indent_str, const char *item_sep,
              const char *key_sep, int sort_keys, int level)
{
    char buf[64];
    int pretty = indent >= 0 || indent_str;
    if (level > 200)
        return tr_fail(c, "tojson: value nested too deeply");
    switch (v.k) {
    case TV_NONE: return an_sb_puts(sb, "null");
    case TV_BOOL: return an_sb_puts(sb, v.u.b ? "true" : "false");
    case TV_INT: return an_sb_appendf(sb, "%lld", (long long)v.u.i);
    case TV_FLOAT:
        if (isnan(v.u.f))
            return an_sb_puts(sb, "NaN");
        if (isinf(v.u.f))
            return an_sb_puts(sb, v.u.f < 0 ? "-Infinity" : "Infinity");
        tpl_float_repr(v.u.f, buf, sizeof buf);
        return an_sb_puts(sb, buf);
    case TV_STR: return json_str(sb, v.u.s->s, v.u.s->len);
    case TV_LIST: {
        if (v.u.l->n == 0)
            return an_sb_puts(sb, "[]");
        int r = an_sb_putc(sb, '[');
        for (size_t i = 0; i < v.u.l->n && !r; i++) {
            if (i)
                r |= an_sb_puts(sb, item_sep);
            if (pretty)
                r |= json_newline(sb, indent, indent_str, level + 1);
            if (!r && tv_tojson(c, sb, v.u.l->v[i], indent, indent_str, item_sep, key_sep, sort_keys, level + 1))
                return -1;
        }
        if (pretty)
            r |= json_newline(sb, indent, indent_str, level);
        return r | an_sb_putc(sb, ']');
    }
    case TV_DICT: {
        tdict *d = v.u.d;
        if (d->n == 0)
            return an_sb_puts(sb, "{}");
        size_t *order = tr_alloc(c, d->n * sizeof *order);
        if (!order)
            return -1;
        for (size_t i = 0; i < d->n; i++)
            order[i] = i;
        if (sort_keys) /* insertion sort: stable, dicts are small */
            for (size_t i = 1; i < d->n; i++) {
                size_t x = order[i], j = i;
                while (j > 0) {
                    int cmp = key_cmp_ctx(c, d->key[order[j - 1]], d->key[x]);
                    if (cmp == -2)
                        return -1;
                    if (cmp <= 0)
                        break;
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = x;
            }
        int r = an_sb_putc(sb, '{');
        for (size_t k = 0; k < d->n && !r; k++) {
            size_t i = order[k];
            if (k)
                r |= an_sb_puts(sb, item_sep);
            if (pretty)
                r |= json_newline(sb, indent, indent_str, level + 1);
            tv key = d->key[i];
            if (key.k == TV_STR)
                r |= json_str(sb, key.u.s->s, key.u.s->len);
            else if (key.k == TV_INT || key.k == TV_FLOAT || key.k == TV_BOOL || key.k == TV_NONE) {
                an_strbuf kb;
                an_sb_init(&kb);
                r |= tv_tojson(c, &kb, key, -1, NULL, ", ", ": ", 0, 0);
                r |= json_str(sb, kb.buf, kb.len);
                an_sb_free(&kb);
            } else
                return tr_fail(c, "keys must be str, int, float, bool or None, not %s", tv_type_name(key));
            r |= an_sb_puts(sb, key_sep);
            if (!r && tv_tojson(c, sb, d->val[i], indent, indent_str, item_sep, key_sep, sort_keys, level + 1))
                return -1;
        }
        if (pretty)
            r |= json_newline(sb, indent, indent_str, level);
        return r | an_sb_putc(sb, '}');
    }
    default:
        return tr_fail(c, "Object of type %s is not JSON serializable", tv_type_name(v));
    }
}

tv tv_from_json(rctx *c, struct json_object *j)
{
    switch (json_object_get_type(j)) {
    case json_type_null: return tv_none();
    case json_type_boolean: return tv_bool(json_object_get_boolean(j));
    case json_type_int: return tv_int(json_object_get_int64(j));
    case json_type_double: return tv_float(json_object_get_double(j));
    case json_type_string: return tv_str(c, json_object_get_string(j), (size_t)json_object_get_string_len(j));
    case json_type_array: {
        size_t n = json_object_array_length(j);
        tlist *l = tl_new(c, n);
        if (!l)
            return tv_undef(NULL);
        for (size_t i = 0; i < n; i++) {
            tv x = tv_from_json(c, json_object_array_get_idx(j, i));
            if (an_error_isset(c->err) || tl_push(c, l, x))
                return tv_undef(NULL);
        }
        return tv_list(l);
    }
    case json_type_object: {
        tdict *d = td_new(c, (size_t)json_object_object_length(j));
        if (!d)
            return tv_undef(NULL);
        json_object_object_foreach(j, key, val) {
            tv k = tv_cstr(c, key), x = tv_from_json(c, val);
            if (an_error_isset(c->err) || td_set(c, d, k, x))
                return tv_undef(NULL);
        }
        return tv_dict(d);
    }
    }
    return tv_none();
}

int64_t tv_len(rctx *c, tv v)
{
    switch (v.k) {
    case TV_UNDEF: return 0;
    case TV_STR: return (int64_t)u8_len(v.u.s->s, v.u.s->len);
    case TV_LIST: return (int64_t)v.u.l->n;
    case TV_DICT: case TV_NS: return (int64_t)v.u.d->n;
    default:
        tr_fail(c, "object of type '%s' has no len()", tv_type_name(v));
        return -1;
    }
}

tlist *tv_iter(rctx *c, tv v)
{
    switch (v.k) {
    case TV_UNDEF: return tl_new(c, 0);
    case TV_LIST: return v.u.l;
    case TV_DICT: case TV_NS: {
        tlist *l = tl_new(c, v.u.d->n);
        if (!l)
            return NULL;
        for (size_t i = 0; i < v.u.d->n; i++)
            tl_push(c, l, v.u.d->key[i]);
        return l;
    }
    case TV_STR: {
        tlist *l = tl_new(c, v.u.s->len);
        if (!l)
            return NULL;
        for (size_t i = 0; i < v.u.s->len;) {
            size_t adv;
            u8_decode(v.u.s->s + i, v.u.s->len - i, &adv);
            tv ch = tv_str(c, v.u.s->s + i, adv);
            if (ch.k == TV_UNDEF || tl_push(c, l, ch))
                return NULL;
            i += adv;
        }
        return l;
    }
    default:
        tr_fail(c, "'%s' object is not iterable", tv_type_name(v));
        return NULL;
    }
}
