/*
 * tpl_methods.c — Python's str, dict and list methods as templates call them
 * ("x".strip(), d.items(), ...), and the string helpers the filters share.
 * The sandbox is immutable, as in transformers: list.append and dict.update exist but
 * calling them is refused, with Jinja2's message.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

tv *targ(targs *a, int i, const char *name)
{
    if (i >= 0 && i < a->npos)
        return &a->pos[i];
    for (int k = 0; name && k < a->nkw; k++)
        if (!strcmp(a->kwn[k], name))
            return &a->kwv[k];
    return NULL;
}

static int need_str(rctx *c, tv *v, const char *what)
{
    if (!v || v->k != TV_STR)
        return tr_fail(c, "%s must be a string, not %s", what, v ? tv_type_name(*v) : "nothing");
    return 0;
}

/* ---- string helpers (exported through tpl_str.h-like declarations below) ---- */

static int in_chars(uint32_t cp, const tstr *chars)
{
    for (size_t i = 0; i < chars->len;) {
        size_t adv;
        uint32_t x = u8_decode(chars->s + i, chars->len - i, &adv);
        if (x == cp)
            return 1;
        i += adv;
    }
    return 0;
}

/* str.strip / lstrip / rstrip; chars NULL: Unicode whitespace. */
tv ts_strip(rctx *c, tv s, const tstr *chars, int left, int right)
{
    const char *p = s.u.s->s;
    size_t b = 0, e = s.u.s->len;
    if (left)
        while (b < e) {
            size_t adv;
            uint32_t cp = u8_decode(p + b, e - b, &adv);
            if (chars ? !in_chars(cp, chars) : !u8_is_space(cp))
                break;
            b += adv;
        }
    if (right)
        while (e > b) {
            size_t k = e - 1;
            while (k > b && ((unsigned char)p[k] & 0xC0) == 0x80)
                k--;
            size_t adv;
            uint32_t cp = u8_decode(p + k, e - k, &adv);
            if (chars ? !in_chars(cp, chars) : !u8_is_space(cp))
                break;
            e = k;
        }
    if (b == 0 && e == s.u.s->len)
        return s;
    return tv_str(c, p + b, e - b);
}

/* Unicode's unconditional full case mappings that are not one code point (SpecialCasing:
 * upper and title forms), except the Greek letters with ypogegrammeni. */
static const struct special_case {
    uint32_t cp;
    uint32_t upper[3], title[3];
} SPECIAL[] = {
    {0x00DF, {0x53, 0x53}, {0x53, 0x73}},
    {0x0149, {0x2BC, 0x4E}, {0x2BC, 0x4E}},
    {0x01F0, {0x4A, 0x30C}, {0x4A, 0x30C}},
    {0x0390, {0x399, 0x308, 0x301}, {0x399, 0x308, 0x301}},
    {0x03B0, {0x3A5, 0x308, 0x301}, {0x3A5, 0x308, 0x301}},
    {0x0587, {0x535, 0x552}, {0x535, 0x582}},
    {0x1E96, {0x48, 0x331}, {0x48, 0x331}},
    {0x1E97, {0x54, 0x308}, {0x54, 0x308}},
    {0x1E98, {0x57, 0x30A}, {0x57, 0x30A}},
    {0x1E99, {0x59, 0x30A}, {0x59, 0x30A}},
    {0x1E9A, {0x41, 0x2BE}, {0x41, 0x2BE}},
    {0x1F50, {0x3A5, 0x313}, {0x3A5, 0x313}},
    {0x1F52, {0x3A5, 0x313, 0x300}, {0x3A5, 0x313, 0x300}},
    {0x1F54, {0x3A5, 0x313, 0x301}, {0x3A5, 0x313, 0x301}},
    {0x1F56, {0x3A5, 0x313, 0x342}, {0x3A5, 0x313, 0x342}},
    {0x1FB6, {0x391, 0x342}, {0x391, 0x342}},
    {0x1FC6, {0x397, 0x342}, {0x397, 0x342}},
    {0x1FD2, {0x399, 0x308, 0x300}, {0x399, 0x308, 0x300}},
    {0x1FD3, {0x399, 0x308, 0x301}, {0x399, 0x308, 0x301}},
    {0x1FD6, {0x399, 0x342}, {0x399, 0x342}},
    {0x1FD7, {0x399, 0x308, 0x342}, {0x399, 0x308, 0x342}},
    {0x1FE2, {0x3A5, 0x308, 0x300}, {0x3A5, 0x308, 0x300}},
    {0x1FE3, {0x3A5, 0x308, 0x301}, {0x3A5, 0x308, 0x301}},
    {0x1FE4, {0x3A1, 0x313}, {0x3A1, 0x313}},
    {0x1FE6, {0x3A5, 0x342}, {0x3A5, 0x342}},
    {0x1FE7, {0x3A5, 0x308, 0x342}, {0x3A5, 0x308, 0x342}},
    {0xFB00, {0x46, 0x46}, {0x46, 0x66}},
    {0xFB01, {0x46, 0x49}, {0x46, 0x69}},
    {0xFB02, {0x46, 0x4C}, {0x46, 0x6C}},
    {0xFB03, {0x46, 0x46, 0x49}, {0x46, 0x66, 0x69}},
    {0xFB04, {0x46, 0x46, 0x4C}, {0x46, 0x66, 0x6C}},
    {0xFB05, {0x53, 0x54}, {0x53, 0x74}},
    {0xFB06, {0x53, 0x54}, {0x53, 0x74}},
    {0xFB13, {0x544, 0x546}, {0x544, 0x576}},
    {0xFB14, {0x544, 0x535}, {0x544, 0x565}},
    {0xFB15, {0x544, 0x53B}, {0x544, 0x56B}},
    {0xFB16, {0x54E, 0x546}, {0x54E, 0x576}},
    {0xFB17, {0x544, 0x53D}, {0x544, 0x56D}},
};

