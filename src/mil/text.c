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
#include "mil/build.h"
#include "mil/loaders.h"
#include "mil/litpack.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct tp {
    const char *s, *p, *end;
    const char *fname;
    const char *pos_at; /* line/col cache: position and its line number */
    int pos_line;
    const char *pos_line_start;
    mil_program *prog;
    an_arena *arena;
    an_error *err;
    mil_fbuild *fb; /* the function being read, NULL at program level */
    int depth;
    mil_litbuf lb;  /* element scratch for tensor literals */
    mil_binding *bind; int n_bind, cap_bind;
    mil_input *inp; int n_inp, cap_inp;
} tp;

static void where(tp *t, const char *at, int *line, int *col)
{
    if (at < t->pos_at) {
        t->pos_at = t->pos_line_start = t->s;
        t->pos_line = 1;
    }
    const char *q = t->pos_at;
    while (q < at) {
        const char *nl = memchr(q, '\n', (size_t)(at - q));
        if (!nl)
            break;
        t->pos_line++;
        t->pos_line_start = nl + 1;
        q = nl + 1;
    }
    t->pos_at = at;
    *line = t->pos_line;
    *col = (int)(at - t->pos_line_start) + 1;
}

__attribute__((format(printf, 3, 4))) static int perr(tp *t, const char *at, const char *fmt, ...)
{
    if (an_error_isset(t->err))
        return -1;
    int line, col;
    where(t, at, &line, &col);
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return an_errorf(t->err, "%s:%d:%d: %s", t->fname, line, col, msg);
}

static int oom(tp *t) { return perr(t, t->p, "out of memory"); }

static void ws(tp *t)
{
    const char *p = t->p;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    t->p = p;
}

static int peek(tp *t)
{
    ws(t);
    return (unsigned char)*t->p;
}

static int accept(tp *t, char c)
{
    ws(t);
    if (*t->p == c && t->p < t->end) {
        t->p++;
        return 1;
    }
    return 0;
}

static const char *show_here(tp *t, char *buf, size_t n)
{
    if (t->p >= t->end)
        return "end of file";
    size_t k = 0;
    const char *q = t->p;
    while (k + 1 < n && q < t->end && k < 16 && *q != '\n')
        buf[k++] = *q++;
    buf[k] = '\0';
    return buf;
}

static int expect(tp *t, char c)
{
    if (accept(t, c))
        return 0;
    char b[20];
    return perr(t, t->p, "expected '%c' but found '%s'", c, show_here(t, b, sizeof b));
}

static int is_id0(int c) { return isalpha(c) || c == '_'; }
static int is_id(int c) { return isalnum(c) || c == '_' || c == '.' || c == '@'; }

static int ident(tp *t, const char **w, size_t *n)
{
    ws(t);
    const char *p = t->p;
    if (p >= t->end || !is_id0((unsigned char)*p)) {
        char b[20];
        return perr(t, p, "expected a name but found '%s'", show_here(t, b, sizeof b));
    }
    while (is_id((unsigned char)*p))
        p++;
    *w = t->p;
    *n = (size_t)(p - t->p);
    t->p = p;
    return 0;
}

static int word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static int expect_word(tp *t, const char *lit)
{
    const char *at = (ws(t), t->p), *w;
    size_t n;
    if (ident(t, &w, &n))
        return -1;
    if (!word_is(w, n, lit))
        return perr(t, at, "expected '%s' but found '%.*s'", lit, (int)(n > 60 ? 60 : n), w);
    return 0;
}

/* A non-negative decimal integer with overflow check. */
static int uint_lit(tp *t, int64_t *out)
{
    ws(t);
    const char *p = t->p;
    if (!isdigit((unsigned char)*p))
        return perr(t, p, "expected a number");
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return perr(t, t->p, "number is too large");
        v = v * 10 + d;
        p++;
    }
    t->p = p;
    *out = v;
    return 0;
}

/* ---- types ------------------------------------------------------------------------- */

static int parse_type(tp *t, mil_type *ty);

