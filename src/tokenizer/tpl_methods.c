/*
 * tpl_methods.c — Python's str, dict and list methods as templates call them
 * ("x".strip(), d.items(), ...), and the string helpers the filters share.
 * The sandbox is immutable, as in transformers: list.append and dict.update exist but
 * calling them is refused, with Jinja2's message.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

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

/* 0 lower, 1 upper, 2 title (str.title), 3 capitalize */
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
        uint32_t o = cp;
        int prev_was_cased = prev_cased;
        int cased = utf8proc_isupper((utf8proc_int32_t)cp) || utf8proc_islower((utf8proc_int32_t)cp) ||
                    utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_LT;
        switch (mode) {
        case 0: o = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp); break;
        case 1: o = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp); break;
        case 2:
            o = prev_cased ? (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp)
                           : (uint32_t)utf8proc_totitle((utf8proc_int32_t)cp);
            prev_cased = cased;
            break;
        case 3:
            o = first ? (uint32_t)utf8proc_totitle((utf8proc_int32_t)cp) : (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            break;
        }
        const char *special = NULL; /* full case mappings that are not one code point */
        if (mode == 0 && cp == 0x130)
            special = "i\xcc\x87";
        else if ((mode == 1 || ((mode == 2 && !prev_was_cased) || (mode == 3 && first))) && cp >= 0xFB00 && cp <= 0xFB06) {
            static const char *const up[] = {"FF", "FI", "FL", "FFI", "FFL", "ST", "ST"};
            static const char *const ti[] = {"Ff", "Fi", "Fl", "Ffi", "Ffl", "St", "St"};
            special = mode == 1 ? up[cp - 0xFB00] : ti[cp - 0xFB00];
        }
        if (special)
            an_sb_puts(&sb, special);
        else if (((mode == 3 && first) || (mode == 2 && !prev_was_cased)) && cp == 0xDF) { /* ß → "Ss" */
            an_sb_puts(&sb, "Ss");
        } else if (mode == 1 && cp == 0xDF) {
            an_sb_puts(&sb, "SS");
        } else if (o == cp)
            an_sb_append(&sb, p + i, adv);
        else {
            char buf[4];
            an_sb_append(&sb, buf, (size_t)u8_encode(o, buf));
        }
        first = 0;
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
        case 0: if (!digit) return 0; break;
        case 1: if (!alpha) return 0; break;
        case 2: if (!alpha && !digit && cat != UTF8PROC_CATEGORY_NL && cat != UTF8PROC_CATEGORY_NO) return 0; break;
        case 3: if (!u8_is_space((uint32_t)cp)) return 0; break;
        case 4: if (utf8proc_islower(cp)) return 0; if (utf8proc_isupper(cp)) any_cased = 1; break;
        case 5: if (utf8proc_isupper(cp)) return 0; if (utf8proc_islower(cp)) any_cased = 1; break;
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
