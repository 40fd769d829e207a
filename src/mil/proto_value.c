/*
 * proto_value.c — MILSpec ValueType and Value messages (COREML-FORMAT.md §2.2) into IR
 * types and literals. Immediate tensors end up in the same storage form as text
 * literals (litpack.h), so both containers give byte-identical literal data.
 */
#include "mil/proto_internal.h"

/* ---- MILSpec types ------------------------------------------------------------------ */

static int dimension(pp *x, pb_cur c, int64_t *d)
{
    pb_field f;
    int rc;
    *d = MIL_DIM_UNKNOWN;
    NEXT(x, &c, &f, rc)
    {
        if (f.num == 1 && f.wt == PB_LEN) { /* constant { size } */
            pb_field g;
            pb_cur s = f.sub;
            int rc2;
            *d = 0;
            NEXT(x, &s, &g, rc2)
            {
                if (g.num == 1 && g.wt == PB_VARINT) {
                    if (g.u > (uint64_t)INT64_MAX / 64)
                        return perr(x, g.at, "dimension %llu is too large", (unsigned long long)g.u);
                    *d = (int64_t)g.u;
                }
            }
        } else if (f.num == 2) {
            *d = MIL_DIM_UNKNOWN;
        }
    }
    return 0;
}


static int value_type_alloc(pp *x, pb_cur c, const mil_type **out)
{
    mil_type *t = an_arena_alloc(x->a, sizeof *t);
    if (!t)
        return perr(x, c.p, "out of memory");
    *out = t;
    return pbx_value_type(x, c, t);
}

static int tensor_type(pp *x, pb_cur c, mil_type *t)
{
    pb_field f;
    int rc, ndims = 0, has_rank = 0;
    const uint8_t *at = c.p;
    int64_t rank = 0;
    t->kind = MIL_TYPE_TENSOR;
    NEXT(x, &c, &f, rc)
    {
        if (f.num == 1 && f.wt == PB_VARINT) {
            t->dtype = mil_dtype_from_proto((int64_t)f.u);
            if (t->dtype == MIL_DT_INVALID)
                return perr(x, f.at, "unknown data type %lld", (long long)f.u);
        } else if (f.num == 2 && f.wt == PB_VARINT) {
            rank = (int64_t)f.u;
            has_rank = 1;
        } else if (f.num == 3 && f.wt == PB_LEN) {
            if (ndims == MIL_MAX_RANK)
                return perr(x, f.at, "rank is larger than %d", MIL_MAX_RANK);
            if (dimension(x, f.sub, &t->dims[ndims++]))
                return -1;
        }
    }
    if (t->dtype == MIL_DT_INVALID)
        return perr(x, at, "tensor type without a data type");
    if (has_rank && rank != ndims && !(rank == -1 && ndims == 0))
        return perr(x, at, "tensor rank %lld does not match its %d dimensions", (long long)rank, ndims);
    t->rank = has_rank && rank == -1 ? -1 : ndims;
    an_error e = {{0}};
    if (mil_type_check(t, &e))
        return perr(x, at, "%s", e.msg);
    return 0;
}