static int parse_type_from(tp *t, const char *w, size_t n, const char *at, mil_type *ty)
{
    memset(ty, 0, sizeof *ty);
    if (++t->depth > MAX_DEPTH)
        return perr(t, at, "types are nested too deeply");
    int rc = -1;
    mil_dtype dt = mil_dtype_from_name(w, n);
    if (dt != MIL_DT_INVALID) {
        ty->kind = MIL_TYPE_TENSOR;
        ty->dtype = dt;
        ty->rank = 0;
        rc = 0;
    } else if (word_is(w, n, "tensor")) {
        const char *dw;
        size_t dn;
        if (expect(t, '<') || ident(t, &dw, &dn))
            goto out;
        ty->kind = MIL_TYPE_TENSOR;
        ty->dtype = mil_dtype_from_name(dw, dn);
        if (ty->dtype == MIL_DT_INVALID) {
            perr(t, dw, "unknown dtype '%.*s'", (int)(dn > 60 ? 60 : dn), dw);
            goto out;
        }
        if (expect(t, ',') || expect(t, '['))
            goto out;
        if (!accept(t, ']')) {
            do {
                if (ty->rank == MIL_MAX_RANK) {
                    perr(t, t->p, "rank is larger than %d", MIL_MAX_RANK);
                    goto out;
                }
                if (accept(t, '?'))
                    ty->dims[ty->rank++] = MIL_DIM_UNKNOWN;
                else if (uint_lit(t, &ty->dims[ty->rank++]))
                    goto out;
            } while (accept(t, ','));
            if (expect(t, ']'))
                goto out;
        }
        if (expect(t, '>'))
            goto out;
        an_error e = {{0}};
        if (mil_type_check(ty, &e)) {
            perr(t, at, "%s", e.msg);
            goto out;
        }
        rc = 0;
    } else if (word_is(w, n, "state") || word_is(w, n, "list")) {
        int is_state = w[0] == 's';
        mil_type *el = an_arena_alloc(t->arena, sizeof *el);
        if (!el) {
            oom(t);
            goto out;
        }
        if (expect(t, '<') || parse_type(t, el))
            goto out;
        ty->kind = is_state ? MIL_TYPE_STATE : MIL_TYPE_LIST;
        ty->elem = el;
        if (is_state && el->kind != MIL_TYPE_TENSOR) {
            perr(t, at, "a state must wrap a tensor type");
            goto out;
        }
        if (!is_state) {
            if (expect(t, ','))
                goto out;
            ty->length = MIL_DIM_UNKNOWN;
            if (!accept(t, '?') && uint_lit(t, &ty->length))
                goto out;
        }
        if (expect(t, '>'))
            goto out;
        rc = 0;
    } else if (word_is(w, n, "tuple") || word_is(w, n, "dict")) {
        int is_dict = w[0] == 'd';
        mil_type *items[MAX_DEPTH * 2];
        int k = 0;
        if (expect(t, '<'))
            goto out;
        if (!is_dict && accept(t, '>')) {
            rc = 0; /* tuple<> */
        } else {
            do {
                if (k == (int)(sizeof items / sizeof *items)) {
                    perr(t, t->p, "too many tuple items");
                    goto out;
                }
                items[k] = an_arena_alloc(t->arena, sizeof(mil_type));
                if (!items[k]) {
                    oom(t);
                    goto out;
                }
                if (parse_type(t, items[k]))
                    goto out;
                k++;
            } while (accept(t, ','));
            if (expect(t, '>'))
                goto out;
            if (is_dict && k != 2) {
                perr(t, at, "a dict type has a key and a value type");
                goto out;
            }
            rc = 0;
        }
        ty->kind = is_dict ? MIL_TYPE_DICT : MIL_TYPE_TUPLE;
        ty->n_items = k;
        ty->items = an_arena_memdup(t->arena, items, (size_t)k * sizeof *items);
        if (k && !ty->items)
            rc = oom(t);
    } else {
        perr(t, at, "unknown type '%.*s'", (int)(n > 60 ? 60 : n), w);
    }
out:
    t->depth--;
    return rc;
}

static int parse_type(tp *t, mil_type *ty)
{
    const char *w;
    size_t n;
    ws(t);
    const char *at = t->p;
    if (ident(t, &w, &n))
        return -1;
    return parse_type_from(t, w, n, at, ty);
}

/* ---- literals ---------------------------------------------------------------------- */

static int parse_body(tp *t, const mil_type *ty, mil_literal *out);

static int parse_typed_from(tp *t, const char *w, size_t n, const char *at, mil_literal *out)
{
    mil_type ty;
    if (parse_type_from(t, w, n, at, &ty) || expect(t, '(') || parse_body(t, &ty, out) ||
        expect(t, ')'))
        return -1;
    return 0;
}

