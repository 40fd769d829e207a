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
static int run_loop(rctx *c, frame *f, stmt *s, tv it, int depth);
static int call_loop(rctx *c, tloop *lp, tv items, tv *out);

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

int tr_undefined_error(rctx *c, tv u)
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
    if (r == X_OK) /* a plain str: Markup only under autoescape, which is off */
        *out = tv_strbuf(c, &buf);
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
    case TV_LOOP:
        if (npos != 1 || nkw)
            return tr_fail(c, "loop() takes exactly one argument");
        return call_loop(c, fn.u.lp, pos[0], out);
    case TV_UNDEF: return tr_undefined_error(c, fn);
    default: return tr_fail(c, "'%s' object is not callable", tv_type_name(fn));
    }
}

/* Evaluate call arguments; npos and nkw are the counts after f(*a, **k) expansion.
 * extra_kw keeps room for keyword arguments the caller appends. */
static int eval_args(rctx *c, frame *f, expr *e, tv **pos, int *npos, const char ***kwn, tv **kwv, int *nkw,
                     int extra_kw)
{
    tv da = tv_none(), dk = tv_none();
    if (e->dyn_args && ev(c, f, e->dyn_args, &da))
        return -1;
    if (e->dyn_kwargs && ev(c, f, e->dyn_kwargs, &dk))
        return -1;
    tlist *dl = NULL;
    if (e->dyn_args && !(dl = tv_iter(c, da)))
        return -1;
    if (e->dyn_kwargs && dk.k != TV_DICT)
        return tr_fail(c, "argument after ** must be a mapping, not %s", tv_type_name(dk));
    size_t np = (size_t)e->nargs + (dl ? dl->n : 0), nk = (size_t)e->nkw + (e->dyn_kwargs ? dk.u.d->n : 0);
    *pos = tr_alloc(c, (np + 1) * sizeof **pos);
    *kwn = tr_alloc(c, (nk + (size_t)extra_kw + 1) * sizeof **kwn);
    *kwv = tr_alloc(c, (nk + (size_t)extra_kw + 1) * sizeof **kwv);
    if (!*pos || !*kwn || !*kwv)
        return -1;
    for (int i = 0; i < e->nargs; i++)
        if (ev(c, f, e->args[i], &(*pos)[i]))
            return -1;
    for (size_t i = 0; dl && i < dl->n; i++)
        (*pos)[(size_t)e->nargs + i] = dl->v[i];
    for (int i = 0; i < e->nkw; i++) {
        (*kwn)[i] = e->kw[i].name;
        if (ev(c, f, e->kw[i].e, &(*kwv)[i]))
            return -1;
    }
    for (size_t i = 0; e->dyn_kwargs && i < dk.u.d->n; i++) {
        tv k = dk.u.d->key[i];
        if (k.k != TV_STR)
            return tr_fail(c, "keywords must be strings");
        (*kwn)[(size_t)e->nkw + i] = k.u.s->s;
        (*kwv)[(size_t)e->nkw + i] = dk.u.d->val[i];
    }
    *npos = (int)np;
    *nkw = (int)nk;
    return 0;
}

/* ---- expressions ---- */

static int ev_inner(rctx *c, frame *f, expr *e, tv *out);

/* Expression trees can be deep without nesting brackets (a+a+a+..., x|f|f|f...): the
 * recursion is bounded here rather than by the C stack. */
static int ev(rctx *c, frame *f, expr *e, tv *out)
{
    if (++c->edepth > 3000) {
        c->edepth--;
        return tr_fail(c, "expression nested too deeply");
    }
    int r = ev_inner(c, f, e, out);
    c->edepth--;
    return r;
}

static int ev_inner(rctx *c, frame *f, expr *e, tv *out)
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
            return tr_undefined_error(c, obj);
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
                        return tr_undefined_error(c, obj);
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
        return tr_slice(c, obj, parts, out);
    }
    case E_CALL: {
        tv fn, *pos, *kwv;
        const char **kwn;
        int np, nk;
        if (ev(c, f, e->a, &fn) || eval_args(c, f, e, &pos, &np, &kwn, &kwv, &nk, 0))
            return -1;
        int line = e->line, col = e->col;
        int r = tr_call(c, fn, pos, np, kwn, kwv, nk, out);
        c->line = line;
        c->col = col;
        return r;
    }
    case E_FILTER: case E_TEST: {
        tv in, *pos, *kwv;
        const char **kwn;
        int np, nk;
        if (ev(c, f, e->a, &in) || eval_args(c, f, e, &pos, &np, &kwn, &kwv, &nk, 0))
            return -1;
        targs a = {.pos = pos, .npos = np, .kwn = kwn, .kwv = kwv, .nkw = nk};
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
            return x.k == TV_UNDEF ? tr_undefined_error(c, x)
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
            if (ev(c, f, e->args[i], &right) || tr_compare_op(c, e->ops[i - 1], left, right, &res))
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
    return run_loop(c, f, s, it, 1);
}

static int run_loop(rctx *c, frame *f, stmt *s, tv it, int depth)
{
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
    lp->s = s;
    lp->outer = f;
    lp->depth = depth;
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

/* loop(items) inside a recursive loop: the same loop one level deeper, as a string. */
static int call_loop(rctx *c, tloop *lp, tv items, tv *out)
{
    if (!lp->s->recursive)
        return tr_fail(c, "the loop must have the 'recursive' marker to be called recursively");
    if (++c->depth > (c->lim && c->lim->max_depth ? c->lim->max_depth : 200))
        return tr_fail(c, "maximum recursion depth exceeded in a recursive loop");
    an_strbuf buf, *saved = c->out;
    an_sb_init(&buf);
    c->out = &buf;
    int r = run_loop(c, lp->outer, lp->s, items, lp->depth + 1);
    c->out = saved;
    if (r == X_OK)
        *out = tv_strbuf(c, &buf);
    an_sb_free(&buf);
    c->depth--;
    return r == X_OK && !an_error_isset(c->err) ? 0 : -1;
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
        int np, nk;
        if (ev(c, f, s->call->a, &fn) || eval_args(c, f, s->call, &pos, &np, &kwn, &kwv, &nk, 1))
            return X_ERR;
        kwn[nk] = "caller";
        kwv[nk] = caller;
        if (tr_call(c, fn, pos, np, kwn, kwv, nk + 1, &out))
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