static int is_cased(uint32_t cp)
{
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
           utf8proc_isupper((utf8proc_int32_t)cp) || utf8proc_islower((utf8proc_int32_t)cp);
}

static int is_case_ignorable(uint32_t cp)
{
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
           cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK || cp == '\'' || cp == '.' || cp == ':' ||
           cp == 0xB7 || cp == 0x2018 || cp == 0x2019 || cp == 0x2024 || cp == 0x2027 || cp == 0xFE13 ||
           cp == 0xFE52 || cp == 0xFE55 || cp == 0xFF07 || cp == 0xFF0E || cp == 0xFF1A;
}

/* Σ lower-cases to ς at the end of a word (Unicode's Final_Sigma, as Python does). */
static uint32_t lower_sigma(const char *p, size_t n, size_t i, size_t adv)
{
    size_t j = i;
    uint32_t prev = 0;
    int found = 0;
    while (j > 0) {
        size_t k = j - 1, a;
        while (k > 0 && ((unsigned char)p[k] & 0xC0) == 0x80)
            k--;
        prev = u8_decode(p + k, j - k, &a);
        j = k;
        if (!is_case_ignorable(prev)) {
            found = 1;
            break;
        }
    }
    if (!found || !is_cased(prev))
        return 0x3C3;
    for (size_t k = i + adv; k < n;) {
        size_t a;
        uint32_t next = u8_decode(p + k, n - k, &a);
        if (!is_case_ignorable(next))
            return is_cased(next) ? 0x3C3 : 0x3C2;
        k += a;
    }
    return 0x3C2;
}

/* 0 lower, 1 upper, 2 title (str.title), 3 capitalize — Python's full case mappings. */
tv ts_case(rctx *c, tv s, int mode)
{
    an_strbuf sb;
    an_sb_init(&sb);
    const char *p = s.u.s->s;
    size_t n = s.u.s->len;
    int prev_cased = 0, first = 1;
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t cp = u8_decode(p + i, n - i, &adv);
        /* which mapping: 'L'ower, 'U'pper or 'T'itle */
        char how = mode == 0 ? 'L' : mode == 1 ? 'U' : mode == 2 ? (prev_cased ? 'L' : 'T') : (first ? 'T' : 'L');
        if (mode == 2)
            prev_cased = is_cased(cp);
        first = 0;
        const uint32_t *multi = NULL;
        uint32_t o;
        if (how == 'L') {
            if (cp == 0x130) { /* İ → i + combining dot */
                an_sb_append(&sb, "i\xcc\x87", 3);
                i += adv;
                continue;
            }
            o = cp == 0x3A3 ? lower_sigma(p, n, i, adv) : (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        } else {
            if (cp >= 0xDF && cp <= 0xFB17)
                for (size_t k = 0; k < sizeof SPECIAL / sizeof SPECIAL[0]; k++)
                    if (SPECIAL[k].cp == cp)
                        multi = how == 'U' ? SPECIAL[k].upper : SPECIAL[k].title;
            o = how == 'U' ? (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp) : (uint32_t)utf8proc_totitle((utf8proc_int32_t)cp);
        }
        if (multi) {
            for (int k = 0; k < 3 && multi[k]; k++) {
                char buf[4];
                an_sb_append(&sb, buf, (size_t)u8_encode(multi[k], buf));
            }
        } else if (o == cp)
            an_sb_append(&sb, p + i, adv);
        else {
            char buf[4];
            an_sb_append(&sb, buf, (size_t)u8_encode(o, buf));
        }
        i += adv;
    }
    tv r = tv_strbuf(c, &sb);
    an_sb_free(&sb);
    return r;
}