static int parse_typed(tp *t, mil_literal *out)
{
    const char *w;
    size_t n;
    ws(t);
    const char *at = t->p;
    if (ident(t, &w, &n))
        return -1;
    return parse_typed_from(t, w, n, at, out);
}

static const char *lit_str(const mil_literal *l)
{
    if (l->kind == MIL_LIT_TENSOR && l->type.dtype == MIL_DT_STRING && l->type.rank == 0)
        return ((const char *const *)l->data)[0];
    return NULL;
}

static int lit_int(const mil_literal *l, int64_t *v)
{
    if (l->kind != MIL_LIT_TENSOR || l->type.rank != 0)
        return -1;
    switch (l->type.dtype) {
    case MIL_DT_UINT64:
    case MIL_DT_INT64: *v = *(const int64_t *)l->data; return 0;
    case MIL_DT_INT32: *v = *(const int32_t *)l->data; return 0;
    case MIL_DT_UINT32: *v = *(const uint32_t *)l->data; return 0;
    default: return -1;
    }
}

static int parse_blobfile(tp *t, const mil_type *ty, const char *at, mil_literal *out)
{
    const char *path = NULL;
    int64_t off = -1;
    if (expect(t, '('))
        return -1;
    do {
        const char *w, *wat = (ws(t), t->p);
        size_t n;
        mil_literal v;
        if (ident(t, &w, &n) || expect(t, '=') || parse_typed(t, &v))
            return -1;
        if (word_is(w, n, "path") && lit_str(&v))
            path = lit_str(&v);
        else if (word_is(w, n, "offset") && lit_int(&v, &off) == 0)
            ;
        else
            return perr(t, wat, "unexpected BLOBFILE argument '%.*s'", (int)(n > 60 ? 60 : n), w);
    } while (accept(t, ','));
    if (expect(t, ')'))
        return -1;
    if (!path || off < 0)
        return perr(t, at, "BLOBFILE needs a string path and a non-negative integer offset");
    if (ty->kind != MIL_TYPE_TENSOR || mil_type_numel(ty) < 0)
        return perr(t, at, "a BLOBFILE value needs a tensor type with a static shape");
    if (ty->dtype == MIL_DT_STRING || ty->dtype == MIL_DT_BOOL)
        return perr(t, at, "a BLOBFILE value cannot have dtype %s", mil_dtype_name(ty->dtype));
    out->kind = MIL_LIT_BLOB;
    out->type = *ty;
    out->blob_path = path;
    out->blob_offset = (uint64_t)off;
    return 0;
}

/* One scalar element of a tensor literal into the scratch buffer. */
static int parse_elem(tp *t, mil_dtype dt)
{
    ws(t);
    const char *at = t->p;
    if (dt == MIL_DT_STRING) {
        if (*t->p != '"')
            return perr(t, at, "expected a string");
        const char *q = t->p + 1;
        while (q < t->end && *q != '"')
            q++;
        if (q >= t->end)
            return perr(t, at, "unterminated string");
        char *s = an_arena_strndup(t->arena, t->p + 1, (size_t)(q - t->p - 1));
        t->p = q + 1;
        if (!s || mil_litbuf_push_ptr(&t->lb, s))
            return oom(t);
        return 0;
    }
    if (dt == MIL_DT_BOOL) {
        const char *w;
        size_t n;
        if (isdigit((unsigned char)*t->p)) {
            int64_t v;
            if (uint_lit(t, &v) || v > 1)
                return perr(t, at, "expected true or false");
            return mil_litbuf_push_int(&t->lb, dt, v) ? oom(t) : 0;
        }
        if (ident(t, &w, &n))
            return -1;
        int v = word_is(w, n, "true") || word_is(w, n, "True");
        if (!v && !word_is(w, n, "false") && !word_is(w, n, "False"))
            return perr(t, at, "expected true or false");
        return mil_litbuf_push_int(&t->lb, dt, v) ? oom(t) : 0;
    }
    char *endp;
    if (mil_dtype_is_float(dt)) {
        double v = mil_strtod(t->p, &endp);
        if (endp == t->p)
            return perr(t, at, "expected a number");
        t->p = endp;
        int rc = mil_litbuf_push_float(&t->lb, dt, v);
        if (rc == -2)
            return perr(t, at, "fp8 literals are not supported");
        return rc ? oom(t) : 0;
    }
    int64_t v;
    int rc = mil_parse_int(t->p, (const char **)&endp, dt, &v);
    if (rc == -1)
        return perr(t, at, "expected an integer");
    if (rc == -2)
        return perr(t, at, "integer out of range for %s", mil_dtype_name(dt));
    t->p = endp;
    return mil_litbuf_push_int(&t->lb, dt, v) ? oom(t) : 0;
}

