/*
 * tpl_parse_expr.c — Jinja2 expressions, with its operator precedence:
 *   condexpr < or < and < not < comparisons < + - < ~ < * / // % < ** < unary -/+
 *   < primary with postfix (.attr [item] (call)) and filters/tests (| name, is name).
 */
#include "tokenizer/tpl_parser.h"

#include <stdlib.h>
#include <string.h>

static expr *p_unary(parser *P, int with_filter);
static expr *p_primary(parser *P);
static expr *p_postfix(parser *P, expr *e);
static expr *p_filter_expr(parser *P, expr *e);

int p_call_args(parser *P, expr *e)
{
    if (expect_op(P, "("))
        return -1;
    parr pos = {0}, kw = {0};
    while (!is_op(cur(P), ")")) {
        if ((pos.n + kw.n > 0 || e->dyn_args || e->dyn_kwargs) && expect_op(P, ","))
            return -1;
        if (is_op(cur(P), ")"))
            break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**")) {
            int two = is_op(cur(P), "**");
            if ((two ? e->dyn_kwargs : e->dyn_args) || (!two && e->dyn_kwargs))
                return perr_at(P, cur(P), "%s", "invalid syntax for function call expression");
            P->i++;
            expr *x = p_expr(P, 1);
            if (!x)
                return -1;
            if (two)
                e->dyn_kwargs = x;
            else
                e->dyn_args = x;
            continue;
        }
        if (e->dyn_args || e->dyn_kwargs)
            return perr_at(P, cur(P), "%s", "invalid syntax for function call expression");
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

int p_dotted_name(parser *P, const char **out)
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

expr *p_expr(parser *P, int with_cond)
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

expr *p_tuple(parser *P, int with_cond, const char *extra_end, int explicit_paren)
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
int p_target(parser *P, target *tg, int with_ns, const char *extra_end)
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
