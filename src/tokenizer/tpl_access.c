/*
 * tpl_access.c — attribute and item access, slicing, arithmetic and comparisons with
 * Python/Jinja2 semantics (getattr-then-getitem, negative indices, floor division and
 * modulo, Markup + str escaping, `in`).
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- attribute and item access ---- */

static tv missing_attr(rctx *c, tv obj, const char *name)
{
    /* an Undefined whose use raises "'dict object' has no attribute 'x'" */
    char msg[256];
    snprintf(msg, sizeof msg, "\x02'%s object' has no attribute '%s'", tv_type_name(obj), name);
    char *m = tr_alloc(c, strlen(msg) + 1);
    if (!m)
        return tv_undef(name);
    strcpy(m, msg);
    return tv_undef(m);
}

static tv make_method(rctx *c, tv self, const char *name)
{
    tmethod *m = tr_alloc(c, sizeof *m);
    if (!m)
        return tv_undef(name);
    m->self = self;
    m->name = name;
    tv v = {.k = TV_METHOD};
    v.u.me = m;
    return v;
}

static tv loop_attr(rctx *c, tloop *lp, const char *name)
{
    size_t n = lp->items->n, i = lp->i;
    if (!strcmp(name, "index")) return tv_int((int64_t)i + 1);
    if (!strcmp(name, "index0")) return tv_int((int64_t)i);
    if (!strcmp(name, "revindex")) return tv_int((int64_t)(n - i));
    if (!strcmp(name, "revindex0")) return tv_int((int64_t)(n - i - 1));
    if (!strcmp(name, "first")) return tv_bool(i == 0);
    if (!strcmp(name, "last")) return tv_bool(i + 1 == n);
    if (!strcmp(name, "length")) return tv_int((int64_t)n);
    if (!strcmp(name, "depth")) return tv_int(lp->depth);
    if (!strcmp(name, "depth0")) return tv_int(lp->depth - 1);
    if (!strcmp(name, "previtem")) return i > 0 ? lp->items->v[i - 1] : tv_undef("previtem");
    if (!strcmp(name, "nextitem")) return i + 1 < n ? lp->items->v[i + 1] : tv_undef("nextitem");
    if (!strcmp(name, "cycle") || !strcmp(name, "changed")) {
        tv self = {.k = TV_LOOP};
        self.u.lp = lp;
        return make_method(c, self, name);
    }
    tv self = {.k = TV_LOOP};
    return missing_attr(c, self, name);
}

tv tr_getattr(rctx *c, tv obj, const char *name)
{
    switch (obj.k) {
    case TV_DICT:
        if (tb_has_method(obj, name))
            return make_method(c, obj, name);
        /* fall through */
    case TV_NS: {
        tv *v = td_gets(obj.u.d, name);
        return v ? *v : missing_attr(c, obj, name);
    }
    case TV_LOOP: return loop_attr(c, obj.u.lp, name);
    case TV_STR: case TV_LIST:
        if (tb_has_method(obj, name))
            return make_method(c, obj, name);
        return missing_attr(c, obj, name);
    case TV_CYCLER: case TV_JOINER:
        if (!strcmp(name, "next") || !strcmp(name, "reset") || !strcmp(name, "current"))
            return make_method(c, obj, name);
        return missing_attr(c, obj, name);
    default:
        return missing_attr(c, obj, name);
    }
}

static int norm_index(int64_t i, size_t n, size_t *out)
{
    if (i < 0)
        i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n)
        return -1;
    *out = (size_t)i;
    return 0;
}