tv ts_replace(rctx *c, tv s, tv old, tv new, int64_t count)
{
    const char *p = s.u.s->s;
    size_t n = s.u.s->len, on = old.u.s->len;
    an_strbuf sb;
    an_sb_init(&sb);
    if (on == 0) { /* Python inserts new between every character */
        int64_t done = 0;
        for (size_t i = 0; i <= n;) {
            if (count < 0 || done < count) {
                an_sb_append(&sb, new.u.s->s, new.u.s->len);
                done++;
            }
            if (i == n)
                break;
            size_t adv;
            u8_decode(p + i, n - i, &adv);
            an_sb_append(&sb, p + i, adv);
            i += adv;
        }
    } else {
        size_t i = 0;
        int64_t done = 0;
        while (i < n) {
            const char *hit = (count < 0 || done < count) ? memmem(p + i, n - i, old.u.s->s, on) : NULL;
            if (!hit) {
                an_sb_append(&sb, p + i, n - i);
                break;
            }
            an_sb_append(&sb, p + i, (size_t)(hit - (p + i)));
            an_sb_append(&sb, new.u.s->s, new.u.s->len);
            i = (size_t)(hit - p) + on;
            done++;
        }
    }
    if (sb.len > ((size_t)1 << 30)) {
        an_sb_free(&sb);
        tr_fail(c, "replace result too large");
        return tv_undef(NULL);
    }
    tv r = tv_strbuf(c, &sb);
    an_sb_free(&sb);
    return r;
}

/* str.split / rsplit. sep NULL: runs of whitespace, no empty strings. */
tv ts_split(rctx *c, tv s, const tstr *sep, int64_t maxsplit, int from_right)
{
    tlist *l = tl_new(c, 4);
    if (!l)
        return tv_undef(NULL);
    const char *p = s.u.s->s;
    size_t n = s.u.s->len;
    if (sep && sep->len == 0) {
        tr_fail(c, "empty separator");
        return tv_undef(NULL);
    }
    if (!from_right || maxsplit < 0) {
        size_t i = 0;
        int64_t done = 0;
        if (!sep) {
            for (;;) {
                while (i < n) {
                    size_t adv;
                    uint32_t cp = u8_decode(p + i, n - i, &adv);
                    if (!u8_is_space(cp))
                        break;
                    i += adv;
                }
                if (i >= n)
                    break;
                if (maxsplit >= 0 && done >= maxsplit) {
                    size_t e = n;
                    tv rest = ts_strip(c, tv_str(c, p + i, e - i), NULL, 0, 1);
                    tl_push(c, l, rest);
                    break;
                }
                size_t b = i;
                while (i < n) {
                    size_t adv;
                    uint32_t cp = u8_decode(p + i, n - i, &adv);
                    if (u8_is_space(cp))
                        break;
                    i += adv;
                }
                tl_push(c, l, tv_str(c, p + b, i - b));
                done++;
            }
        } else {
            for (;;) {
                const char *hit = (maxsplit < 0 || done < maxsplit) ? memmem(p + i, n - i, sep->s, sep->len) : NULL;
                if (!hit) {
                    tl_push(c, l, tv_str(c, p + i, n - i));
                    break;
                }
                tl_push(c, l, tv_str(c, p + i, (size_t)(hit - (p + i))));
                i = (size_t)(hit - p) + sep->len;
                done++;
            }
        }
        return an_error_isset(c->err) ? tv_undef(NULL) : tv_list(l);
    }
    /* rsplit with a limit: collect from the right, then reverse */
    size_t e = n;
    int64_t done = 0;
    if (!sep) {
        for (;;) {
            while (e > 0 && u8_is_space((unsigned char)p[e - 1]))
                e--;
            if (e == 0)
                break;
            if (done >= maxsplit) {
                size_t b = 0;
                while (b < e && u8_is_space((unsigned char)p[b]))
                    b++;
                tl_push(c, l, tv_str(c, p + b, e - b));
                break;
            }
            size_t b = e;
            while (b > 0 && !u8_is_space((unsigned char)p[b - 1]))
                b--;
            tl_push(c, l, tv_str(c, p + b, e - b));
            e = b;
            done++;
        }
    } else {
        for (;;) {
            const char *hit = NULL;
            if (done < maxsplit && e >= sep->len)
                for (size_t k = e - sep->len + 1; k-- > 0;)
                    if (memcmp(p + k, sep->s, sep->len) == 0) {
                        hit = p + k;
                        break;
                    }
            if (!hit) {
                tl_push(c, l, tv_str(c, p, e));
                break;
            }
            size_t after = (size_t)(hit - p) + sep->len;
            tl_push(c, l, tv_str(c, p + after, e - after));
            e = (size_t)(hit - p);
            done++;
        }
    }
    for (size_t i = 0; i < l->n / 2; i++) {
        tv t = l->v[i];
        l->v[i] = l->v[l->n - 1 - i];
        l->v[l->n - 1 - i] = t;
    }
    return an_error_isset(c->err) ? tv_undef(NULL) : tv_list(l);
}

