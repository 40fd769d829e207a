/*
 * tpl_parser.h — the parser state and token helpers shared by the expression parser
 * (tpl_parse_expr.c) and the statement parser (tpl_parse.c). Internal.
 */
#ifndef TPL_PARSER_H
#define TPL_PARSER_H

#include "tokenizer/tpl_internal.h"

#include <stdio.h>
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

static inline token *cur(parser *P) { return &P->t[P->i]; }
static inline token *peek(parser *P, int k) { return P->i + k < P->n ? &P->t[P->i + k] : &P->t[P->n - 1]; }

static inline const char *tok_desc(token *t, char *buf, size_t n)
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

static inline int perr_at(parser *P, token *t, const char *fmt, const char *arg)
{
    char msg[300];
    snprintf(msg, sizeof msg, fmt, arg);
    return an_errorf(P->err, "%s:%d:%d: %s", P->name, t->line, t->col, msg);
}

static inline int perr_unexpected(parser *P)
{
    char buf[80];
    return perr_at(P, cur(P), "unexpected %s", tok_desc(cur(P), buf, sizeof buf));
}

static inline int is_op(token *t, const char *op) { return t->k == T_OP && strcmp(t->op, op) == 0; }
static inline int is_name(token *t, const char *nm) { return t->k == T_NAME && strcmp(t->s, nm) == 0; }

static inline int expect_op(parser *P, const char *op)
{
    if (!is_op(cur(P), op)) {
        char buf[80], msg[160];
        snprintf(msg, sizeof msg, "expected '%s', got %s", op, tok_desc(cur(P), buf, sizeof buf));
        return perr_at(P, cur(P), "%s", msg);
    }
    P->i++;
    return 0;
}

static inline int expect_kind(parser *P, int k, const char *what)
{
    if (cur(P)->k != k) {
        char buf[80], msg[200];
        snprintf(msg, sizeof msg, "expected %s, got %s", what, tok_desc(cur(P), buf, sizeof buf));
        return perr_at(P, cur(P), "%s", msg);
    }
    P->i++;
    return 0;
}

static inline expr *mk(parser *P, int k, token *at)
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
static inline int parr_push(parser *P, parr *a, void *x)
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

static inline int enter(parser *P)
{
    if (++P->depth > MAX_PARSE_DEPTH) {
        perr_at(P, cur(P), "%s", "expression nested too deeply");
        return -1;
    }
    return 0;
}

/* ( args ) — positional and keyword arguments. cur is '('. */

/* Expressions (tpl_parse_expr.c). */
expr *p_expr(parser *P, int with_cond);
expr *p_tuple(parser *P, int with_cond, const char *extra_end, int explicit_paren);
int p_call_args(parser *P, expr *e);
int p_dotted_name(parser *P, const char **out);
int p_target(parser *P, target *tg, int with_ns, const char *extra_end);

#endif