int pbx_value_type(pp *x, pb_cur c, mil_type *t)
{
    memset(t, 0, sizeof *t);
    if (++x->depth > MAX_DEPTH) {
        x->depth--;
        return perr(x, c.p, "types are nested too deeply");
    }
    pb_field f;
    int rc, seen = 0, res = -1;
    const uint8_t *at = c.p;
    for (const uint8_t *bad = NULL; (rc = pb_next(&c, &f, &bad)) != 0;) {
        if (rc < 0) {
            perr(x, bad, "malformed protobuf field");
            goto out;
        }
        if (f.wt != PB_LEN || f.num < 1 || f.num > 5)
            continue;
        seen = 1;
        if (f.num == 1) {
            if (tensor_type(x, f.sub, t))
                goto out;
        } else if (f.num == 2) { /* list */
            pb_cur s = f.sub;
            pb_field g;
            t->kind = MIL_TYPE_LIST;
            t->length = MIL_DIM_UNKNOWN;
            for (const uint8_t *bad2 = NULL; (rc = pb_next(&s, &g, &bad2)) != 0;) {
                if (rc < 0) {
                    perr(x, bad2, "malformed protobuf field");
                    goto out;
                }
                if (g.num == 1 && g.wt == PB_LEN && value_type_alloc(x, g.sub, &t->elem))
                    goto out;
                if (g.num == 2 && g.wt == PB_LEN && dimension(x, g.sub, &t->length))
                    goto out;
            }
            if (!t->elem) {
                perr(x, f.at, "list type without an element type");
                goto out;
            }
        } else if (f.num == 3 || f.num == 4) { /* tuple, dict */
            const mil_type *items[64];
            int n = 0;
            pb_cur s = f.sub;
            pb_field g;
            t->kind = f.num == 3 ? MIL_TYPE_TUPLE : MIL_TYPE_DICT;
            for (const uint8_t *bad2 = NULL; (rc = pb_next(&s, &g, &bad2)) != 0;) {
                if (rc < 0) {
                    perr(x, bad2, "malformed protobuf field");
                    goto out;
                }
                if (g.wt != PB_LEN || (f.num == 3 && g.num != 1) || (f.num == 4 && g.num > 2))
                    continue;
                if (n == 64) {
                    perr(x, g.at, "too many tuple items");
                    goto out;
                }
                if (value_type_alloc(x, g.sub, &items[n]))
                    goto out;
                n++;
            }
            if (f.num == 4 && n != 2) {
                perr(x, f.at, "a dictionary type needs a key and a value type");
                goto out;
            }
            t->n_items = n;
            t->items = an_arena_memdup(x->a, items, (size_t)n * sizeof *items);
        } else { /* state */
            pb_cur s = f.sub;
            pb_field g;
            t->kind = MIL_TYPE_STATE;
            for (const uint8_t *bad2 = NULL; (rc = pb_next(&s, &g, &bad2)) != 0;) {
                if (rc < 0) {
                    perr(x, bad2, "malformed protobuf field");
                    goto out;
                }
                if (g.num == 1 && g.wt == PB_LEN && value_type_alloc(x, g.sub, &t->elem))
                    goto out;
            }
            if (!t->elem || t->elem->kind != MIL_TYPE_TENSOR) {
                perr(x, f.at, "a state type must wrap a tensor type");
                goto out;
            }
        }
    }
    if (!seen) {
        perr(x, at, "empty value type");
        goto out;
    }
    res = 0;
out:
    x->depth--;
    return res;
}

/* ---- MILSpec values ----------------------------------------------------------------- */


/* A packed (or single unpacked) repeated scalar field into the literal buffer. */
static int tensor_scalars(pp *x, const pb_field *f, mil_dtype dt, int kind)
{
    /* kind: 1 float (fixed32), 2 int32 varint, 3 bool varint, 5 int64 varint, 6 double */
    pb_cur s;
    uint8_t one[10];
    if (f->wt == PB_LEN) {
        s = f->sub;
    } else {
        /* unpacked element: re-encode its value for the loop below */
        uint64_t u = f->u;
        size_t n = 0;
        if (f->wt == PB_VARINT) {
            do {
                one[n++] = (uint8_t)((u & 0x7f) | (u > 0x7f ? 0x80 : 0));
                u >>= 7;
            } while (u);
        } else {
            int w = f->wt == PB_I32 ? 4 : 8;
            for (int i = 0; i < w; i++)
                one[n++] = (uint8_t)(u >> (8 * i));
        }
        s.base = x->base;
        s.p = one;
        s.end = one + n;
    }
    while (s.p < s.end) {
        int rc;
        if (kind == 1 || kind == 6) {
            size_t w = kind == 1 ? 4 : 8;
            if ((size_t)(s.end - s.p) < w)
                return perr(x, f->at, "truncated packed values");
            double v;
            if (kind == 1) {
                float fv;
                memcpy(&fv, s.p, 4);
                v = fv;
            } else {
                memcpy(&v, s.p, 8);
            }
            s.p += w;
            rc = mil_litbuf_push_float(&x->lb, dt, v);
        } else {
            uint64_t u;
            if (pb_varint(&s, &u))
                return perr(x, f->at, "truncated packed values");
            int64_t v = kind == 2 ? (int64_t)(int32_t)u : (int64_t)u;
            if (mil_dtype_is_float(dt)) {
                rc = mil_litbuf_push_float(&x->lb, dt, (double)v);
            } else {
                if (mil_int_in_range(dt, v))
                    return perr(x, f->at, "value %lld is out of range for %s", (long long)v,
                                mil_dtype_name(dt));
                rc = mil_litbuf_push_int(&x->lb, dt, v);
            }
        }
        if (rc)
            return perr(x, f->at, rc == -2 ? "values of this dtype cannot be given as numbers" : "out of memory");
    }
    return 0;
}