/* str.splitlines() */
tv ts_splitlines(rctx *c, tv s, int keepends)
{
    tlist *l = tl_new(c, 4);
    if (!l)
        return tv_undef(NULL);
    const char *p = s.u.s->s;
    size_t n = s.u.s->len, b = 0;
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t cp = u8_decode(p + i, n - i, &adv);
        int brk = cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || (cp >= 0x1c && cp <= 0x1e) ||
                  cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        if (!brk) {
            i += adv;
            continue;
        }
        size_t e = i;
        i += adv;
        if (cp == '\r' && i < n && p[i] == '\n')
            i++;
        tl_push(c, l, tv_str(c, p + b, (keepends ? i : e) - b));
        b = i;
    }
    if (b < n)
        tl_push(c, l, tv_str(c, p + b, n - b));
    return tv_list(l);
}

static int str_affix(rctx *c, tv self, tv *arg, int end, int *res)
{
    if (!arg)
        return tr_fail(c, "%s() takes at least 1 argument", end ? "endswith" : "startswith");
    if (arg->k == TV_LIST && arg->tuple) {
        *res = 0;
        for (size_t i = 0; i < arg->u.l->n && !*res; i++) {
            if (str_affix(c, self, &arg->u.l->v[i], end, res))
                return -1;
        }
        return 0;
    }
    if (arg->k != TV_STR)
        return tr_fail(c, "%s first arg must be str or a tuple of str, not %s", end ? "endswith" : "startswith",
                       tv_type_name(*arg));
    size_t n = self.u.s->len, m = arg->u.s->len;
    *res = m <= n && memcmp(self.u.s->s + (end ? n - m : 0), arg->u.s->s, m) == 0;
    return 0;
}

static int str_find(tv self, tv sub, int rev)
{
    const char *p = self.u.s->s;
    size_t n = self.u.s->len, m = sub.u.s->len;
    if (m > n)
        return -1;
    if (!rev) {
        const char *hit = memmem(p, n, sub.u.s->s, m);
        return hit ? (int)u8_len(p, (size_t)(hit - p)) : -1;
    }
    for (size_t k = n - m + 1; k-- > 0;)
        if (memcmp(p + k, sub.u.s->s, m) == 0)
            return (int)u8_len(p, k);
    return -1;
}

