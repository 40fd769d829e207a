/*
 * tpl_parse.c — statements: if/elif/else, for (else, filter, recursive), set (names,
 * tuples, ns.attr, blocks with filters), macro, call, filter, with, break/continue and
 * transformers' {% generation %}; the body of a template.
 */
#define _GNU_SOURCE
#include "tokenizer/tpl_parser.h"

#include <stdlib.h>
#include <string.h>

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
        if (is_name(cur(P), "recursive")) {
            s->recursive = 1;
            P->i++;
        }
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