static int tensor_value(pp *x, pb_cur c, const mil_type *t, const uint8_t *at, mil_literal *out)
{
    if (t->kind != MIL_TYPE_TENSOR || t->rank < 0)
        return perr(x, at, "an immediate tensor needs a tensor type of known rank");
    mil_litbuf_reset(&x->lb);
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    pb_field f;
    int rc;
    mil_dtype dt = t->dtype;
    NEXT(x, &c, &f, rc)
    {
        if (f.wt != PB_LEN || f.num < 1 || f.num > 7)
            continue;
        pb_cur s = f.sub;
        pb_field g;
        int rc2;
        NEXT(x, &s, &g, rc2)
        {
            if (g.num != 1)
                continue;
            int ok = 1;
            switch (f.num) {
            case 1: ok = mil_dtype_is_float(dt) && (g.wt == PB_LEN || g.wt == PB_I32); break;
            case 6: ok = mil_dtype_is_float(dt) && (g.wt == PB_LEN || g.wt == PB_I64); break;
            case 2: case 5: ok = dt != MIL_DT_STRING && dt != MIL_DT_BOOL && (g.wt == PB_LEN || g.wt == PB_VARINT); break;
            case 3: ok = dt == MIL_DT_BOOL && (g.wt == PB_LEN || g.wt == PB_VARINT); break;
            case 4: ok = dt == MIL_DT_STRING && g.wt == PB_LEN; break;
            case 7: ok = dt != MIL_DT_STRING && g.wt == PB_LEN; break;
            }
            if (!ok)
                return perr(x, g.at, "tensor value field %u does not fit dtype %s", f.num, mil_dtype_name(dt));
            if (f.num == 4) {
                char *str = pstr(x, &g);
                if (!str || mil_litbuf_push_ptr(&x->lb, str))
                    return perr(x, g.at, "out of memory");
            } else if (f.num == 7) {
                raw = g.sub.p;
                raw_len = (size_t)(g.sub.end - g.sub.p);
            } else if (tensor_scalars(x, &g, dt, (int)f.num)) {
                return -1;
            }
        }
    }
    int64_t count = raw ? -1 : (int64_t)x->lb.count;
    mil_type lt = *t;
    int64_t numel = mil_type_numel(t);
    if (raw) {
        int bits = mil_dtype_bits(dt);
        if (numel < 0) {
            /* one unknown dimension: infer it from the byte count */
            if (bits < 8)
                return perr(x, at, "packed bytes need a static shape");
            int unk = -1;
            int64_t known = 1;
            for (int i = 0; i < t->rank; i++) {
                if (t->dims[i] != MIL_DIM_UNKNOWN)
                    known *= t->dims[i];
                else if (unk >= 0)
                    return perr(x, at, "more than one unknown dimension in an immediate value");
                else
                    unk = i;
            }
            size_t per = (size_t)bits / 8 * (size_t)(known ? known : 1);
            if (!known || raw_len % per)
                return perr(x, at, "byte length %zu does not fit the tensor type", raw_len);
            lt.dims[unk] = (int64_t)(raw_len / per);
            numel = mil_type_numel(&lt);
        }
        if (mil_dtype_storage_bytes(dt, numel) != raw_len)
            return perr(x, at, "tensor value has %zu bytes, %lld %s elements need %zu", raw_len,
                        (long long)numel, mil_dtype_name(dt), mil_dtype_storage_bytes(dt, numel));
        out->kind = MIL_LIT_TENSOR;
        out->type = lt;
        void *d = an_arena_alloc_aligned(x->a, raw_len, 16);
        if (!d)
            return perr(x, at, "out of memory");
        if (raw_len)
            memcpy(d, raw, raw_len);
        out->data = d;
        out->nbytes = raw_len;
        return 0;
    }
    if (numel < 0) {
        int unk = -1;
        int64_t known = 1;
        for (int i = 0; i < t->rank; i++) {
            if (t->dims[i] != MIL_DIM_UNKNOWN)
                known *= t->dims[i];
            else if (unk >= 0)
                return perr(x, at, "more than one unknown dimension in an immediate value");
            else
                unk = i;
        }
        if (!known || count % known)
            return perr(x, at, "%lld values do not fit the tensor type", (long long)count);
        lt.dims[unk] = count / known;
        numel = count;
    }
    if (numel != count)
        return perr(x, at, "tensor value has %lld elements, its type needs %lld", (long long)count,
                    (long long)numel);
    out->kind = MIL_LIT_TENSOR;
    out->type = lt;
    if (mil_litbuf_finish(&x->lb, x->a, dt, &out->data, &out->nbytes))
        return perr(x, at, "out of memory");
    return 0;
}

