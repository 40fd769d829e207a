/*
 * tpl_eval.c — the evaluator: statements, expressions, scoping, calls, and the public
 * parse/render entry points.
 *
 * Scoping follows Jinja2: a for loop body and a macro body get their own frame (a `set`
 * there does not leak out; namespace() objects are the way out), `if` does not.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { X_OK = 0, X_BREAK = 1, X_CONTINUE = 2, X_ERR = -1 };

struct tloop { tlist *items; size_t i; tv last_changed; int has_changed; };

static int ev(rctx *c, frame *f, expr *e, tv *out);
static int exec_body(rctx *c, frame *f, const body *b);

/* ---- frames ---- */

static int fr_set(rctx *c, frame *f, const char *name, tv v)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) {
            f->vals[i] = v;
            return 0;
        }
    if (f->n == f->cap) {
        int nc = f->cap ? f->cap * 2 : 8;
        const char **nn = tr_alloc(c, (size_t)nc * sizeof *nn);
        tv *nv = tr_alloc(c, (size_t)nc * sizeof *nv);
        if (!nn || !nv)
            return -1;
        if (f->n) {
            memcpy(nn, f->names, (size_t)f->n * sizeof *nn);
            memcpy(nv, f->vals, (size_t)f->n * sizeof *nv);
        }
        f->names = nn;
        f->vals = nv;
        f->cap = nc;
    }
    f->names[f->n] = name;
    f->vals[f->n] = v;
    f->n++;
    return 0;
}

static tv lookup(rctx *c, frame *f, const char *name)
{
    for (; f; f = f->parent)
        for (int i = f->n - 1; i >= 0; i--)
            if (f->names[i] == name || strcmp(f->names[i], name) == 0)
                return f->vals[i];
    if (c->globals) {
        tv *g = td_gets(c->globals, name);
        if (g)
            return *g;
    }
    int fn = tb_global_fn(name);
    if (fn) {
        tv v = {.k = TV_FUNC};
        v.u.fn = fn;
        return v;
    }
    return tv_undef(name);
}

static int undefined_error(rctx *c, tv u)
{
    if (u.uname && u.uname[0] == '\x02')
        return tr_fail(c, "%s", u.uname + 1);
    return tr_fail(c, "'%s' is undefined", u.uname ? u.uname : "value");
}

static int step(rctx *c)
{
    size_t max = c->lim && c->lim->max_steps ? c->lim->max_steps : 50000000;
    if (++c->steps > max)
        return tr_fail(c, "template ran too long (over %zu steps)", max);
    return 0;
}

static int emit(rctx *c, const char *s, size_t n)
{
    size_t max = c->lim && c->lim->max_output ? c->lim->max_output : (size_t)64 << 20;
    if (c->out->len + n > max)
        return tr_fail(c, "template output too large (over %zu bytes)", max);
    if (an_sb_append(c->out, s, n))
        return tr_fail(c, "out of memory");
    return 0;
}

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
    if (!strcmp(name, "depth")) return tv_int(1);
    if (!strcmp(name, "depth0")) return tv_int(0);
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
        return undefined_error(c, obj);
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

static int do_slice(rctx *c, tv obj, tv *parts, tv *out)
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
        return undefined_error(c, obj);
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
        return undefined_error(c, a);
    if (b.k == TV_UNDEF)
        return undefined_error(c, b);
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
        out->safe = 0;
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

static int compare_op(rctx *c, int op, tv a, tv b, int *res)
{
    switch (op) {
    case OP_EQ: *res = tv_equal(a, b); return 0;
    case OP_NE: *res = !tv_equal(a, b); return 0;
    case OP_IN: return contains(c, b, a, res);
    case OP_NOTIN: if (contains(c, b, a, res)) return -1; *res = !*res; return 0;
    default: {
        if (a.k == TV_UNDEF)
            return undefined_error(c, a);
        if (b.k == TV_UNDEF)
            return undefined_error(c, b);
        int r = tv_compare(c, a, b);
        if (r == -2)
            return -1;
        *res = op == OP_LT ? r < 0 : op == OP_LE ? r <= 0 : op == OP_GT ? r > 0 : r >= 0;
        return 0;
    }
    }
}

/* ---- calls ---- */