/* str.format with {} / {0} / {name} fields and {{ }} escapes (no format specs). */
static int str_format(rctx *c, tv self, targs *a, tv *out)
{
    an_strbuf sb;
    an_sb_init(&sb);
    const char *p = self.u.s->s;
    size_t n = self.u.s->len;
    int autonum = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '{' && i + 1 < n && p[i + 1] == '{') {
            an_sb_putc(&sb, '{');
            i++;
        } else if (p[i] == '}' && i + 1 < n && p[i + 1] == '}') {
            an_sb_putc(&sb, '}');
            i++;
        } else if (p[i] == '{') {
            size_t e = i + 1;
            while (e < n && p[e] != '}')
                e++;
            if (e >= n) {
                an_sb_free(&sb);
                return tr_fail(c, "Single '{' encountered in format string");
            }
            char field[128];
            size_t fl = e - i - 1 < sizeof field - 1 ? e - i - 1 : sizeof field - 1;
            memcpy(field, p + i + 1, fl);
            field[fl] = 0;
            if (strpbrk(field, ":!.[")) {
                an_sb_free(&sb);
                return tr_fail(c, "format specs in str.format are not supported");
            }
            tv *v;
            if (fl == 0)
                v = targ(a, autonum++, NULL);
            else if (field[0] >= '0' && field[0] <= '9')
                v = targ(a, atoi(field), NULL);
            else
                v = targ(a, -1, field);
            if (!v) {
                an_sb_free(&sb);
                return tr_fail(c, "format: no value for field '{%s}'", field);
            }
            tv_to_sb(c, &sb, *v, 0);
            i = e;
        } else if (p[i] == '}') {
            an_sb_free(&sb);
            return tr_fail(c, "Single '}' encountered in format string");
        } else
            an_sb_putc(&sb, p[i]);
    }
    *out = tv_strbuf(c, &sb);
    an_sb_free(&sb);
    return an_error_isset(c->err) ? -1 : 0;
}

static const char *const STR_METHODS[] = {
    "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit", "replace", "upper",
    "lower", "title", "capitalize", "format", "find", "rfind", "count", "join", "splitlines",
    "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "removeprefix",
    "removesuffix", NULL};
static const char *const DICT_METHODS[] = {"get", "items", "keys", "values", "copy", NULL};
static const char *const DICT_UNSAFE[] = {"pop", "popitem", "setdefault", "update", "clear", NULL};
static const char *const LIST_METHODS[] = {"index", "count", "copy", NULL};
static const char *const LIST_UNSAFE[] = {"append", "extend", "insert", "pop", "remove", "reverse",
                                          "sort", "clear", NULL};

static int in_list(const char *const *l, const char *name)
{
    for (; *l; l++)
        if (!strcmp(*l, name))
            return 1;
    return 0;
}

int tb_has_method(tv self, const char *name)
{
    switch (self.k) {
    case TV_STR: return in_list(STR_METHODS, name);
    case TV_DICT: return in_list(DICT_METHODS, name) || in_list(DICT_UNSAFE, name);
    case TV_LIST: return in_list(LIST_METHODS, name) || in_list(LIST_UNSAFE, name);
    default: return 0;
    }
}

static int str_pred(tv s, int which)
{
    if (s.u.s->len == 0)
        return 0;
    int any_cased = 0;
    for (size_t i = 0; i < s.u.s->len;) {
        size_t adv;
        utf8proc_int32_t cp = (utf8proc_int32_t)u8_decode(s.u.s->s + i, s.u.s->len - i, &adv);
        utf8proc_category_t cat = utf8proc_category(cp);
        int alpha = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        int digit = cat == UTF8PROC_CATEGORY_ND;
        switch (which) {
        case 0: /* isdigit: decimal digits and the other Numeric_Type=Digit characters */
            if (!digit && !(cp == 0xB2 || cp == 0xB3 || cp == 0xB9 || cp == 0x2070 || (cp >= 0x2074 && cp <= 0x2079) ||
                            (cp >= 0x2080 && cp <= 0x2089) || (cp >= 0x2460 && cp <= 0x2468) ||
                            (cp >= 0x2474 && cp <= 0x247C) || (cp >= 0x2488 && cp <= 0x2490) || cp == 0x24EA ||
                            (cp >= 0x24F5 && cp <= 0x24FD) || cp == 0x24FF || (cp >= 0x2776 && cp <= 0x277E) ||
                            (cp >= 0x2780 && cp <= 0x2788) || (cp >= 0x278A && cp <= 0x2792) ||
                            (cp >= 0x1F100 && cp <= 0x1F10A)))
                return 0;
            break;
        case 1: if (!alpha) return 0; break;
        case 2: if (!alpha && !digit && cat != UTF8PROC_CATEGORY_NL && cat != UTF8PROC_CATEGORY_NO) return 0; break;
        case 3: if (!u8_is_space((uint32_t)cp)) return 0; break;
        case 4: /* isupper: every cased character upper-case, at least one */
            if (is_cased((uint32_t)cp) && !utf8proc_isupper(cp))
                return 0;
            any_cased |= is_cased((uint32_t)cp);
            break;
        case 5:
            if (is_cased((uint32_t)cp) && !utf8proc_islower(cp))
                return 0;
            any_cased |= is_cased((uint32_t)cp);
            break;
        }
        i += adv;
    }
    return which >= 4 ? any_cased : 1;
}

