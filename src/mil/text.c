/*
 * text.c — the model.mil parser (COREML-FORMAT.md §4), both printing styles.
 *
 * A recursive-descent parser working directly on the characters of the file (which is
 * NUL-terminated). Line and column are computed only when needed (for each op and for
 * errors) by counting newlines forward from the last computed position, so the whole
 * parse stays linear. Memory: the program arena plus a few scratch buffers that grow
 * with the largest literal; nothing is sized from a number read from the file before
 * that many bytes have actually been read.
 */
#include "mil/loaders.h"
#include "mil/text_internal.h"

/* ---- statements ---------------------------------------------------------------------- */

static int push_binding(tp *t, int value, const mil_literal *lit)
{
    if (t->n_bind == t->cap_bind) {
        int nc = t->cap_bind ? t->cap_bind * 2 : 16;
        void *n = realloc(t->bind, (size_t)nc * sizeof *t->bind);
        if (!n)
            return oom(t);
        t->bind = n;
        t->cap_bind = nc;
    }
    t->bind[t->n_bind].value = value;
    t->bind[t->n_bind].literal = lit;
    t->n_bind++;
    return 0;
}

static int parse_operand(tp *t)
{
    const char *w, *at = (ws(t), t->p);
    size_t n;
    if (ident(t, &w, &n))
        return -1;
    int c = peek(t);
    if (c == '<' || c == '(') {
        mil_literal *l = an_arena_alloc(t->arena, sizeof *l);
        if (!l)
            return oom(t);
        if (tx_parse_typed_from(t, w, n, at, l))
            return -1;
        return push_binding(t, -1, l);
    }
    int v = mil_fb_lookup(t->fb, w, n);
    if (v < 0)
        return perr(t, at, "unknown value '%.*s' (not defined before this use)", (int)(n > 80 ? 80 : n), w);
    return push_binding(t, v, NULL);
}

static int parse_args(tp *t, mil_op *op)
{
    t->n_inp = 0;
    if (!accept(t, ')')) {
        do {
            const char *w, *at = (ws(t), t->p);
            size_t n;
            if (ident(t, &w, &n) || expect(t, '='))
                return -1;
            for (int i = 0; i < t->n_inp; i++)
                if (strlen(t->inp[i].name) == n && memcmp(t->inp[i].name, w, n) == 0)
                    return perr(t, at, "input '%.*s' given twice", (int)(n > 60 ? 60 : n), w);
            t->n_bind = 0;
            if (accept(t, '(')) {
                do
                    if (parse_operand(t))
                        return -1;
                while (accept(t, ','));
                if (expect(t, ')'))
                    return -1;
            } else if (parse_operand(t)) {
                return -1;
            }
            if (t->n_inp == t->cap_inp) {
                int nc = t->cap_inp ? t->cap_inp * 2 : 16;
                void *nv = realloc(t->inp, (size_t)nc * sizeof *t->inp);
                if (!nv)
                    return oom(t);
                t->inp = nv;
                t->cap_inp = nc;
            }
            mil_input *in = &t->inp[t->n_inp++];
            in->name = an_arena_strndup(t->arena, w, n);
            in->n_bindings = t->n_bind;
            in->bindings = an_arena_memdup(t->arena, t->bind, (size_t)t->n_bind * sizeof *t->bind);
            if (!in->name || !in->bindings)
                return oom(t);
        } while (accept(t, ','));
        if (expect(t, ')'))
            return -1;
    }
    op->n_inputs = t->n_inp;
    op->inputs = an_arena_memdup(t->arena, t->inp, (size_t)t->n_inp * sizeof *t->inp);
    return t->n_inp && !op->inputs ? oom(t) : 0;
}

typedef struct outdecl {
    const char *name, *at;
    size_t len;
    mil_type type;
} outdecl;