static int call_macro(rctx *c, tmacro *m, frame *closure, targs *a, tv caller, tv *out)
{
    if (++c->depth > (c->lim && c->lim->max_depth ? c->lim->max_depth : 200))
        return tr_fail(c, "maximum recursion depth exceeded in macro '%s'", m->name);
    frame f = {.parent = closure};
    tlist *varargs = tl_new(c, 0);
    tdict *kwargs = td_new(c, 0);
    if (!varargs || !kwargs)
        return -1;
    for (int i = 0; i < m->nparams; i++) {
        tv v;
        if (i < a->npos)
            v = a->pos[i];
        else {
            int found = 0;
            for (int k = 0; k < a->nkw; k++)
                if (!strcmp(a->kwn[k], m->params[i])) {
                    v = a->kwv[k];
                    found = 1;
                }
            if (!found) {
                if (m->defaults[i]) {
                    if (ev(c, &f, m->defaults[i], &v))
                        return -1;
                } else
                    v = tv_undef(m->params[i]);
            }
        }
        if (fr_set(c, &f, m->params[i], v))
            return -1;
    }
    for (int i = m->nparams; i < a->npos; i++)
        tl_push(c, varargs, a->pos[i]);
    for (int k = 0; k < a->nkw; k++) {
        int is_param = 0;
        for (int i = 0; i < m->nparams; i++)
            is_param |= !strcmp(a->kwn[k], m->params[i]);
        if (!is_param && strcmp(a->kwn[k], "caller"))
            td_set(c, kwargs, tv_cstr(c, a->kwn[k]), a->kwv[k]);
    }
    tv va = tv_list(varargs);
    va.tuple = 1;
    if (fr_set(c, &f, "varargs", va) || fr_set(c, &f, "kwargs", tv_dict(kwargs)))
        return -1;
    if (caller.k != TV_UNDEF && fr_set(c, &f, "caller", caller))
        return -1;
    an_strbuf buf, *saved = c->out;
    an_sb_init(&buf);
    c->out = &buf;
    int r = exec_body(c, &f, &m->b);
    c->out = saved;
    if (r != X_OK && r != X_ERR)
        tr_fail(c, "'break' or 'continue' inside a macro");
    if (r == X_OK) {
        *out = tv_strbuf(c, &buf);
        out->safe = 1;
    }
    an_sb_free(&buf);
    c->depth--;
    return r == X_OK && !an_error_isset(c->err) ? 0 : -1;
}

int tr_call(rctx *c, tv fn, tv *pos, int npos, const char **kwn, tv *kwv, int nkw, tv *out)
{
    targs a = {.pos = pos, .npos = npos, .kwn = kwn, .kwv = kwv, .nkw = nkw};
    if (step(c))
        return -1;
    switch (fn.k) {
    case TV_MACRO: {
        tv caller = tv_undef(NULL);
        for (int k = 0; k < nkw; k++)
            if (!strcmp(kwn[k], "caller"))
                caller = kwv[k];
        return call_macro(c, fn.u.m, fn.u.m->closure, &a, caller, out);
    }
    case TV_FUNC: return tb_call_global(c, fn.u.fn, &a, out);
    case TV_METHOD: {
        tv self = fn.u.me->self;
        if (self.k == TV_LOOP) {
            tloop *lp = self.u.lp;
            if (!strcmp(fn.u.me->name, "cycle")) {
                if (npos == 0)
                    return tr_fail(c, "no items for cycling given");
                *out = pos[lp->i % (size_t)npos];
                return 0;
            }
            /* changed(*values) */
            tlist *l = tl_new(c, (size_t)npos);
            if (!l)
                return -1;
            for (int i = 0; i < npos; i++)
                tl_push(c, l, pos[i]);
            tv nv = tv_list(l);
            int changed = !lp->has_changed || !tv_equal(lp->last_changed, nv);
            lp->last_changed = nv;
            lp->has_changed = 1;
            *out = tv_bool(changed);
            return 0;
        }
        return tb_method(c, self, fn.u.me->name, &a, out);
    }
    case TV_UNDEF: return undefined_error(c, fn);
    default: return tr_fail(c, "'%s' object is not callable", tv_type_name(fn));
    }
}