static int items_value(pp *x, pb_cur c, int is_dict, mil_literal *out)
{
    const mil_literal **v = NULL;
    int n = 0, cap = 0, res = -1, rc;
    pb_field f;
    for (const uint8_t *bad = NULL; (rc = pb_next(&c, &f, &bad)) != 0;) {
        if (rc < 0) {
            perr(x, bad, "malformed protobuf field");
            goto out;
        }
        if (f.num != 1 || f.wt != PB_LEN)
            continue;
        pb_cur parts[2];
        int np = 0;
        if (is_dict) {
            pb_cur s = f.sub;
            pb_field g;
            int have[2] = {0, 0};
            for (const uint8_t *bad2 = NULL; (rc = pb_next(&s, &g, &bad2)) != 0;) {
                if (rc < 0) {
                    perr(x, bad2, "malformed protobuf field");
                    goto out;
                }
                if ((g.num == 1 || g.num == 2) && g.wt == PB_LEN) {
                    parts[g.num - 1] = g.sub;
                    have[g.num - 1] = 1;
                }
            }
            if (!have[0] || !have[1]) {
                perr(x, f.at, "dictionary entry without key or value");
                goto out;
            }
            np = 2;
        } else {
            parts[0] = f.sub;
            np = 1;
        }
        for (int i = 0; i < np; i++) {
            if (n + 1 > cap) {
                int nc = cap ? cap * 2 : 8;
                void *nv = realloc(v, (size_t)nc * sizeof *v);
                if (!nv) {
                    perr(x, f.at, "out of memory");
                    goto out;
                }
                v = nv;
                cap = nc;
            }
            mil_literal *l = an_arena_alloc(x->a, sizeof *l);
            if (!l || pbx_value(x, parts[i], l)) {
                if (!l)
                    perr(x, f.at, "out of memory");
                goto out;
            }
            v[n++] = l;
        }
    }
    out->n_items = n;
    out->items = an_arena_memdup(x->a, v, (size_t)n * sizeof *v);
    res = 0;
out:
    free(v);
    return res;
}