static int parse_stmt(tp *t)
{
    outdecl outs[64];
    int n_out = 0;
    const char *w, *at = (ws(t), t->p);
    size_t n;
    mil_op op;
    memset(&op, 0, sizeof op);
    where(t, at, &op.line, &op.col);
    if (ident(t, &w, &n))
        return -1;
    if (peek(t) != '(') {
        const char *tat = at;
        for (;;) {
            if (n_out == (int)(sizeof outs / sizeof *outs))
                return perr(t, tat, "too many outputs");
            outdecl *o = &outs[n_out++];
            if (tx_parse_type_from(t, w, n, tat, &o->type))
                return -1;
            ws(t);
            o->at = t->p;
            if (ident(t, &o->name, &o->len))
                return -1;
            if (!accept(t, ','))
                break;
            ws(t);
            tat = t->p;
            if (ident(t, &w, &n))
                return -1;
        }
        if (expect(t, '='))
            return -1;
        if (ident(t, &w, &n))
            return -1;
    }
    op.type = an_arena_strndup(t->arena, w, n);
    if (!op.type)
        return oom(t);
    if (expect(t, '(') || parse_args(t, &op))
        return -1;
    if (accept(t, '[') && tx_parse_attrs(t, &op.attrs, &op.n_attrs, &op.name))
        return -1;
    if (peek(t) == '{')
        return perr(t, t->p, "nested blocks (op '%s') are not supported", op.type);
    if (expect(t, ';'))
        return -1;
    int *ids = an_arena_calloc(t->arena, (size_t)n_out + 1, sizeof *ids);
    if (!ids)
        return oom(t);
    int opi = t->fb->n_ops;
    for (int i = 0; i < n_out; i++) {
        an_error e = {{0}};
        int id = mil_fb_add_value(t->fb, outs[i].name, outs[i].len, &outs[i].type, opi, &e);
        if (id < 0)
            return perr(t, outs[i].at, "%s", e.msg);
        ids[i] = id;
    }
    op.n_outputs = n_out;
    op.outputs = ids;
    return mil_fb_add_op(t->fb, &op, t->err) < 0 ? -1 : 0;
}

static int parse_function(tp *t, mil_function *fn)
{
    const char *w, *at;
    size_t n;
    mil_fbuild fb;
    mil_fb_init(&fb, t->arena);
    t->fb = &fb;
    int rc = -1;
    const mil_literal *flex = NULL;
    if (expect_word(t, "func") || ident(t, &w, &n))
        goto out;
    fn->name = an_arena_strndup(t->arena, w, n);
    for (int i = 0; i < t->prog->n_functions; i++)
        if (strcmp(t->prog->functions[i].name, fn->name) == 0) {
            perr(t, w, "function '%s' is defined twice", fn->name);
            goto out;
        }
    if (expect(t, '<') || ident(t, &w, &n) || expect(t, '>'))
        goto out;
    fn->opset = an_arena_strndup(t->arena, w, n);
    if (expect(t, '('))
        goto out;
    if (!accept(t, ')')) {
        do {
            mil_type ty;
            ws(t);
            at = t->p;
            if (tx_parse_type(t, &ty))
                goto out;
            ws(t);
            at = t->p;
            if (ident(t, &w, &n))
                goto out;
            an_error e = {{0}};
            int id = mil_fb_add_value(&fb, w, n, &ty, -1, &e);
            if (id < 0) {
                perr(t, at, "%s", e.msg);
                goto out;
            }
            if (mil_fb_add_param(&fb, id, t->err))
                goto out;
        } while (accept(t, ','));
        if (expect(t, ')'))
            goto out;
    }
    if (accept(t, '[') && tx_parse_attrs(t, &fn->attrs, &fn->n_attrs, NULL))
        goto out;
    if (expect(t, '{'))
        goto out;
    while (peek(t) != '}') {
        if (t->p >= t->end) {
            perr(t, t->p, "unexpected end of file in function '%s'", fn->name);
            goto out;
        }
        if (parse_stmt(t))
            goto out;
    }
    t->p++;
    if (expect(t, '-') || expect(t, '>') || expect(t, '('))
        goto out;
    int outs[1024];
    int n_outs = 0;
    if (!accept(t, ')')) {
        do {
            ws(t);
            at = t->p;
            if (ident(t, &w, &n))
                goto out;
            int v = mil_fb_lookup(&fb, w, n);
            if (v < 0) {
                perr(t, at, "function output '%.*s' is not defined", (int)(n > 80 ? 80 : n), w);
                goto out;
            }
            if (n_outs == (int)(sizeof outs / sizeof *outs)) {
                perr(t, at, "too many function outputs");
                goto out;
            }
            outs[n_outs++] = v;
        } while (accept(t, ','));
        if (expect(t, ')'))
            goto out;
    }
    if (expect(t, ';'))
        goto out;
    fn->n_outputs = n_outs;
    fn->outputs = an_arena_memdup(t->arena, outs, (size_t)n_outs * sizeof *outs);
    if (mil_fb_finish(&fb, fn, t->err) || mil_check_function(fn, t->fname, t->err))
        goto out;
    for (int i = 0; i < fn->n_attrs; i++)
        if (strcmp(fn->attrs[i].name, "FlexibleShapeInformation") == 0)
            flex = fn->attrs[i].value;
    rc = mil_apply_flexible_shapes(t->arena, fn, flex, t->err);
out:
    mil_fb_free(&fb);
    t->fb = NULL;
    return rc;
}