static int eval_args(rctx *c, frame *f, expr *e, tv **pos, const char ***kwn, tv **kwv, int extra_kw)
{
    *pos = tr_alloc(c, (size_t)(e->nargs + 1) * sizeof **pos);
    *kwn = tr_alloc(c, (size_t)(e->nkw + extra_kw + 1) * sizeof **kwn);
    *kwv = tr_alloc(c, (size_t)(e->nkw + extra_kw + 1) * sizeof **kwv);
    if (!*pos || !*kwn || !*kwv)
        return -1;
    for (int i = 0; i < e->nargs; i++)
        if (ev(c, f, e->args[i], &(*pos)[i]))
            return -1;
    for (int i = 0; i < e->nkw; i++) {
        (*kwn)[i] = e->kw[i].name;
        if (ev(c, f, e->kw[i].e, &(*kwv)[i]))
            return -1;
    }
    return 0;
}

/* ---- expressions ---- */

static int ev(rctx *c, frame *f, expr *e, tv *out)
{
    c->line = e->line;
    c->col = e->col;
    switch (e->k) {
    case E_CONST: *out = e->cval; return 0;
    case E_NAME: *out = lookup(c, f, e->name); return 0;
    case E_LIST: case E_TUPLE: {
        tlist *l = tl_new(c, (size_t)e->nargs);
        if (!l)
            return -1;
        for (int i = 0; i < e->nargs; i++) {
            tv x;
            if (ev(c, f, e->args[i], &x) || tl_push(c, l, x))
                return -1;
        }
        *out = tv_list(l);
        out->tuple = e->k == E_TUPLE;
        return 0;
    }
    case E_DICT: {
        tdict *d = td_new(c, (size_t)e->nargs / 2);
        if (!d)
            return -1;
        for (int i = 0; i + 1 < e->nargs; i += 2) {
            tv k, v;
            if (ev(c, f, e->args[i], &k) || ev(c, f, e->args[i + 1], &v))
                return -1;
            if (k.k == TV_LIST && !k.tuple)
                return tr_fail(c, "unhashable type: 'list'");
            if (k.k == TV_DICT || k.k == TV_NS)
                return tr_fail(c, "unhashable type: 'dict'");
            if (td_set(c, d, k, v))
                return -1;
        }
        *out = tv_dict(d);
        return 0;
    }
    case E_ATTR: {
        tv obj;
        if (ev(c, f, e->a, &obj))
            return -1;
        if (obj.k == TV_UNDEF)
            return undefined_error(c, obj);
        *out = tr_getattr(c, obj, e->name);
        return an_error_isset(c->err) ? -1 : 0;
    }
    case E_ITEM: {
        tv obj, key;
        if (e->b->k == E_TUPLE)
            for (int i = 0; i < e->b->nargs; i++)
                if (e->b->args[i]->k == E_SLICE && !e->b->args[i]->a) {
                    /* x[a:b, c]: Python raises TypeError, which Jinja2's getitem turns
                     * into an undefined value */
                    if (ev(c, f, e->a, &obj))
                        return -1;
                    if (obj.k == TV_UNDEF)
                        return undefined_error(c, obj);
                    *out = tv_undef("item");
                    return 0;
                }
        if (ev(c, f, e->a, &obj) || ev(c, f, e->b, &key))
            return -1;
        return tr_getitem(c, obj, key, out);
    }
    case E_SLICE: {
        tv obj, parts[3];
        if (!e->a) /* a slice inside a tuple subscript: x[1:, 2] */
            return tr_fail(c, "indices must be integers or slices, not tuple");
        if (ev(c, f, e->a, &obj))
            return -1;
        for (int k = 0; k < 3; k++) {
            parts[k] = tv_none();
            if (e->args[k] && ev(c, f, e->args[k], &parts[k]))
                return -1;
        }
        return do_slice(c, obj, parts, out);
    }
    case E_CALL: {
        tv fn, *pos, *kwv;
        const char **kwn;
        if (ev(c, f, e->a, &fn) || eval_args(c, f, e, &pos, &kwn, &kwv, 0))
            return -1;
        int line = e->line, col = e->col;
        int r = tr_call(c, fn, pos, e->nargs, kwn, kwv, e->nkw, out);
        c->line = line;
        c->col = col;
        return r;
    }
    case E_FILTER: case E_TEST: {
        tv in, *pos, *kwv;
        const char **kwn;
        if (ev(c, f, e->a, &in) || eval_args(c, f, e, &pos, &kwn, &kwv, 0))
            return -1;
        targs a = {.pos = pos, .npos = e->nargs, .kwn = kwn, .kwv = kwv, .nkw = e->nkw};
        c->line = e->line;
        c->col = e->col;
        if (e->k == E_FILTER)
            return tb_filter(c, e->name, in, &a, out);
        int res;
        if (tb_test(c, e->name, in, &a, &res))
            return -1;
        *out = tv_bool(e->negate ? !res : res);
        return 0;
    }
    case E_NOT: {
        tv x;
        if (ev(c, f, e->a, &x))
            return -1;
        *out = tv_bool(!tv_truthy(x));
        return 0;
    }
    case E_NEG: case E_POS: {
        tv x;
        if (ev(c, f, e->a, &x))
            return -1;
        if (!tv_is_num(x))
            return x.k == TV_UNDEF ? undefined_error(c, x)
                                   : tr_fail(c, "bad operand type for unary %c: '%s'", e->k == E_NEG ? '-' : '+', tv_type_name(x));
        if (e->k == E_POS)
            *out = x.k == TV_BOOL ? tv_int(x.u.b) : x;
        else if (x.k == TV_FLOAT)
            *out = tv_float(-x.u.f);
        else {
            int64_t v = x.k == TV_INT ? x.u.i : x.u.b;
            *out = v == INT64_MIN ? tv_float(-(double)v) : tv_int(-v);
        }
        return 0;
    }
    case E_BIN: {
        tv a, b;
        if (ev(c, f, e->a, &a) || ev(c, f, e->b, &b))
            return -1;
        c->line = e->line;
        c->col = e->col;
        return tr_binop(c, e->op, a, b, out);
    }
    case E_AND: case E_OR: {
        tv a;
        if (ev(c, f, e->a, &a))
            return -1;
        if (tv_truthy(a) == (e->k == E_OR)) {
            *out = a;
            return 0;
        }
        return ev(c, f, e->b, out);
    }
    case E_COND: {
        tv cond;
        if (ev(c, f, e->b, &cond))
            return -1;
        if (tv_truthy(cond))
            return ev(c, f, e->a, out);
        if (e->c)
            return ev(c, f, e->c, out);
        *out = tv_undef(NULL);
        return 0;
    }
    case E_CMP: {
        tv left;
        if (ev(c, f, e->args[0], &left))
            return -1;
        for (int i = 1; i < e->nargs; i++) {
            tv right;
            int res;
            if (ev(c, f, e->args[i], &right) || compare_op(c, e->ops[i - 1], left, right, &res))
                return -1;
            if (!res) {
                *out = tv_bool(0);
                return 0;
            }
            left = right;
        }
        *out = tv_bool(1);
        return 0;
    }
    case E_CONCAT: {
        an_strbuf sb;
        an_sb_init(&sb);
        for (int i = 0; i < e->nargs; i++) {
            tv x;
            if (ev(c, f, e->args[i], &x) || tv_to_sb(c, &sb, x, 0)) {
                an_sb_free(&sb);
                return -1;
            }
        }
        *out = tv_strbuf(c, &sb);
        an_sb_free(&sb);
        return an_error_isset(c->err) ? -1 : 0;
    }
    }
    return tr_fail(c, "bad expression");
}