int tr_getitem(rctx *c, tv obj, tv key, tv *out)
{
    if (obj.k == TV_UNDEF)
        return tr_undefined_error(c, obj);
    if ((obj.k == TV_LIST || obj.k == TV_STR) && (key.k == TV_INT || key.k == TV_BOOL)) {
        int64_t i = key.k == TV_INT ? key.u.i : key.u.b;
        size_t idx;
        if (obj.k == TV_LIST) {
            if (norm_index(i, obj.u.l->n, &idx)) {
                *out = tv_undef("item");
                return 0;
            }
            *out = obj.u.l->v[idx];
            return 0;
        }
        size_t n = obj.u.s->len, cps = u8_len(obj.u.s->s, n);
        if (norm_index(i, cps, &idx)) {
            *out = tv_undef("item");
            return 0;
        }
        size_t b = cps == n ? idx : u8_offset(obj.u.s->s, n, idx), adv;
        u8_decode(obj.u.s->s + b, n - b, &adv);
        *out = tv_str(c, obj.u.s->s + b, adv);
        return an_error_isset(c->err) ? -1 : 0;
    }
    if (obj.k == TV_DICT || obj.k == TV_NS) {
        tv *v = td_get(obj.u.d, key);
        if (v) {
            *out = *v;
            return 0;
        }
    }
    if (key.k == TV_STR) {
        *out = tr_getattr(c, obj, key.u.s->s);
        return an_error_isset(c->err) ? -1 : 0;
    }
    *out = tv_undef("item");
    return 0;
}

int tr_slice(rctx *c, tv obj, tv *parts, tv *out)
{
    int64_t idx[3];
    int has[3];
    for (int k = 0; k < 3; k++) {
        has[k] = parts[k].k != TV_NONE && parts[k].k != TV_UNDEF;
        if (has[k] && parts[k].k != TV_INT && parts[k].k != TV_BOOL)
            return tr_fail(c, "slice indices must be integers or None");
        idx[k] = has[k] ? (parts[k].k == TV_INT ? parts[k].u.i : parts[k].u.b) : 0;
    }
    int64_t stepv = has[2] ? idx[2] : 1;
    if (stepv == 0)
        return tr_fail(c, "slice step cannot be zero");
    if (obj.k == TV_UNDEF)
        return tr_undefined_error(c, obj);
    int is_str = obj.k == TV_STR;
    if (!is_str && obj.k != TV_LIST)
        return tr_fail(c, "'%s' object is not subscriptable", tv_type_name(obj));
    int64_t n = is_str ? (int64_t)u8_len(obj.u.s->s, obj.u.s->len) : (int64_t)obj.u.l->n;
    int64_t start, stop;
    if (stepv > 0) {
        start = has[0] ? idx[0] : 0;
        stop = has[1] ? idx[1] : n;
        if (start < 0) start = start + n < 0 ? 0 : start + n;
        if (start > n) start = n;
        if (stop < 0) stop = stop + n < 0 ? 0 : stop + n;
        if (stop > n) stop = n;
    } else {
        start = has[0] ? idx[0] : n - 1;
        stop = has[1] ? idx[1] : -1 - n; /* sentinel: before the first element */
        if (start < 0) start = start + n < 0 ? -1 : start + n;
        if (start >= n) start = n - 1;
        if (has[1]) {
            if (stop < 0) stop = stop + n < 0 ? -1 : stop + n;
            if (stop >= n) stop = n - 1;
        } else
            stop = -1;
    }
    if (is_str) {
        const char *s = obj.u.s->s;
        size_t len = obj.u.s->len;
        int ascii = (int64_t)len == n;
        if (stepv == 1) {
            if (stop <= start) {
                *out = tv_str(c, "", 0);
                return 0;
            }
            size_t b = ascii ? (size_t)start : u8_offset(s, len, (size_t)start);
            size_t e = ascii ? (size_t)stop : u8_offset(s, len, (size_t)stop);
            *out = tv_str(c, s + b, e - b);
            return an_error_isset(c->err) ? -1 : 0;
        }
        /* general step: collect code point offsets */
        size_t *offs = tr_alloc(c, ((size_t)n + 1) * sizeof *offs);
        if (!offs)
            return -1;
        size_t k = 0;
        for (size_t i = 0; i < len;) {
            size_t adv;
            offs[k++] = i;
            u8_decode(s + i, len - i, &adv);
            i += adv;
        }
        offs[k] = len;
        an_strbuf sb;
        an_sb_init(&sb);
        for (int64_t i = start; stepv > 0 ? i < stop : i > stop; i += stepv)
            an_sb_append(&sb, s + offs[i], offs[i + 1] - offs[i]);
        *out = tv_strbuf(c, &sb);
        an_sb_free(&sb);
        return an_error_isset(c->err) ? -1 : 0;
    }
    tlist *l = tl_new(c, 0);
    if (!l)
        return -1;
    for (int64_t i = start; stepv > 0 ? i < stop : i > stop; i += stepv)
        if (tl_push(c, l, obj.u.l->v[i]))
            return -1;
    *out = tv_list(l);
    out->tuple = obj.tuple;
    return 0;
}