static int str_method(rctx *c, tv self, const char *name, targs *a, tv *out)
{
    tv *a0 = targ(a, 0, NULL), *a1 = targ(a, 1, NULL);
    if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
        int res;
        if (str_affix(c, self, a0, name[0] == 'e', &res))
            return -1;
        *out = tv_bool(res);
        return 0;
    }
    if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
        tv *ch = targ(a, 0, "chars");
        if (ch && ch->k != TV_NONE && need_str(c, ch, "strip arg"))
            return -1;
        *out = ts_strip(c, self, ch && ch->k == TV_STR ? ch->u.s : NULL, name[0] != 'r', name[0] != 'l');
        return 0;
    }
    if (!strcmp(name, "split") || !strcmp(name, "rsplit")) {
        tv *sep = targ(a, 0, "sep"), *mx = targ(a, 1, "maxsplit");
        if (sep && sep->k != TV_NONE && need_str(c, sep, "separator"))
            return -1;
        int64_t m = mx && mx->k == TV_INT ? mx->u.i : -1;
        *out = ts_split(c, self, sep && sep->k == TV_STR ? sep->u.s : NULL, m, name[0] == 'r');
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "replace")) {
        tv *cnt = targ(a, 2, "count");
        if (need_str(c, a0, "replace arg 1") || need_str(c, a1, "replace arg 2"))
            return -1;
        *out = ts_replace(c, self, *a0, *a1, cnt && cnt->k == TV_INT ? cnt->u.i : -1);
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "upper")) { *out = ts_case(c, self, 1); return 0; }
    if (!strcmp(name, "lower")) { *out = ts_case(c, self, 0); return 0; }
    if (!strcmp(name, "title")) { *out = ts_case(c, self, 2); return 0; }
    if (!strcmp(name, "capitalize")) { *out = ts_case(c, self, 3); return 0; }
    if (!strcmp(name, "format")) return str_format(c, self, a, out);
    if (!strcmp(name, "find") || !strcmp(name, "rfind")) {
        if (need_str(c, a0, "find arg"))
            return -1;
        *out = tv_int(str_find(self, *a0, name[0] == 'r'));
        return 0;
    }
    if (!strcmp(name, "count")) {
        if (need_str(c, a0, "count arg"))
            return -1;
        int64_t cnt = 0;
        size_t m = a0->u.s->len, n = self.u.s->len;
        if (m == 0)
            cnt = (int64_t)u8_len(self.u.s->s, n) + 1;
        else
            for (size_t i = 0; i + m <= n;) {
                const char *hit = memmem(self.u.s->s + i, n - i, a0->u.s->s, m);
                if (!hit)
                    break;
                cnt++;
                i = (size_t)(hit - self.u.s->s) + m;
            }
        *out = tv_int(cnt);
        return 0;
    }
    if (!strcmp(name, "join")) {
        if (!a0)
            return tr_fail(c, "join() takes exactly one argument");
        tlist *l = tv_iter(c, *a0);
        if (!l)
            return -1;
        an_strbuf sb;
        an_sb_init(&sb);
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i].k != TV_STR) {
                an_sb_free(&sb);
                return tr_fail(c, "sequence item %zu: expected str instance, %s found", i, tv_type_name(l->v[i]));
            }
            if (i)
                an_sb_append(&sb, self.u.s->s, self.u.s->len);
            an_sb_append(&sb, l->v[i].u.s->s, l->v[i].u.s->len);
        }
        *out = tv_strbuf(c, &sb);
        an_sb_free(&sb);
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (!strcmp(name, "splitlines")) {
        tv *k = targ(a, 0, "keepends");
        *out = ts_splitlines(c, self, k && tv_truthy(*k));
        return 0;
    }
    if (!strcmp(name, "removeprefix") || !strcmp(name, "removesuffix")) {
        int res;
        if (need_str(c, a0, name) || str_affix(c, self, a0, name[6] == 's', &res))
            return -1;
        if (!res || a0->u.s->len == 0) {
            *out = self;
            return 0;
        }
        size_t m = a0->u.s->len;
        *out = name[6] == 'p' ? tv_str(c, self.u.s->s + m, self.u.s->len - m) : tv_str(c, self.u.s->s, self.u.s->len - m);
        return 0;
    }
    static const char *const preds[] = {"isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", NULL};
    for (int k = 0; preds[k]; k++)
        if (!strcmp(name, preds[k])) {
            *out = tv_bool(str_pred(self, k));
            return 0;
        }
    return tr_fail(c, "'str' object has no attribute '%s'", name);
}