/* ---- statements ---- */

static int assign(rctx *c, frame *f, const target *tg, tv v)
{
    if (tg->nnames) {
        tlist *l = v.k == TV_LIST ? v.u.l : tv_iter(c, v);
        if (!l)
            return -1;
        if ((int)l->n != tg->nnames)
            return tr_fail(c, (int)l->n > tg->nnames ? "too many values to unpack (expected %d)"
                                                     : "not enough values to unpack (expected %d)", tg->nnames);
        for (int i = 0; i < tg->nnames; i++)
            if (fr_set(c, f, tg->names[i], l->v[i]))
                return -1;
        return 0;
    }
    if (tg->attr) {
        tv ns = lookup(c, f, tg->name);
        if (ns.k != TV_NS)
            return tr_fail(c, "cannot assign attribute on non-namespace object");
        return td_set(c, ns.u.d, tv_cstr(c, tg->attr), v);
    }
    return fr_set(c, f, tg->name, v);
}

static int render_to_string(rctx *c, frame *f, const body *b, tv *out)
{
    an_strbuf buf, *saved = c->out;
    an_sb_init(&buf);
    c->out = &buf;
    int r = exec_body(c, f, b);
    c->out = saved;
    if (r == X_OK)
        *out = tv_strbuf(c, &buf);
    else if (r != X_ERR)
        tr_fail(c, "'break' or 'continue' inside a block");
    an_sb_free(&buf);
    return r == X_OK && !an_error_isset(c->err) ? 0 : -1;
}