int pbx_value(pp *x, pb_cur c, mil_literal *out)
{
    memset(out, 0, sizeof *out);
    if (++x->depth > MAX_DEPTH) {
        x->depth--;
        return perr(x, c.p, "values are nested too deeply");
    }
    int res = -1, rc, have_type = 0;
    const uint8_t *at = c.p;
    mil_type t;
    pb_cur imm = {0}, blob = {0};
    int has_imm = 0, has_blob = 0;
    pb_field f;
    for (const uint8_t *bad = NULL; (rc = pb_next(&c, &f, &bad)) != 0;) {
        if (rc < 0) {
            perr(x, bad, "malformed protobuf field");
            goto out;
        }
        if (f.wt != PB_LEN)
            continue;
        if (f.num == 2) {
            if (pbx_value_type(x, f.sub, &t))
                goto out;
            have_type = 1;
        } else if (f.num == 3) {
            imm = f.sub;
            has_imm = 1;
        } else if (f.num == 5) {
            blob = f.sub;
            has_blob = 1;
        }
    }
    if (!have_type || has_imm == has_blob) {
        perr(x, at, "a value needs a type and exactly one of immediateValue / blobFileValue");
        goto out;
    }
    if (has_blob) {
        const char *path = NULL;
        uint64_t off = 0;
        for (const uint8_t *bad = NULL; (rc = pb_next(&blob, &f, &bad)) != 0;) {
            if (rc < 0) {
                perr(x, bad, "malformed protobuf field");
                goto out;
            }
            if (f.num == 1 && f.wt == PB_LEN)
                path = pstr(x, &f);
            else if (f.num == 2 && f.wt == PB_VARINT)
                off = f.u;
        }
        if (!path || t.kind != MIL_TYPE_TENSOR || mil_type_numel(&t) < 0 || t.dtype == MIL_DT_STRING ||
            t.dtype == MIL_DT_BOOL || off > INT64_MAX) {
            perr(x, at, "a blob file value needs a file name and a numeric tensor type with static shape");
            goto out;
        }
        out->kind = MIL_LIT_BLOB;
        out->type = t;
        out->blob_path = path;
        out->blob_offset = off;
        res = 0;
        goto out;
    }
    int which = 0;
    pb_cur body = {0};
    for (const uint8_t *bad = NULL; (rc = pb_next(&imm, &f, &bad)) != 0;) {
        if (rc < 0) {
            perr(x, bad, "malformed protobuf field");
            goto out;
        }
        if (f.wt == PB_LEN && f.num >= 1 && f.num <= 4) {
            which = (int)f.num;
            body = f.sub;
        }
    }
    static const mil_type_kind want_kind[5] = {0, MIL_TYPE_TENSOR, MIL_TYPE_TUPLE, MIL_TYPE_LIST, MIL_TYPE_DICT};
    if (!which || t.kind != want_kind[which]) {
        perr(x, at, "immediate value does not match its type");
        goto out;
    }
    if (which == 1) {
        res = tensor_value(x, body, &t, at, out);
    } else {
        out->kind = which == 2 ? MIL_LIT_TUPLE : which == 3 ? MIL_LIT_LIST : MIL_LIT_DICT;
        out->type = t;
        res = items_value(x, body, which == 4, out);
    }
out:
    x->depth--;
    return res;
}

/* map<string, Value> entry → attr */
static int attr_entry(pp *x, const pb_field *f, mil_attr *a)
{
    pb_cur s = f->sub;
    pb_field g;
    int rc, have = 0;
    a->name = NULL;
    NEXT(x, &s, &g, rc)
    {
        if (g.num == 1 && g.wt == PB_LEN)
            a->name = pstr(x, &g);
        else if (g.num == 2 && g.wt == PB_LEN) {
            mil_literal *l = an_arena_alloc(x->a, sizeof *l);
            if (!l || pbx_value(x, g.sub, l))
                return l ? -1 : perr(x, g.at, "out of memory");
            a->value = l;
            have = 1;
        }
    }
    if (!a->name || !have)
        return perr(x, f->at, "attribute entry without name or value");
    return 0;
}


int pbx_attrvec_add(pp *x, attrvec *av, const pb_field *f)
{
    if (av->n == av->cap) {
        int nc = av->cap ? av->cap * 2 : 8;
        void *nv = realloc(av->v, (size_t)nc * sizeof *av->v);
        if (!nv)
            return perr(x, f->at, "out of memory");
        av->v = nv;
        av->cap = nc;
    }
    if (attr_entry(x, f, &av->v[av->n]))
        return -1;
    for (int i = 0; i < av->n; i++)
        if (strcmp(av->v[i].name, av->v[av->n].name) == 0)
            return perr(x, f->at, "attribute '%.100s' given twice", av->v[i].name);
    av->n++;
    return 0;
}

void pbx_attrvec_done(pp *x, attrvec *av, const mil_attr **out, int *n)
{
    *n = av->n;
    *out = an_arena_memdup(x->a, av->v, (size_t)av->n * sizeof *av->v);
    free(av->v);
    av->v = NULL;
}