int tb_method(rctx *c, tv self, const char *name, targs *a, tv *out)
{
    if ((self.k == TV_DICT && in_list(DICT_UNSAFE, name)) || (self.k == TV_LIST && in_list(LIST_UNSAFE, name)))
        return tr_fail(c, "access to attribute '%s' of '%s' object is unsafe.", name, tv_type_name(self));
    if (self.k == TV_STR)
        return str_method(c, self, name, a, out);
    if (self.k == TV_DICT) {
        tdict *d = self.u.d;
        if (!strcmp(name, "get")) {
            tv *k = targ(a, 0, NULL), *def = targ(a, 1, NULL);
            if (!k)
                return tr_fail(c, "get expected at least 1 argument, got 0");
            tv *v = td_get(d, *k);
            *out = v ? *v : def ? *def : tv_none();
            return 0;
        }
        if (!strcmp(name, "copy")) {
            tdict *n = td_new(c, d->n);
            if (!n)
                return -1;
            for (size_t i = 0; i < d->n; i++)
                td_set(c, n, d->key[i], d->val[i]);
            *out = tv_dict(n);
            return 0;
        }
        tlist *l = tl_new(c, d->n);
        if (!l)
            return -1;
        for (size_t i = 0; i < d->n; i++) {
            tv item = d->key[i];
            if (!strcmp(name, "values"))
                item = d->val[i];
            else if (!strcmp(name, "items")) {
                tlist *pair = tl_new(c, 2);
                if (!pair)
                    return -1;
                tl_push(c, pair, d->key[i]);
                tl_push(c, pair, d->val[i]);
                item = tv_list(pair);
                item.tuple = 1;
            }
            if (tl_push(c, l, item))
                return -1;
        }
        *out = tv_list(l);
        return 0;
    }
    if (self.k == TV_LIST) {
        tlist *l = self.u.l;
        tv *x = targ(a, 0, NULL);
        if (!strcmp(name, "copy")) {
            tlist *n = tl_new(c, l->n);
            if (!n)
                return -1;
            for (size_t i = 0; i < l->n; i++)
                tl_push(c, n, l->v[i]);
            *out = tv_list(n);
            return 0;
        }
        if (!x)
            return tr_fail(c, "%s() takes exactly one argument", name);
        int64_t cnt = 0;
        for (size_t i = 0; i < l->n; i++)
            if (tv_equal(l->v[i], *x)) {
                if (!strcmp(name, "index")) {
                    *out = tv_int((int64_t)i);
                    return 0;
                }
                cnt++;
            }
        if (!strcmp(name, "index"))
            return tr_fail(c, "value is not in list");
        *out = tv_int(cnt);
        return 0;
    }
    return tr_fail(c, "'%s' object has no attribute '%s'", tv_type_name(self), name);
}

/* fmt % args, Python's printf-style formatting: %s %r %d %i %f %e %g %x %o %c %%, with
 * flags, width, precision and %(name)s from a dict. */