static int apply_filter_chain(rctx *c, frame *f, expr *chain, tv in, tv *out)
{
    frame tmp = {.parent = f};
    if (fr_set(c, &tmp, "\x01body", in))
        return -1;
    return ev(c, &tmp, chain, out);
}

static int exec_for(rctx *c, frame *f, stmt *s)
{
    tv it;
    if (ev(c, f, s->e, &it))
        return X_ERR;
    tlist *items = tv_iter(c, it);
    if (!items)
        return X_ERR;
    frame lf = {.parent = f};
    if (s->cond) { /* filter first: loop.length counts the kept items */
        tlist *kept = tl_new(c, items->n);
        if (!kept)
            return X_ERR;
        for (size_t i = 0; i < items->n; i++) {
            tv keep;
            if (step(c) || assign(c, &lf, &s->tg, items->v[i]) || ev(c, &lf, s->cond, &keep))
                return X_ERR;
            if (tv_truthy(keep) && tl_push(c, kept, items->v[i]))
                return X_ERR;
        }
        items = kept;
    }
    tloop *lp = tr_alloc(c, sizeof *lp);
    if (!lp)
        return X_ERR;
    lp->items = items;
    tv loopv = {.k = TV_LOOP};
    loopv.u.lp = lp;
    size_t n = items->n;
    for (size_t i = 0; i < n; i++) {
        lp->i = i;
        /* each iteration starts from a fresh frame: a `set` in the body lasts until the
         * end of that iteration only (Jinja2 scoping) */
        lf.n = 0;
        if (step(c) || assign(c, &lf, &s->tg, items->v[i]) || fr_set(c, &lf, "loop", loopv))
            return X_ERR;
        int r = exec_body(c, &lf, &s->b1);
        if (r == X_ERR)
            return X_ERR;
        if (r == X_BREAK)
            break;
    }
    if (n == 0)
        return exec_body(c, f, &s->b2);
    return X_OK;
}