typedef struct nest {
    int rank;                  /* -1 until the first element is reached */
    int64_t dims[MIL_MAX_RANK];
    int seen[MIL_MAX_RANK];
} nest;

static int parse_nested(tp *t, mil_dtype dt, nest *ns, int depth)
{
    ws(t);
    const char *at = t->p;
    if (*t->p != '[') {
        if (ns->rank == -1)
            ns->rank = depth;
        else if (ns->rank != depth)
            return perr(t, at, "tensor literal has ragged nesting");
        return parse_elem(t, dt);
    }
    t->p++;
    if (depth >= MIL_MAX_RANK)
        return perr(t, at, "tensor literal is nested deeper than rank %d", MIL_MAX_RANK);
    int64_t count = 0;
    if (!accept(t, ']')) {
        do {
            if (parse_nested(t, dt, ns, depth + 1))
                return -1;
            count++;
        } while (accept(t, ','));
        if (expect(t, ']'))
            return -1;
    } else if (ns->rank == -1) {
        ns->rank = depth + 1;
    }
    if (!ns->seen[depth]) {
        ns->seen[depth] = 1;
        ns->dims[depth] = count;
    } else if (ns->dims[depth] != count) {
        return perr(t, at, "tensor literal has ragged rows");
    }
    return 0;
}

static int parse_tensor_body(tp *t, const mil_type *ty, mil_literal *out)
{
    ws(t);
    const char *at = t->p;
    if (strncmp(t->p, "BLOBFILE", 8) == 0 && !is_id((unsigned char)t->p[8])) {
        t->p += 8;
        return parse_blobfile(t, ty, at, out);
    }
    nest ns = {.rank = -1};
    mil_litbuf_reset(&t->lb);
    if (parse_nested(t, ty->dtype, &ns, 0))
        return -1;
    mil_type lt = *ty;
    int64_t count = (int64_t)t->lb.count;
    if (ty->rank == ns.rank) {
        for (int i = 0; i < ns.rank; i++) {
            if (ty->dims[i] != MIL_DIM_UNKNOWN && ty->dims[i] != ns.dims[i])
                return perr(t, at, "tensor literal has %lld elements along axis %d, its type says %lld",
                            (long long)ns.dims[i], i, (long long)ty->dims[i]);
            lt.dims[i] = ns.dims[i];
        }
    } else if (mil_type_numel(ty) != count) {
        return perr(t, at, "tensor literal has %lld elements, its type %s has a different shape",
                    (long long)count, ty->rank < 0 ? "(unknown rank)" : "tensor");
    }
    if (mil_type_numel(&lt) != count)
        return perr(t, at, "tensor literal has %lld elements, its shape needs %lld", (long long)count,
                    (long long)mil_type_numel(&lt));
    out->kind = MIL_LIT_TENSOR;
    out->type = lt;
    if (mil_litbuf_finish(&t->lb, t->arena, ty->dtype, &out->data, &out->nbytes))
        return oom(t);
    return 0;
}

typedef struct litvec {
    const mil_literal **v;
    int n, cap;
} litvec;

static int litvec_push(tp *t, litvec *lv, const mil_literal *l)
{
    if (lv->n == lv->cap) {
        int nc = lv->cap ? lv->cap * 2 : 8;
        void *nv = realloc(lv->v, (size_t)nc * sizeof *lv->v);
        if (!nv)
            return oom(t);
        lv->v = nv;
        lv->cap = nc;
    }
    lv->v[lv->n++] = l;
    return 0;
}

static int parse_item(tp *t, const mil_type *ty, litvec *lv)
{
    mil_literal *l = an_arena_alloc(t->arena, sizeof *l);
    if (!l)
        return oom(t);
    if (parse_body(t, ty, l))
        return -1;
    return litvec_push(t, lv, l);
}