int ts_percent(rctx *c, tv fmt, tv args, tv *out)
{
    const char *p = fmt.u.s->s;
    size_t n = fmt.u.s->len, argi = 0;
    tlist one = {.n = 1, .cap = 1, .v = &args};
    tlist *list = args.k == TV_LIST && args.tuple ? args.u.l : &one;
    tdict *map = args.k == TV_DICT ? args.u.d : NULL;
    int used_map = 0;
    an_strbuf sb;
    an_sb_init(&sb);
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            an_sb_putc(&sb, p[i]);
            continue;
        }
        if (++i >= n)
            goto incomplete;
        tv v;
        if (p[i] == '(') {
            size_t e = i + 1;
            while (e < n && p[e] != ')')
                e++;
            if (e >= n || !map) {
                an_sb_free(&sb);
                return tr_fail(c, e >= n ? "incomplete format key" : "format requires a mapping");
            }
            tv *x = td_get(map, tv_str(c, p + i + 1, e - i - 1));
            if (!x) {
                an_sb_free(&sb);
                return tr_fail(c, "format: no key '%.*s'", (int)(e - i - 1), p + i + 1);
            }
            v = *x;
            used_map = 1;
            i = e + 1;
        } else
            v = tv_undef(NULL);
        char spec[32];
        size_t sn = 0;
        spec[sn++] = '%';
        while (i < n && p[i] && strchr("-+ #0", p[i]) && sn < 8)
            spec[sn++] = p[i++];
        long width = 0, prec = -1;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            width = width * 10 + (p[i++] - '0') % 1000;
        if (i < n && p[i] == '.') {
            prec = 0;
            i++;
            while (i < n && p[i] >= '0' && p[i] <= '9')
                prec = prec * 10 + (p[i++] - '0') % 1000;
        }
        if (width > 1000 || prec > 1000) {
            an_sb_free(&sb);
            return tr_fail(c, "format: width or precision too large");
        }
        if (i >= n)
            goto incomplete;
        char conv = p[i];
        if (conv == '%') {
            an_sb_putc(&sb, '%');
            continue;
        }
        if (v.k == TV_UNDEF && !used_map) {
            if (argi >= list->n) {
                an_sb_free(&sb);
                return tr_fail(c, "not enough arguments for format string");
            }
            v = list->v[argi++];
        }
        int left = memchr(spec, '-', sn) != NULL;
        if (conv == 's' || conv == 'r' || conv == 'a') {
            an_strbuf t;
            an_sb_init(&t);
            tv_to_sb(c, &t, v, conv != 's');
            size_t len = t.len;
            if (prec >= 0 && (size_t)prec < u8_len(t.buf, t.len))
                len = u8_offset(t.buf, t.len, (size_t)prec);
            long pad = width - (long)u8_len(t.buf, len);
            for (long k = 0; !left && k < pad; k++)
                an_sb_putc(&sb, ' ');
            an_sb_append(&sb, t.buf, len);
            for (long k = 0; left && k < pad; k++)
                an_sb_putc(&sb, ' ');
            an_sb_free(&t);
            continue;
        }
        if (!tv_is_num(v)) {
            an_sb_free(&sb);
            return tr_fail(c, "%%%c format: a real number is required, not %s", conv, tv_type_name(v));
        }
        char buf[1100];
        sn += (size_t)snprintf(spec + sn, sizeof spec - sn, "%ld", width);
        if (prec >= 0)
            sn += (size_t)snprintf(spec + sn, sizeof spec - sn, ".%ld", prec);
        if (conv && strchr("diouxXc", conv)) {
            double d = tv_num(v);
            if (v.k == TV_FLOAT && (!isfinite(d) || fabs(d) > 9.2e18)) {
                an_sb_free(&sb);
                return tr_fail(c, "cannot convert float to integer");
            }
            long long iv = v.k == TV_FLOAT ? (long long)d : v.k == TV_INT ? (long long)v.u.i : v.u.b;
            if (conv == 'c') {
                char u[4];
                an_sb_append(&sb, u, (size_t)u8_encode((uint32_t)iv & 0x1FFFFF, u));
                continue;
            }
            snprintf(spec + sn, sizeof spec - sn, "ll%c", conv == 'i' || conv == 'u' ? 'd' : conv);
            snprintf(buf, sizeof buf, spec, iv);
        } else if (conv && strchr("feEgGF", conv)) {
            snprintf(spec + sn, sizeof spec - sn, "%c", conv);
            snprintf(buf, sizeof buf, spec, tv_num(v));
        } else {
            an_sb_free(&sb);
            return tr_fail(c, "unsupported format character '%c'", conv);
        }
        an_sb_puts(&sb, buf);
    }
    if (!used_map && !map && argi < list->n) {
        an_sb_free(&sb);
        return tr_fail(c, "not all arguments converted during string formatting");
    }
    *out = tv_strbuf(c, &sb);
    an_sb_free(&sb);
    return an_error_isset(c->err) ? -1 : 0;
incomplete:
    an_sb_free(&sb);
    return tr_fail(c, "incomplete format");
}