static int exec_stmt(rctx *c, frame *f, stmt *s)
{
    if (step(c))
        return X_ERR;
    c->line = s->line;
    c->col = s->col;
    switch (s->k) {
    case S_TEXT: return emit(c, s->text, s->len) ? X_ERR : X_OK;
    case S_OUT: {
        tv v;
        if (ev(c, f, s->e, &v))
            return X_ERR;
        if (v.k == TV_STR)
            return emit(c, v.u.s->s, v.u.s->len) ? X_ERR : X_OK;
        an_strbuf sb;
        an_sb_init(&sb);
        int r = tv_to_sb(c, &sb, v, 0);
        if (!r)
            r = emit(c, sb.buf, sb.len);
        an_sb_free(&sb);
        return r ? X_ERR : X_OK;
    }
    case S_IF: {
        tv cond;
        if (ev(c, f, s->e, &cond))
            return X_ERR;
        return exec_body(c, f, tv_truthy(cond) ? &s->b1 : &s->b2);
    }
    case S_FOR: return exec_for(c, f, s);
    case S_SET: {
        tv v;
        if (ev(c, f, s->e, &v))
            return X_ERR;
        return assign(c, f, &s->tg, v) ? X_ERR : X_OK;
    }
    case S_SETBLOCK: {
        tv v;
        if (render_to_string(c, f, &s->b1, &v))
            return X_ERR;
        if (s->filter && apply_filter_chain(c, f, s->filter, v, &v))
            return X_ERR;
        return assign(c, f, &s->tg, v) ? X_ERR : X_OK;
    }
    case S_FILTERBLOCK: {
        tv v;
        if (render_to_string(c, f, &s->b1, &v) || apply_filter_chain(c, f, s->filter, v, &v))
            return X_ERR;
        tv str = tv_to_str(c, v);
        if (str.k != TV_STR)
            return X_ERR;
        return emit(c, str.u.s->s, str.u.s->len) ? X_ERR : X_OK;
    }
    case S_MACRO: {
        tmacro *m = tr_alloc(c, sizeof *m);
        if (!m)
            return X_ERR;
        *m = *s->macro;
        m->closure = f;
        tv v = {.k = TV_MACRO};
        v.u.m = m;
        return fr_set(c, f, m->name, v) ? X_ERR : X_OK;
    }
    case S_CALLBLOCK: {
        tmacro *m = tr_alloc(c, sizeof *m);
        if (!m)
            return X_ERR;
        *m = *s->macro;
        m->closure = f;
        tv caller = {.k = TV_MACRO};
        caller.u.m = m;
        tv fn, *pos, *kwv, out;
        const char **kwn;
        if (ev(c, f, s->call->a, &fn) || eval_args(c, f, s->call, &pos, &kwn, &kwv, 1))
            return X_ERR;
        kwn[s->call->nkw] = "caller";
        kwv[s->call->nkw] = caller;
        if (tr_call(c, fn, pos, s->call->nargs, kwn, kwv, s->call->nkw + 1, &out))
            return X_ERR;
        tv str = tv_to_str(c, out);
        if (str.k != TV_STR)
            return X_ERR;
        return emit(c, str.u.s->s, str.u.s->len) ? X_ERR : X_OK;
    }
    case S_WITH: {
        frame wf = {.parent = f};
        for (int i = 0; i < s->nw; i++) {
            tv v;
            if (ev(c, f, s->wvals[i], &v) || assign(c, &wf, &s->wtargets[i], v))
                return X_ERR;
        }
        return exec_body(c, &wf, &s->b1);
    }
    case S_BODY: return exec_body(c, f, &s->b1);
    case S_BREAK: return X_BREAK;
    case S_CONTINUE: return X_CONTINUE;
    }
    return X_OK;
}

static int exec_body(rctx *c, frame *f, const body *b)
{
    for (int i = 0; i < b->n; i++) {
        int r = exec_stmt(c, f, b->s[i]);
        if (r != X_OK)
            return r;
    }
    return X_OK;
}

/* ---- public entry points ---- */

tpl_template *tpl_parse(const char *src, size_t len, const char *name, an_error *err)
{
    tpl_template *t = calloc(1, sizeof *t);
    if (!t) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    an_arena_init(&t->arena);
    t->name = an_arena_strdup(&t->arena, name ? name : "template");
    if (!t->name || tpl_parse_source(t, src, len, err)) {
        if (!t->name)
            an_errorf(err, "out of memory");
        tpl_free(t);
        return NULL;
    }
    return t;
}

void tpl_free(tpl_template *t)
{
    if (!t)
        return;
    an_arena_free(&t->arena);
    free(t);
}

int tpl_render(const tpl_template *t, struct json_object *vars, const tpl_limits *lim, an_strbuf *out,
               an_error *err)
{
    an_arena a;
    an_arena_init(&a);
    rctx c = {.a = &a, .t = t, .lim = lim, .err = err, .out = out};
    an_error_clear(err);
    int r = 0;
    if (vars && json_object_is_type(vars, json_type_object)) {
        tv g = tv_from_json(&c, vars);
        if (an_error_isset(err))
            r = -1;
        else
            c.globals = g.u.d;
    } else if (vars && !json_object_is_type(vars, json_type_null))
        r = an_errorf(err, "%s: the template variables must be a JSON object", t->name);
    if (!r) {
        frame top = {0};
        int x = exec_body(&c, &top, &t->root);
        if (x == X_ERR || an_error_isset(err)) {
            if (!an_error_isset(err))
                tr_fail(&c, "render failed");
            r = -1;
        }
    }
    an_arena_free(&a);
    return r;
}