static int parse_body(tp *t, const mil_type *ty, mil_literal *out)
{
    memset(out, 0, sizeof *out);
    ws(t);
    const char *at = t->p;
    if (++t->depth > MAX_DEPTH) {
        t->depth--;
        return perr(t, at, "literal is nested too deeply");
    }
    int rc = -1;
    litvec lv = {0};
    switch (ty->kind) {
    case MIL_TYPE_TENSOR:
        rc = parse_tensor_body(t, ty, out);
        break;
    case MIL_TYPE_STATE:
        perr(t, at, "a state type has no literal value");
        break;
    case MIL_TYPE_TUPLE:
        if (expect(t, '('))
            break;
        for (int i = 0; i < ty->n_items; i++)
            if ((i && expect(t, ',')) || parse_item(t, ty->items[i], &lv))
                goto out;
        if (expect(t, ')'))
            break;
        out->kind = MIL_LIT_TUPLE;
        rc = 0;
        break;
    case MIL_TYPE_LIST:
        if (expect(t, '['))
            break;
        if (!accept(t, ']')) {
            do
                if (parse_item(t, ty->elem, &lv))
                    goto out;
            while (accept(t, ','));
            if (expect(t, ']'))
                break;
        }
        if (ty->length >= 0 && ty->length != lv.n) {
            perr(t, at, "list literal has %d items, its type says %lld", lv.n, (long long)ty->length);
            break;
        }
        out->kind = MIL_LIT_LIST;
        rc = 0;
        break;
    case MIL_TYPE_DICT:
        if (expect(t, '{'))
            break;
        if (!accept(t, '}')) {
            do {
                if (expect(t, '{') || parse_item(t, ty->items[0], &lv) || expect(t, ',') ||
                    parse_item(t, ty->items[1], &lv) || expect(t, '}'))
                    goto out;
            } while (accept(t, ','));
            if (expect(t, '}'))
                break;
        }
        out->kind = MIL_LIT_DICT;
        rc = 0;
        break;
    }
    if (rc == 0 && ty->kind != MIL_TYPE_TENSOR) {
        out->type = *ty;
        out->n_items = lv.n;
        out->items = an_arena_memdup(t->arena, lv.v, (size_t)lv.n * sizeof *lv.v);
        if (lv.n && !out->items)
            rc = oom(t);
    }
out:
    free(lv.v);
    t->depth--;
    return rc;
}

/* `[name = typedlit, ...]`; the opening bracket is consumed by the caller. `name` is
 * returned separately when name_out is given. */
static int parse_attrs(tp *t, const mil_attr **attrs, int *n_attrs, const char **name_out)
{
    mil_attr buf[64];
    int n = 0;
    if (!accept(t, ']')) {
        do {
            const char *w, *at = (ws(t), t->p);
            size_t wn;
            mil_literal *v = an_arena_alloc(t->arena, sizeof *v);
            if (!v)
                return oom(t);
            if (ident(t, &w, &wn) || expect(t, '=') || parse_typed(t, v))
                return -1;
            if (name_out && word_is(w, wn, "name") && lit_str(v)) {
                *name_out = lit_str(v);
                continue;
            }
            if (n == (int)(sizeof buf / sizeof *buf))
                return perr(t, at, "too many attributes");
            for (int i = 0; i < n; i++)
                if (strlen(buf[i].name) == wn && memcmp(buf[i].name, w, wn) == 0)
                    return perr(t, at, "attribute '%.*s' given twice", (int)(wn > 60 ? 60 : wn), w);
            buf[n].name = an_arena_strndup(t->arena, w, wn);
            buf[n].value = v;
            if (!buf[n].name)
                return oom(t);
            n++;
        } while (accept(t, ','));
        if (expect(t, ']'))
            return -1;
    }
    *n_attrs = n;
    *attrs = n ? an_arena_memdup(t->arena, buf, (size_t)n * sizeof *buf) : NULL;
    return n && !*attrs ? oom(t) : 0;
}

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
        if (parse_typed_from(t, w, n, at, l))
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
            if (parse_type_from(t, w, n, tat, &o->type))
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
    if (accept(t, '[') && parse_attrs(t, &op.attrs, &op.n_attrs, &op.name))
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
            if (parse_type(t, &ty))
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
    if (accept(t, '[') && parse_attrs(t, &fn->attrs, &fn->n_attrs, NULL))
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
    int64_t major, minor;
    if (expect_word(&t, "program") || expect(&t, '(') || uint_lit(&t, &major) || expect(&t, '.') ||
        uint_lit(&t, &minor) || expect(&t, ')'))
        goto out;
    if (major > 1000 || minor > 1000) {
        perr(&t, t.p, "program version %lld.%lld is not supported", (long long)major, (long long)minor);
        goto out;
    }
    p->version_major = (int)major;
    p->version_minor = (int)minor;
    if (accept(&t, '[') && parse_attrs(&t, &p->attrs, &p->n_attrs, NULL))
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
