/*
 * text_lit.c — types and typed literals of model.mil (COREML-FORMAT.md §4.2): tensor,
 * state, list, tuple and dict types; nested tensor literals (shape checked against the
 * declared type, elements stored by litpack.h), BLOBFILE references, tuple/list/dict
 * literals, attribute brackets. Nesting is bounded (MAX_DEPTH).
 */
#include "mil/text_internal.h"

/* ---- types ------------------------------------------------------------------------- */


int tx_parse_type_from(tp *t, const char *w, size_t n, const char *at, mil_type *ty)
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
        if (expect(t, '<') || tx_parse_type(t, el))
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
                if (tx_parse_type(t, items[k]))
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

int tx_parse_type(tp *t, mil_type *ty)
{
    const char *w;
    size_t n;
    ws(t);
    const char *at = t->p;
    if (ident(t, &w, &n))
        return -1;
    return tx_parse_type_from(t, w, n, at, ty);
}

/* ---- literals ---------------------------------------------------------------------- */

static int parse_body(tp *t, const mil_type *ty, mil_literal *out);

int tx_parse_typed_from(tp *t, const char *w, size_t n, const char *at, mil_literal *out)
{
    mil_type ty;
    if (tx_parse_type_from(t, w, n, at, &ty) || expect(t, '(') || parse_body(t, &ty, out) ||
        expect(t, ')'))
        return -1;
    return 0;
}

int tx_parse_typed(tp *t, mil_literal *out)
{
    const char *w;
    size_t n;
    ws(t);
    const char *at = t->p;
    if (ident(t, &w, &n))
        return -1;
    return tx_parse_typed_from(t, w, n, at, out);
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
        if (ident(t, &w, &n) || expect(t, '=') || tx_parse_typed(t, &v))
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
            int64_t v = 0;
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
int tx_parse_attrs(tp *t, const mil_attr **attrs, int *n_attrs, const char **name_out)
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
            if (ident(t, &w, &wn) || expect(t, '=') || tx_parse_typed(t, v))
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