int mil_parse_text(mil_program *p, const char *text, size_t len, const char *fname, an_error *err)
{
    tp t;
    memset(&t, 0, sizeof t);
    t.s = t.p = t.pos_at = t.pos_line_start = text;
    t.pos_line = 1;
    t.end = text + len;
    t.fname = fname;
    t.prog = p;
    t.arena = &p->arena;
    t.err = err;
    int rc = -1;
    if (memchr(text, '\0', len)) {
        perr(&t, (const char *)memchr(text, '\0', len), "NUL byte in text");
        goto out;
    }
    int64_t major = 0, minor = 0;
    if (expect_word(&t, "program") || expect(&t, '(') || uint_lit(&t, &major) || expect(&t, '.') ||
        uint_lit(&t, &minor) || expect(&t, ')'))
        goto out;
    if (major > 1000 || minor > 1000) {
        perr(&t, t.p, "program version %lld.%lld is not supported", (long long)major, (long long)minor);
        goto out;
    }
    p->version_major = (int)major;
    p->version_minor = (int)minor;
    if (accept(&t, '[') && tx_parse_attrs(&t, &p->attrs, &p->n_attrs, NULL))
        goto out;
    if (expect(&t, '{'))
        goto out;
    int cap = 0;
    while (peek(&t) != '}') {
        if (t.p >= t.end) {
            perr(&t, t.p, "unexpected end of file (missing '}')");
            goto out;
        }
        if (p->n_functions == cap) {
            int nc = cap ? cap * 2 : 4;
            mil_function *nf = an_arena_calloc(t.arena, (size_t)nc, sizeof *nf);
            if (!nf) {
                oom(&t);
                goto out;
            }
            if (p->n_functions)
                memcpy(nf, p->functions, (size_t)p->n_functions * sizeof *nf);
            p->functions = nf;
            cap = nc;
        }
        if (parse_function(&t, &p->functions[p->n_functions]))
            goto out;
        p->n_functions++;
    }
    t.p++;
    ws(&t);
    if (t.p < t.end) {
        perr(&t, t.p, "unexpected text after the program");
        goto out;
    }
    if (p->n_functions == 0) {
        perr(&t, t.p, "the program has no functions");
        goto out;
    }
    rc = 0;
out:
    mil_litbuf_free(&t.lb);
    free(t.bind);
    free(t.inp);
    return rc;
}