/* ---- arithmetic ---- */

static int64_t floordiv64(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int tr_binop(rctx *c, int op, tv a, tv b, tv *out)
{
    if (a.k == TV_UNDEF)
        return tr_undefined_error(c, a);
    if (b.k == TV_UNDEF)
        return tr_undefined_error(c, b);
    if (tv_is_num(a) && tv_is_num(b)) {
        int ints = a.k != TV_FLOAT && b.k != TV_FLOAT;
        int64_t x = a.k == TV_INT ? a.u.i : a.u.b, y = b.k == TV_INT ? b.u.i : b.u.b;
        double fx = tv_num(a), fy = tv_num(b);
        switch (op) {
        case OP_ADD:
            if (ints && !__builtin_add_overflow(x, y, &x)) { *out = tv_int(x); return 0; }
            *out = tv_float(fx + fy); return 0;
        case OP_SUB:
            if (ints && !__builtin_sub_overflow(x, y, &x)) { *out = tv_int(x); return 0; }
            *out = tv_float(fx - fy); return 0;
        case OP_MUL:
            if (ints && !__builtin_mul_overflow(x, y, &x)) { *out = tv_int(x); return 0; }
            *out = tv_float(fx * fy); return 0;
        case OP_DIV:
            if (fy == 0)
                return tr_fail(c, "division by zero");
            *out = tv_float(fx / fy);
            return 0;
        case OP_FDIV: case OP_MOD:
            if (ints) {
                if (y == 0)
                    return tr_fail(c, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1)
                    return tr_fail(c, "integer overflow");
                int64_t q = floordiv64(x, y);
                *out = tv_int(op == OP_FDIV ? q : x - q * y);
                return 0;
            }
            if (fy == 0)
                return tr_fail(c, "float division by zero");
            if (op == OP_FDIV)
                *out = tv_float(floor(fx / fy));
            else {
                double m = fmod(fx, fy);
                if (m != 0 && ((m < 0) != (fy < 0)))
                    m += fy;
                *out = tv_float(m);
            }
            return 0;
        case OP_POW:
            if (ints && y >= 0) {
                int64_t r = 1, base = x;
                int ovf = 0;
                for (int64_t e = y; e > 0 && !ovf; e >>= 1) {
                    if (e & 1)
                        ovf |= __builtin_mul_overflow(r, base, &r);
                    if (e > 1)
                        ovf |= __builtin_mul_overflow(base, base, &base);
                }
                if (!ovf) {
                    *out = tv_int(r);
                    return 0;
                }
            }
            *out = tv_float(pow(fx, fy));
            return 0;
        }
    }
    if (op == OP_ADD && a.k == TV_STR && b.k == TV_STR) {
        if (a.safe != b.safe) { /* Markup + str escapes the str (markupsafe) */
            if ((!a.safe && tb_escape(c, a, &a)) || (!b.safe && tb_escape(c, b, &b)))
                return -1;
        }
        int safe = a.safe;
        size_t n = a.u.s->len + b.u.s->len;
        tstr *s = tr_alloc(c, sizeof *s + n + 1);
        if (!s)
            return -1;
        memcpy(s->s, a.u.s->s, a.u.s->len);
        memcpy(s->s + a.u.s->len, b.u.s->s, b.u.s->len);
        s->s[n] = 0;
        s->len = n;
        out->k = TV_STR;
        out->u.s = s;
        out->safe = (uint8_t)safe;
        return 0;
    }
    if (op == OP_ADD && a.k == TV_LIST && b.k == TV_LIST && a.tuple == b.tuple) {
        tlist *l = tl_new(c, a.u.l->n + b.u.l->n);
        if (!l)
            return -1;
        for (size_t i = 0; i < a.u.l->n; i++)
            tl_push(c, l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++)
            tl_push(c, l, b.u.l->v[i]);
        *out = tv_list(l);
        out->tuple = a.tuple;
        return 0;
    }
    if (op == OP_MUL && ((a.k == TV_STR || a.k == TV_LIST) && (b.k == TV_INT || b.k == TV_BOOL))) {
        int64_t times = b.k == TV_INT ? b.u.i : b.u.b;
        if (times < 0)
            times = 0;
        if (a.k == TV_STR) {
            if (a.u.s->len && (uint64_t)times > ((size_t)1 << 30) / a.u.s->len)
                return tr_fail(c, "string repetition too large");
            an_strbuf sb;
            an_sb_init(&sb);
            for (int64_t i = 0; i < times; i++)
                an_sb_append(&sb, a.u.s->s, a.u.s->len);
            *out = tv_strbuf(c, &sb);
            an_sb_free(&sb);
            return an_error_isset(c->err) ? -1 : 0;
        }
        if (a.u.l->n && (uint64_t)times > ((size_t)1 << 24) / a.u.l->n)
            return tr_fail(c, "list repetition too large");
        tlist *l = tl_new(c, 0);
        if (!l)
            return -1;
        for (int64_t i = 0; i < times; i++)
            for (size_t k = 0; k < a.u.l->n; k++)
                if (tl_push(c, l, a.u.l->v[k]))
                    return -1;
        *out = tv_list(l);
        return 0;
    }
    if (op == OP_MOD && a.k == TV_STR)
        return ts_percent(c, a, b, out);
    if (op == OP_MUL && (b.k == TV_STR || b.k == TV_LIST) && (a.k == TV_INT || a.k == TV_BOOL))
        return tr_binop(c, op, b, a, out);
    static const char *const sym[] = {"+", "-", "*", "/", "//", "%", "**"};
    return tr_fail(c, "unsupported operand type(s) for %s: '%s' and '%s'", op <= OP_POW ? sym[op] : "?",
                   tv_type_name(a), tv_type_name(b));
}

static int contains(rctx *c, tv hay, tv needle, int *res)
{
    switch (hay.k) {
    case TV_UNDEF: *res = 0; return 0;
    case TV_STR:
        if (needle.k != TV_STR)
            return tr_fail(c, "'in <string>' requires string as left operand, not %s", tv_type_name(needle));
        *res = needle.u.s->len == 0 || memmem(hay.u.s->s, hay.u.s->len, needle.u.s->s, needle.u.s->len) != NULL;
        return 0;
    case TV_LIST:
        *res = 0;
        for (size_t i = 0; i < hay.u.l->n && !*res; i++)
            *res = tv_equal(hay.u.l->v[i], needle);
        return 0;
    case TV_DICT: case TV_NS:
        *res = td_get(hay.u.d, needle) != NULL;
        return 0;
    default:
        return tr_fail(c, "argument of type '%s' is not iterable", tv_type_name(hay));
    }
}

int tr_compare_op(rctx *c, int op, tv a, tv b, int *res)
{
    switch (op) {
    case OP_EQ: *res = tv_equal(a, b); return 0;
    case OP_NE: *res = !tv_equal(a, b); return 0;
    case OP_IN: return contains(c, b, a, res);
    case OP_NOTIN: if (contains(c, b, a, res)) return -1; *res = !*res; return 0;
    default: {
        if (a.k == TV_UNDEF)
            return tr_undefined_error(c, a);
        if (b.k == TV_UNDEF)
            return tr_undefined_error(c, b);
        int r = tv_compare(c, a, b);
        if (r == -2)
            return -1;
        *res = op == OP_LT ? r < 0 : op == OP_LE ? r <= 0 : op == OP_GT ? r > 0 : r >= 0;
        return 0;
    }
    }
}
