/*
 * tpl_parse.c — tokens → AST, with Jinja2's grammar and operator precedence:
 *   condexpr < or < and < not < comparisons < + - < ~ < * / // % < ** < unary -/+
 *   < primary with postfix (.attr [item] (call)) and filters/tests (| name, is name).
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARSE_DEPTH 200

typedef struct parser {
    an_arena *a;
    const char *name;
    token *t;
    int n, i;
    an_error *err;
    int depth;
    int in_loop;
} parser;

static token *cur(parser *P) { return &P->t[P->i]; }
static token *peek(parser *P, int k) { return P->i + k < P->n ? &P->t[P->i + k] : &P->t[P->n - 1]; }

static const char *tok_desc(token *t, char *buf, size_t n)
{
    switch (t->k) {
    case T_DATA: return "template data";
    case T_VBEGIN: return "'{{'";
    case T_VEND: return "end of print statement";
    case T_BBEGIN: return "'{%'";
    case T_BEND: return "end of statement block";
    case T_NAME: snprintf(buf, n, "'%s'", t->s); return buf;
    case T_STR: return "string";
    case T_INT: return "integer";
    case T_FLOAT: return "float";
    case T_OP: snprintf(buf, n, "'%s'", t->op); return buf;
    default: return "end of template";
    }
}

static int perr_at(parser *P, token *t, const char *fmt, const char *arg)
{
    char msg[300];
    snprintf(msg, sizeof msg, fmt, arg);
    return an_errorf(P->err, "%s:%d:%d: %s", P->name, t->line, t->col, msg);
}

static int perr_unexpected(parser *P)
{
    char buf[80];
    return perr_at(P, cur(P), "unexpected %s", tok_desc(cur(P), buf, sizeof buf));
}

static int is_op(token *t, const char *op) { return t->k == T_OP && strcmp(t->op, op) == 0; }
static int is_name(token *t, const char *nm) { return t->k == T_NAME && strcmp(t->s, nm) == 0; }

static int expect_op(parser *P, const char *op)
{
    if (!is_op(cur(P), op)) {
        char buf[80], msg[160];
        snprintf(msg, sizeof msg, "expected '%s', got %s", op, tok_desc(cur(P), buf, sizeof buf));
        return perr_at(P, cur(P), "%s", msg);
    }
    P->i++;
    return 0;
}

static int expect_kind(parser *P, int k, const char *what)
{
    if (cur(P)->k != k) {
        char buf[80], msg[200];
        snprintf(msg, sizeof msg, "expected %s, got %s", what, tok_desc(cur(P), buf, sizeof buf));
        return perr_at(P, cur(P), "%s", msg);
    }
    P->i++;
    return 0;
}

static expr *mk(parser *P, int k, token *at)
{
    expr *e = an_arena_alloc(P->a, sizeof *e);
    if (!e) {
        an_errorf(P->err, "%s: out of memory", P->name);
        return NULL;
    }
    e->k = (uint8_t)k;
    e->line = at->line;
    e->col = at->col;
    return e;
}

/* A growable array of pointers in the arena. */
typedef struct parr { void **v; int n, cap; } parr;
static int parr_push(parser *P, parr *a, void *x)
{
    if (a->n == a->cap) {
        int nc = a->cap ? a->cap * 2 : 4;
        void **nv = an_arena_calloc(P->a, (size_t)nc, sizeof *nv);
        if (!nv)
            return an_errorf(P->err, "%s: out of memory", P->name);
        if (a->n)
            memcpy(nv, a->v, (size_t)a->n * sizeof *nv);
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return 0;
}

static expr *p_expr(parser *P, int with_cond);
static expr *p_tuple(parser *P, int with_cond, const char *extra_end, int explicit_paren);
static expr *p_unary(parser *P, int with_filter);
static expr *p_primary(parser *P);
static expr *p_postfix(parser *P, expr *e);
static expr *p_filter_expr(parser *P, expr *e);

static int enter(parser *P)
{
    if (++P->depth > MAX_PARSE_DEPTH) {
        perr_at(P, cur(P), "%s", "expression nested too deeply");
        return -1;
    }
    return 0;
}

/* ( args ) — positional and keyword arguments. cur is '('. */
static int p_call_args(parser *P, expr *e)
{
    if (expect_op(P, "("))
        return -1;
    parr pos = {0}, kw = {0};
    while (!is_op(cur(P), ")")) {
        if (pos.n + kw.n > 0 && expect_op(P, ","))
            return -1;
        if (is_op(cur(P), ")"))
            break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**"))
            return perr_at(P, cur(P), "%s", "*args and **kwargs in calls are not supported");
        if (cur(P)->k == T_NAME && is_op(peek(P, 1), "=")) {
            kwarg *k = an_arena_alloc(P->a, sizeof *k);
            if (!k)
                return an_errorf(P->err, "%s: out of memory", P->name);
            k->name = cur(P)->s;
            P->i += 2;
            if (!(k->e = p_expr(P, 1)) || parr_push(P, &kw, k))
                return -1;
        } else {
            if (kw.n)
                return perr_at(P, cur(P), "%s", "positional argument after keyword argument");
            expr *a = p_expr(P, 1);
            if (!a || parr_push(P, &pos, a))
                return -1;
        }
    }
    P->i++;
    e->args = (expr **)pos.v;
    e->nargs = pos.n;
    e->nkw = kw.n;
    if (kw.n) {
        e->kw = an_arena_calloc(P->a, (size_t)kw.n, sizeof *e->kw);
        if (!e->kw)
            return an_errorf(P->err, "%s: out of memory", P->name);
        for (int i = 0; i < kw.n; i++)
            e->kw[i] = *(kwarg *)kw.v[i];
    }
    return 0;
}

static expr *p_subscribed(parser *P)
{
    token *at = cur(P);
    expr *parts[3] = {NULL, NULL, NULL};
    if (!is_op(cur(P), ":")) {
        parts[0] = p_expr(P, 1);
        if (!parts[0])
            return NULL;
        if (!is_op(cur(P), ":"))
            return parts[0];
    }
    P->i++; /* ':' */
    if (!is_op(cur(P), "]") && !is_op(cur(P), ",") && !is_op(cur(P), ":")) {
        if (!(parts[1] = p_expr(P, 1)))
            return NULL;
    }
    if (is_op(cur(P), ":")) {
        P->i++;
        if (!is_op(cur(P), "]") && !is_op(cur(P), ",")) {
            if (!(parts[2] = p_expr(P, 1)))
                return NULL;
        }
    }
    expr *s = mk(P, E_SLICE, at);
    if (!s)
        return NULL;
    s->args = an_arena_calloc(P->a, 3, sizeof *s->args);
    if (!s->args)
        return NULL;
    memcpy(s->args, parts, sizeof parts);
    s->nargs = 3;
    return s;
}

static expr *p_postfix(parser *P, expr *e)
{
    for (;;) {
        token *at = cur(P);
        if (is_op(at, ".")) {
            P->i++;
            token *t = cur(P);
            if (t->k == T_NAME) {
                expr *g = mk(P, E_ATTR, at);
                if (!g)
                    return NULL;
                g->a = e;
                g->name = t->s;
                P->i++;
                e = g;
            } else if (t->k == T_INT) {
                expr *g = mk(P, E_ITEM, at), *k = mk(P, E_CONST, t);
                if (!g || !k)
                    return NULL;
                k->cval = tv_int(t->i);
                g->a = e;
                g->b = k;
                P->i++;
                e = g;
            } else {
                perr_at(P, t, "%s", "expected a name after '.'");
                return NULL;
            }
        } else if (is_op(at, "[")) {
            P->i++;
            parr items = {0};
            while (!is_op(cur(P), "]")) {
                if (items.n && expect_op(P, ","))
                    return NULL;
                if (is_op(cur(P), "]"))
                    break;
                expr *x = p_subscribed(P);
                if (!x || parr_push(P, &items, x))
                    return NULL;
            }
            if (items.n == 0) {
                perr_at(P, cur(P), "%s", "expected a subscript");
                return NULL;
            }
            P->i++;
            expr *idx;
            if (items.n == 1)
                idx = items.v[0];
            else {
                idx = mk(P, E_TUPLE, at);
                if (!idx)
                    return NULL;
                idx->args = (expr **)items.v;
                idx->nargs = items.n;
            }
            expr *g;
            if (idx->k == E_SLICE) {
                g = idx;
                g->a = e;
            } else {
                g = mk(P, E_ITEM, at);
                if (!g)
                    return NULL;
                g->a = e;
                g->b = idx;
            }
            e = g;
        } else if (is_op(at, "(")) {
            expr *c = mk(P, E_CALL, at);
            if (!c)
                return NULL;
            c->a = e;
            if (p_call_args(P, c))
                return NULL;
            e = c;
        } else
            return e;
    }
}

static int p_dotted_name(parser *P, const char **out)
{
    if (cur(P)->k != T_NAME)
        return perr_at(P, cur(P), "%s", "expected a filter or test name");
    const char *nm = cur(P)->s;
    P->i++;
    while (is_op(cur(P), ".") && peek(P, 1)->k == T_NAME) {
        size_t l1 = strlen(nm), l2 = strlen(peek(P, 1)->s);
        char *j = an_arena_alloc(P->a, l1 + l2 + 2);
        if (!j)
            return an_errorf(P->err, "%s: out of memory", P->name);
        memcpy(j, nm, l1);
        j[l1] = '.';
        memcpy(j + l1 + 1, peek(P, 1)->s, l2 + 1);
        nm = j;
        P->i += 2;
    }
    *out = nm;
    return 0;
}

static expr *p_filter_expr(parser *P, expr *e)
{
    for (;;) {
        token *at = cur(P);
        if (is_op(at, "|")) {
            P->i++;
            token *nt = cur(P);
            expr *f = mk(P, E_FILTER, nt);
            if (!f || p_dotted_name(P, &f->name))
                return NULL;
            if (!tb_has_filter(f->name)) {
                perr_at(P, nt, "no filter named '%s'", f->name);
                return NULL;
            }
            f->a = e;
            if (is_op(cur(P), "(") && p_call_args(P, f))
                return NULL;
            e = f;
        } else if (is_name(at, "is")) {
            P->i++;
            expr *t = mk(P, E_TEST, at);
            if (!t)
                return NULL;
            if (is_name(cur(P), "not")) {
                t->negate = 1;
                P->i++;
            }
            token *nt = cur(P);
            if (p_dotted_name(P, &t->name))
                return NULL;
            if (!tb_has_test(t->name)) {
                perr_at(P, nt, "no test named '%s'", t->name);
                return NULL;
            }
            t->a = e;
            token *c = cur(P);
            if (is_op(c, "(")) {
                if (p_call_args(P, t))
                    return NULL;
            } else if ((c->k == T_NAME || c->k == T_STR || c->k == T_INT || c->k == T_FLOAT ||
                        is_op(c, "[") || is_op(c, "{")) &&
                       !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
                if (is_name(c, "is")) {
                    perr_at(P, c, "%s", "you cannot chain multiple tests with is");
                    return NULL;
                }
                expr *arg = p_primary(P);
                if (!arg || !(arg = p_postfix(P, arg)))
                    return NULL;
                t->args = an_arena_calloc(P->a, 1, sizeof *t->args);
                if (!t->args)
                    return NULL;
                t->args[0] = arg;
                t->nargs = 1;
            }
            e = t;
        } else if (is_op(at, "(")) {
            expr *c = mk(P, E_CALL, at);
            if (!c)
                return NULL;
            c->a = e;
            if (p_call_args(P, c))
                return NULL;
            e = c;
        } else
            return e;
    }
}

static expr *p_primary(parser *P)
{
    token *t = cur(P);
    expr *e = NULL;
    if (enter(P))
        return NULL;
    switch (t->k) {
    case T_NAME:
        e = mk(P, E_CONST, t);
        if (!e)
            break;
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True"))
            e->cval = tv_bool(1);
        else if (!strcmp(t->s, "false") || !strcmp(t->s, "False"))
            e->cval = tv_bool(0);
        else if (!strcmp(t->s, "none") || !strcmp(t->s, "None"))
            e->cval = tv_none();
        else {
            e->k = E_NAME;
            e->name = t->s;
        }
        P->i++;
        break;
    case T_STR: {
        size_t total = 0;
        int k = P->i;
        while (P->t[k].k == T_STR)
            total += P->t[k++].n;
        tstr *s = an_arena_alloc(P->a, sizeof *s + total + 1);
        e = mk(P, E_CONST, t);
        if (!s || !e)
            return NULL;
        s->len = 0;
        while (cur(P)->k == T_STR) {
            memcpy(s->s + s->len, cur(P)->s, cur(P)->n);
            s->len += cur(P)->n;
            P->i++;
        }
        s->s[s->len] = 0;
        e->cval.k = TV_STR;
        e->cval.u.s = s;
        break;
    }
    case T_INT:
        if ((e = mk(P, E_CONST, t)))
            e->cval = tv_int(t->i);
        P->i++;
        break;
    case T_FLOAT:
        if ((e = mk(P, E_CONST, t)))
            e->cval = tv_float(t->f);
        P->i++;
        break;
    case T_OP:
        if (is_op(t, "(")) {
            P->i++;
            e = p_tuple(P, 1, NULL, 1);
            if (e && expect_op(P, ")"))
                e = NULL;
        } else if (is_op(t, "[") || is_op(t, "{")) {
            int dict = is_op(t, "{");
            const char *close = dict ? "}" : "]";
            P->i++;
            parr items = {0};
            int count = 0;
            while (!is_op(cur(P), close)) {
                if (count && expect_op(P, ","))
                    return NULL;
                if (is_op(cur(P), close))
                    break;
                expr *x = p_expr(P, 1);
                if (!x || parr_push(P, &items, x))
                    return NULL;
                if (dict) {
                    if (expect_op(P, ":"))
                        return NULL;
                    expr *v = p_expr(P, 1);
                    if (!v || parr_push(P, &items, v))
                        return NULL;
                }
                count++;
            }
            P->i++;
            if ((e = mk(P, dict ? E_DICT : E_LIST, t))) {
                e->args = (expr **)items.v;
                e->nargs = items.n;
            }
        } else
            perr_unexpected(P);
        break;
    default:
        perr_unexpected(P);
    }
    P->depth--;
    return e;
}

static expr *p_unary(parser *P, int with_filter)
{
    token *t = cur(P);
    expr *e;
    if (enter(P))
        return NULL;
    if (is_op(t, "-") || is_op(t, "+")) {
        P->i++;
        e = mk(P, is_op(t, "-") ? E_NEG : E_POS, t);
        if (!e || !(e->a = p_unary(P, 0)))
            return NULL;
    } else if (!(e = p_primary(P)))
        return NULL;
    if (!(e = p_postfix(P, e)))
        return NULL;
    if (with_filter && !(e = p_filter_expr(P, e)))
        return NULL;
    P->depth--;
    return e;
}

static expr *mk_bin(parser *P, int op, expr *l, expr *r, token *at)
{
    expr *e = mk(P, E_BIN, at);
    if (!e)
        return NULL;
    e->op = (uint8_t)op;
    e->a = l;
    e->b = r;
    return e;
}

static expr *p_pow(parser *P)
{
    expr *l = p_unary(P, 1);
    while (l && is_op(cur(P), "**")) {
        token *at = cur(P);
        P->i++;
        expr *r = p_unary(P, 1);
        l = r ? mk_bin(P, OP_POW, l, r, at) : NULL;
    }
    return l;
}

static expr *p_math2(parser *P)
{
    expr *l = p_pow(P);
    while (l) {
        token *at = cur(P);
        int op = is_op(at, "*") ? OP_MUL : is_op(at, "/") ? OP_DIV : is_op(at, "//") ? OP_FDIV
               : is_op(at, "%") ? OP_MOD : -1;
        if (op < 0)
            break;
        P->i++;
        expr *r = p_pow(P);
        l = r ? mk_bin(P, op, l, r, at) : NULL;
    }
    return l;
}

static expr *p_concat(parser *P)
{
    token *at = cur(P);
    expr *first = p_math2(P);
    if (!first || !is_op(cur(P), "~"))
        return first;
    parr items = {0};
    if (parr_push(P, &items, first))
        return NULL;
    while (is_op(cur(P), "~")) {
        P->i++;
        expr *x = p_math2(P);
        if (!x || parr_push(P, &items, x))
            return NULL;
    }
    expr *e = mk(P, E_CONCAT, at);
    if (e) {
        e->args = (expr **)items.v;
        e->nargs = items.n;
    }
    return e;
}

static expr *p_math1(parser *P)
{
    expr *l = p_concat(P);
    while (l && (is_op(cur(P), "+") || is_op(cur(P), "-"))) {
        token *at = cur(P);
        int op = is_op(at, "+") ? OP_ADD : OP_SUB;
        P->i++;
        expr *r = p_concat(P);
        l = r ? mk_bin(P, op, l, r, at) : NULL;
    }
    return l;
}

static expr *p_compare(parser *P)
{
    token *at = cur(P);
    expr *first = p_math1(P);
    if (!first)
        return NULL;
    parr items = {0};
    uint8_t ops[64];
    int nops = 0;
    for (;;) {
        token *t = cur(P);
        int op = -1;
        if (is_op(t, "==")) op = OP_EQ;
        else if (is_op(t, "!=")) op = OP_NE;
        else if (is_op(t, "<")) op = OP_LT;
        else if (is_op(t, "<=")) op = OP_LE;
        else if (is_op(t, ">")) op = OP_GT;
        else if (is_op(t, ">=")) op = OP_GE;
        else if (is_name(t, "in")) op = OP_IN;
        else if (is_name(t, "not") && is_name(peek(P, 1), "in")) {
            op = OP_NOTIN;
            P->i++;
        }
        if (op < 0)
            break;
        if (nops == 64) {
            perr_at(P, t, "%s", "too many chained comparisons");
            return NULL;
        }
        P->i++;
        if (!items.n && parr_push(P, &items, first))
            return NULL;
        expr *x = p_math1(P);
        if (!x || parr_push(P, &items, x))
            return NULL;
        ops[nops++] = (uint8_t)op;
    }
    if (!nops)
        return first;
    expr *e = mk(P, E_CMP, at);
    if (!e || !(e->ops = an_arena_memdup(P->a, ops, (size_t)nops)))
        return NULL;
    e->args = (expr **)items.v;
    e->nargs = items.n;
    return e;
}

static expr *p_not(parser *P)
{
    if (is_name(cur(P), "not")) {
        token *at = cur(P);
        P->i++;
        if (enter(P))
            return NULL;
        expr *e = mk(P, E_NOT, at);
        if (!e || !(e->a = p_not(P)))
            return NULL;
        P->depth--;
        return e;
    }
    return p_compare(P);
}

static expr *p_and(parser *P)
{
    expr *l = p_not(P);
    while (l && is_name(cur(P), "and")) {
        token *at = cur(P);
        P->i++;
        expr *r = p_not(P), *e = r ? mk(P, E_AND, at) : NULL;
        if (!e)
            return NULL;
        e->a = l;
        e->b = r;
        l = e;
    }
    return l;
}

static expr *p_or(parser *P)
{
    expr *l = p_and(P);
    while (l && is_name(cur(P), "or")) {
        token *at = cur(P);
        P->i++;
        expr *r = p_and(P), *e = r ? mk(P, E_OR, at) : NULL;
        if (!e)
            return NULL;
        e->a = l;
        e->b = r;
        l = e;
    }
    return l;
}

static expr *p_expr(parser *P, int with_cond)
{
    if (enter(P))
        return NULL;
    expr *e = p_or(P);
    while (with_cond && e && is_name(cur(P), "if")) {
        token *at = cur(P);
        P->i++;
        expr *c = mk(P, E_COND, at);
        if (!c || !(c->b = p_or(P)))
            return NULL;
        c->a = e;
        if (is_name(cur(P), "else")) {
            P->i++;
            if (!(c->c = p_expr(P, 1)))
                return NULL;
        }
        e = c;
    }
    P->depth--;
    return e;
}

static int tuple_end(parser *P, const char *extra_end)
{
    token *t = cur(P);
    if (t->k == T_VEND || t->k == T_BEND || t->k == T_EOF || is_op(t, ")"))
        return 1;
    return extra_end && is_name(t, extra_end);
}

static expr *p_tuple(parser *P, int with_cond, const char *extra_end, int explicit_paren)
{
    token *at = cur(P);
    parr items = {0};
    int is_tuple = 0;
    for (;;) {
        if (items.n) {
            if (!is_op(cur(P), ","))
                break;
            P->i++;
            is_tuple = 1;
        }
        if (tuple_end(P, extra_end))
            break;
        expr *x = p_expr(P, with_cond);
        if (!x || parr_push(P, &items, x))
            return NULL;
    }
    if (!is_tuple) {
        if (items.n)
            return items.v[0];
        if (!explicit_paren) {
            perr_unexpected(P);
            return NULL;
        }
    }
    expr *e = mk(P, E_TUPLE, at);
    if (e) {
        e->args = (expr **)items.v;
        e->nargs = items.n;
    }
    return e;
}

/* Assignment targets: name | name, name... | (with_ns) name.attr */
static int p_target(parser *P, target *tg, int with_ns, const char *extra_end)
{
    memset(tg, 0, sizeof *tg);
    if (cur(P)->k != T_NAME)
        return perr_at(P, cur(P), "%s", "expected a name to assign to");
    if (with_ns && is_op(peek(P, 1), ".") && peek(P, 2)->k == T_NAME) {
        tg->name = cur(P)->s;
        tg->attr = peek(P, 2)->s;
        P->i += 3;
        return 0;
    }
    int paren = 0;
    parr names = {0};
    for (;;) {
        if (cur(P)->k != T_NAME)
            return perr_at(P, cur(P), "%s", "expected a name to assign to");
        if (parr_push(P, &names, (void *)cur(P)->s))
            return -1;
        P->i++;
        if (!is_op(cur(P), ","))
            break;
        P->i++;
        paren = 1;
        if (tuple_end(P, extra_end) || is_op(cur(P), "="))
            break;
    }
    if (!paren)
        tg->name = names.v[0];
    else {
        tg->names = (const char **)names.v;
        tg->nnames = names.n;
    }
    return 0;
}

static int p_body(parser *P, const char *const *ends, body *out, const char **endtag);

static int p_block_end(parser *P) { return expect_kind(P, T_BEND, "end of statement block"); }

static int push_stmt(parser *P, parr *a, stmt *s) { return parr_push(P, a, s); }

static stmt *mks(parser *P, int k, token *at)
{
    stmt *s = an_arena_alloc(P->a, sizeof *s);
    if (!s) {
        an_errorf(P->err, "%s: out of memory", P->name);
        return NULL;
    }
    s->k = (uint8_t)k;
    s->line = at->line;
    s->col = at->col;
    return s;
}

/* Filter chain for {% filter %} / {% set x | f %}: applied to the placeholder "\x01body". */
static expr *p_filter_chain(parser *P, token *at)
{
    expr *ph = mk(P, E_NAME, at);
    if (!ph)
        return NULL;
    ph->name = "\x01body";
    expr *e = ph;
    do {
        token *nt = cur(P);
        expr *f = mk(P, E_FILTER, nt);
        if (!f || p_dotted_name(P, &f->name))
            return NULL;
        if (!tb_has_filter(f->name)) {
            perr_at(P, nt, "no filter named '%s'", f->name);
            return NULL;
        }
        f->a = e;
        if (is_op(cur(P), "(") && p_call_args(P, f))
            return NULL;
        e = f;
    } while (is_op(cur(P), "|") && (P->i++, 1));
    return e;
}

static int p_macro_sig(parser *P, tmacro *m)
{
    parr names = {0}, defs = {0};
    if (expect_op(P, "("))
        return -1;
    while (!is_op(cur(P), ")")) {
        if (names.n && expect_op(P, ","))
            return -1;
        if (is_op(cur(P), ")"))
            break;
        if (cur(P)->k != T_NAME)
            return perr_at(P, cur(P), "%s", "expected a parameter name");
        if (parr_push(P, &names, (void *)cur(P)->s))
            return -1;
        P->i++;
        expr *d = NULL;
        if (is_op(cur(P), "=")) {
            P->i++;
            if (!(d = p_expr(P, 1)))
                return -1;
        } else if (defs.n && defs.v[defs.n - 1])
            return perr_at(P, cur(P), "%s", "non-default argument follows default argument");
        if (parr_push(P, &defs, d))
            return -1;
    }
    P->i++;
    m->params = (const char **)names.v;
    m->defaults = (expr **)defs.v;
    m->nparams = names.n;
    return 0;
}

static int p_stmt(parser *P, parr *out)
{
    token *kw = cur(P);
    if (kw->k != T_NAME)
        return perr_at(P, kw, "%s", "expected a statement name");
    const char *w = kw->s;
    P->i++;
    if (!strcmp(w, "if")) {
        stmt *s = mks(P, S_IF, kw), *top = s;
        if (!s)
            return -1;
        for (;;) {
            const char *end = NULL;
            static const char *const ends[] = {"elif", "else", "endif", NULL};
            if (!(s->e = p_tuple(P, 0, NULL, 0)) || p_block_end(P) || p_body(P, ends, &s->b1, &end))
                return -1;
            if (!strcmp(end, "elif")) {
                stmt *n = mks(P, S_IF, kw);
                if (!n)
                    return -1;
                s->b2.s = an_arena_alloc(P->a, sizeof(stmt *));
                if (!s->b2.s)
                    return -1;
                s->b2.s[0] = n;
                s->b2.n = 1;
                s = n;
                continue;
            }
            if (!strcmp(end, "else")) {
                static const char *const e2[] = {"endif", NULL};
                if (p_block_end(P) || p_body(P, e2, &s->b2, &end))
                    return -1;
            }
            break;
        }
        return p_block_end(P) || push_stmt(P, out, top);
    }
    if (!strcmp(w, "for")) {
        stmt *s = mks(P, S_FOR, kw);
        if (!s || p_target(P, &s->tg, 0, "in"))
            return -1;
        if (!is_name(cur(P), "in"))
            return perr_at(P, cur(P), "%s", "expected 'in'");
        P->i++;
        if (!(s->e = p_tuple(P, 0, "recursive", 0)))
            return -1;
        if (is_name(cur(P), "if")) {
            P->i++;
            if (!(s->cond = p_expr(P, 1)))
                return -1;
        }
        if (is_name(cur(P), "recursive"))
            return perr_at(P, cur(P), "%s", "recursive loops are not supported");
        static const char *const ends[] = {"endfor", "else", NULL};
        const char *end = NULL;
        P->in_loop++;
        if (p_block_end(P) || p_body(P, ends, &s->b1, &end))
            return -1;
        P->in_loop--;
        if (!strcmp(end, "else")) {
            static const char *const e2[] = {"endfor", NULL};
            if (p_block_end(P) || p_body(P, e2, &s->b2, &end))
                return -1;
        }
        return p_block_end(P) || push_stmt(P, out, s);
    }
    if (!strcmp(w, "set")) {
        stmt *s = mks(P, S_SET, kw);
        if (!s || p_target(P, &s->tg, 1, NULL))
            return -1;
        if (is_op(cur(P), "=")) {
            P->i++;
            if (!(s->e = p_tuple(P, 1, NULL, 0)))
                return -1;
            return p_block_end(P) || push_stmt(P, out, s);
        }
        if (s->tg.nnames)
            return perr_at(P, cur(P), "%s", "a block set takes one name");
        s->k = S_SETBLOCK;
        if (is_op(cur(P), "|")) {
            P->i++;
            if (!(s->filter = p_filter_chain(P, kw)))
                return -1;
        }
        static const char *const ends[] = {"endset", NULL};
        const char *end;
        return p_block_end(P) || p_body(P, ends, &s->b1, &end) || p_block_end(P) || push_stmt(P, out, s);
    }
    if (!strcmp(w, "macro")) {
        stmt *s = mks(P, S_MACRO, kw);
        tmacro *m = an_arena_alloc(P->a, sizeof *m);
        if (!s || !m)
            return -1;
        if (cur(P)->k != T_NAME)
            return perr_at(P, cur(P), "%s", "expected a macro name");
        m->name = cur(P)->s;
        P->i++;
        int saved = P->in_loop;
        P->in_loop = 0;
        static const char *const ends[] = {"endmacro", NULL};
        const char *end;
        if (p_macro_sig(P, m) || p_block_end(P) || p_body(P, ends, &m->b, &end))
            return -1;
        P->in_loop = saved;
        if (cur(P)->k == T_NAME) /* {% endmacro name %} */
            P->i++;
        s->macro = m;
        return p_block_end(P) || push_stmt(P, out, s);
    }
    if (!strcmp(w, "call")) {
        stmt *s = mks(P, S_CALLBLOCK, kw);
        tmacro *m = an_arena_alloc(P->a, sizeof *m);
        if (!s || !m)
            return -1;
        m->name = "caller";
        if (is_op(cur(P), "(") && p_macro_sig(P, m))
            return -1;
        token *ct = cur(P);
        if (!(s->call = p_expr(P, 1)))
            return -1;
        if (s->call->k != E_CALL)
            return perr_at(P, ct, "%s", "expected a call");
        static const char *const ends[] = {"endcall", NULL};
        const char *end;
        int saved = P->in_loop;
        P->in_loop = 0;
        if (p_block_end(P) || p_body(P, ends, &m->b, &end))
            return -1;
        P->in_loop = saved;
        s->macro = m;
        return p_block_end(P) || push_stmt(P, out, s);
    }
    if (!strcmp(w, "filter")) {
        stmt *s = mks(P, S_FILTERBLOCK, kw);
        if (!s || !(s->filter = p_filter_chain(P, kw)))
            return -1;
        static const char *const ends[] = {"endfilter", NULL};
        const char *end;
        return p_block_end(P) || p_body(P, ends, &s->b1, &end) || p_block_end(P) || push_stmt(P, out, s);
    }
    if (!strcmp(w, "with")) {
        stmt *s = mks(P, S_WITH, kw);
        parr tg = {0}, vals = {0};
        if (!s)
            return -1;
        while (cur(P)->k != T_BEND) {
            if (tg.n && expect_op(P, ","))
                return -1;
            target *t = an_arena_alloc(P->a, sizeof *t);
            if (!t || p_target(P, t, 0, NULL) || expect_op(P, "="))
                return -1;
            expr *v = p_expr(P, 1);
            if (!v || parr_push(P, &tg, t) || parr_push(P, &vals, v))
                return -1;
        }
        s->wtargets = an_arena_calloc(P->a, (size_t)tg.n + 1, sizeof *s->wtargets);
        if (!s->wtargets)
            return -1;
        for (int i = 0; i < tg.n; i++)
            s->wtargets[i] = *(target *)tg.v[i];
        s->wvals = (expr **)vals.v;
        s->nw = tg.n;
        static const char *const ends[] = {"endwith", NULL};
        const char *end;
        return p_block_end(P) || p_body(P, ends, &s->b1, &end) || p_block_end(P) || push_stmt(P, out, s);
    }
    if (!strcmp(w, "generation")) {
        /* transformers' AssistantTracker: renders its body unchanged */
        stmt *s = mks(P, S_BODY, kw);
        static const char *const ends[] = {"endgeneration", NULL};
        const char *end;
        return !s || p_block_end(P) || p_body(P, ends, &s->b1, &end) || p_block_end(P) || push_stmt(P, out, s);
    }
    if (!strcmp(w, "break") || !strcmp(w, "continue")) {
        if (!P->in_loop)
            return perr_at(P, kw, "'%s' outside of a loop", w);
        stmt *s = mks(P, w[0] == 'b' ? S_BREAK : S_CONTINUE, kw);
        return !s || p_block_end(P) || push_stmt(P, out, s);
    }
    return perr_at(P, kw, "encountered unknown tag '%s'", w);
}

static int p_body(parser *P, const char *const *ends, body *out, const char **endtag)
{
    parr st = {0};
    if (enter(P))
        return -1;
    for (;;) {
        token *t = cur(P);
        if (t->k == T_EOF) {
            if (ends)
                return perr_at(P, t, "unexpected end of template, expected '%s'", ends[0]);
            break;
        }
        if (t->k == T_DATA) {
            stmt *s = mks(P, S_TEXT, t);
            if (!s)
                return -1;
            s->text = t->s;
            s->len = t->n;
            P->i++;
            if (push_stmt(P, &st, s))
                return -1;
        } else if (t->k == T_VBEGIN) {
            P->i++;
            stmt *s = mks(P, S_OUT, t);
            if (!s || !(s->e = p_tuple(P, 1, NULL, 0)))
                return -1;
            if (expect_kind(P, T_VEND, "end of print statement"))
                return -1;
            if (push_stmt(P, &st, s))
                return -1;
        } else if (t->k == T_BBEGIN) {
            token *nt = peek(P, 1);
            int found = 0;
            for (int k = 0; ends && ends[k]; k++)
                if (is_name(nt, ends[k])) {
                    *endtag = ends[k];
                    found = 1;
                }
            if (found) {
                P->i += 2;
                break;
            }
            if (nt->k == T_NAME && (!strncmp(nt->s, "end", 3) || !strcmp(nt->s, "else") ||
                                    !strcmp(nt->s, "elif"))) {
                if (ends)
                    return perr_at(P, nt, "unexpected '%s'", nt->s);
                return perr_at(P, nt, "encountered unknown tag '%s'", nt->s);
            }
            P->i++;
            if (p_stmt(P, &st))
                return -1;
        } else
            return perr_unexpected(P);
    }
    out->s = (stmt **)st.v;
    out->n = st.n;
    P->depth--;
    return 0;
}

int tpl_parse_source(tpl_template *t, const char *src, size_t len, an_error *err)
{
    token *toks;
    int n;
    if (tpl_lex(&t->arena, t->name, src, len, &toks, &n, err))
        return -1;
    parser P = {.a = &t->arena, .name = t->name, .t = toks, .n = n, .err = err};
    const char *end = NULL;
    return p_body(&P, NULL, &t->root, &end);
}
