/*
 * proto.c — the protobuf Model of an .mlpackage (COREML-FORMAT.md §2): specification
 * version, ModelDescription (features, functions, metadata) and the MILSpec Program
 * (functions → one block → operations). Types and values: proto_value.c.
 */
#include "mil/loaders.h"
#include "mil/proto_internal.h"

/* ---- ModelDescription ---------------------------------------------------------------- */

static int add_flex(pp *x, const uint8_t *at, flex **out)
{
    if (x->n_flex == x->cap_flex) {
        int nc = x->cap_flex ? x->cap_flex * 2 : 8;
        void *nv = realloc(x->flex, (size_t)nc * sizeof *x->flex);
        if (!nv)
            return perr(x, at, "out of memory");
        x->flex = nv;
        x->cap_flex = nc;
    }
    *out = &x->flex[x->n_flex++];
    memset(*out, 0, sizeof **out);
    return 0;
}

static int shape_msg(pp *x, pb_cur c, mil_shape *s)
{
    pb_field f;
    int rc;
    s->rank = 0;
    NEXT(x, &c, &f, rc)
    {
        if (f.num != 1)
            continue;
        pb_cur v = f.wt == PB_LEN ? f.sub : (pb_cur){0};
        uint64_t u = f.u;
        do {
            if (f.wt == PB_LEN && v.p < v.end && pb_varint(&v, &u))
                return perr(x, f.at, "truncated packed shape");
            if (f.wt == PB_LEN && !v.p)
                break;
            if (s->rank == MIL_MAX_RANK)
                return perr(x, f.at, "shape rank is larger than %d", MIL_MAX_RANK);
            s->dims[s->rank++] = (int64_t)u;
        } while (f.wt == PB_LEN && v.p < v.end);
    }
    return 0;
}

/* ArrayFeatureType → tensor type (+ flexibility for the feature named `name`). */
static int array_type(pp *x, pb_cur c, const char *name, mil_type *t)
{
    pb_field f;
    int rc;
    const uint8_t *at = c.p;
    memset(t, 0, sizeof *t);
    t->kind = MIL_TYPE_TENSOR;
    flex *fx = NULL;
    NEXT(x, &c, &f, rc)
    {
        if (f.num == 1) {
            if (f.wt == PB_LEN) {
                pb_cur w = {x->base, f.sub.p, f.sub.end};
                while (w.p < w.end) {
                    uint64_t u;
                    if (pb_varint(&w, &u))
                        return perr(x, f.at, "truncated packed shape");
                    if (t->rank == MIL_MAX_RANK)
                        return perr(x, f.at, "shape rank is larger than %d", MIL_MAX_RANK);
                    t->dims[t->rank++] = (int64_t)u;
                }
            } else if (f.wt == PB_VARINT) {
                if (t->rank == MIL_MAX_RANK)
                    return perr(x, f.at, "shape rank is larger than %d", MIL_MAX_RANK);
                t->dims[t->rank++] = (int64_t)f.u;
            }
        } else if (f.num == 2 && f.wt == PB_VARINT) {
            switch (f.u) {
            case 65568: t->dtype = MIL_DT_FP32; break;
            case 65600: t->dtype = MIL_DT_FP64; break;
            case 65552: t->dtype = MIL_DT_FP16; break;
            case 131104: t->dtype = MIL_DT_INT32; break;
            case 131080: t->dtype = MIL_DT_INT8; break;
            default: return perr(x, f.at, "unknown array data type %llu", (unsigned long long)f.u);
            }
        } else if ((f.num == 21 || f.num == 31) && f.wt == PB_LEN && name) {
            if (!fx && add_flex(x, f.at, &fx))
                return -1;
            fx->func = x->cur_func;
            fx->input = name;
            pb_cur s = f.sub;
            pb_field g;
            int rc2, k = 0;
            if (f.num == 21) {
                pb_cur cnt = s;
                int n = 0;
                NEXT(x, &cnt, &g, rc2) if (g.num == 1 && g.wt == PB_LEN) n++;
                fx->shapes = an_arena_calloc(x->a, (size_t)n + 1, sizeof *fx->shapes);
                if (!fx->shapes)
                    return perr(x, f.at, "out of memory");
                NEXT(x, &s, &g, rc2)
                {
                    if (g.num == 1 && g.wt == PB_LEN && shape_msg(x, g.sub, &fx->shapes[fx->n_shapes++]))
                        return -1;
                }
            } else {
                fx->has_range = 1;
                NEXT(x, &s, &g, rc2)
                {
                    if (g.num != 1 || g.wt != PB_LEN)
                        continue;
                    if (k == MIL_MAX_RANK)
                        return perr(x, g.at, "too many size ranges");
                    pb_cur r = g.sub;
                    pb_field h;
                    int rc3;
                    fx->lo[k] = 0;
                    fx->hi[k] = -1;
                    NEXT(x, &r, &h, rc3)
                    {
                        if (h.num == 1 && h.wt == PB_VARINT)
                            fx->lo[k] = (int64_t)h.u;
                        else if (h.num == 2 && h.wt == PB_VARINT)
                            fx->hi[k] = (int64_t)h.u < 0 ? -1 : (int64_t)h.u;
                    }
                    k++;
                }
            }
        }
    }
    if (t->dtype == MIL_DT_INVALID)
        return perr(x, at, "array feature without a data type");
    if (fx) {
        fx->def.rank = t->rank;
        memcpy(fx->def.dims, t->dims, sizeof fx->def.dims);
    }
    an_error e = {{0}};
    if (mil_type_check(t, &e))
        return perr(x, at, "%s", e.msg);
    return 0;
}

static int feature(pp *x, pb_cur c, mil_feature *ft)
{
    pb_field f;
    int rc, have = 0;
    const uint8_t *at = c.p;
    pb_cur type = {0};
    NEXT(x, &c, &f, rc)
    {
        if (f.num == 1 && f.wt == PB_LEN)
            ft->name = pstr(x, &f);
        else if (f.num == 3 && f.wt == PB_LEN) {
            type = f.sub;
            have = 1;
        }
    }
    if (!ft->name || !have)
        return perr(x, at, "feature description without name or type");
    memset(&ft->type, 0, sizeof ft->type);
    ft->type.kind = MIL_TYPE_TENSOR;
    int kind = 0;
    NEXT(x, &type, &f, rc)
    {
        if (f.num == 1000 && f.wt == PB_VARINT) {
            ft->is_optional = f.u != 0;
            continue;
        }
        if (f.wt != PB_LEN)
            continue;
        kind = (int)f.num;
        switch (f.num) {
        case 1: ft->type.dtype = MIL_DT_INT64; break;
        case 2: ft->type.dtype = MIL_DT_FP64; break;
        case 3: ft->type.dtype = MIL_DT_STRING; break;
        case 5:
            if (array_type(x, f.sub, ft->name, &ft->type))
                return -1;
            break;
        case 8: {
            pb_cur s = f.sub;
            pb_field g;
            int rc2;
            mil_type *el = an_arena_alloc(x->a, sizeof *el);
            if (!el)
                return perr(x, f.at, "out of memory");
            NEXT(x, &s, &g, rc2) if (g.num == 1 && g.wt == PB_LEN && array_type(x, g.sub, NULL, el)) return -1;
            if (el->dtype == MIL_DT_INVALID)
                return perr(x, f.at, "state feature '%s' without an array type", ft->name);
            memset(&ft->type, 0, sizeof ft->type);
            ft->type.kind = MIL_TYPE_STATE;
            ft->type.elem = el;
            break;
        }
        default:
            return perr(x, f.at, "feature '%s' has an unsupported type (field %u)", ft->name, f.num);
        }
    }
    if (!kind)
        return perr(x, at, "feature '%s' has no type", ft->name);
    return 0;
}

typedef struct featvec {
    mil_feature *v;
    int n, cap;
} featvec;

static int featvec_add(pp *x, featvec *fv, const pb_field *f)
{
    if (fv->n == fv->cap) {
        int nc = fv->cap ? fv->cap * 2 : 8;
        void *nv = realloc(fv->v, (size_t)nc * sizeof *fv->v);
        if (!nv)
            return perr(x, f->at, "out of memory");
        fv->v = nv;
        fv->cap = nc;
    }
    memset(&fv->v[fv->n], 0, sizeof *fv->v);
    if (feature(x, f->sub, &fv->v[fv->n]))
        return -1;
    fv->n++;
    return 0;
}

static const mil_feature *featvec_done(pp *x, featvec *fv, int *n)
{
    *n = fv->n;
    const mil_feature *r = an_arena_memdup(x->a, fv->v, (size_t)fv->n * sizeof *fv->v);
    free(fv->v);
    fv->v = NULL;
    return r;
}

static int feature_lists(pp *x, pb_cur c, int in_no, int out_no, int st_no, mil_function_desc *d)
{
    featvec in = {0}, out = {0}, st = {0};
    pb_field f;
    int rc, res = -1;
    for (const uint8_t *bad = NULL; (rc = pb_next(&c, &f, &bad)) != 0;) {
        if (rc < 0) {
            perr(x, bad, "malformed protobuf field");
            goto out;
        }
        if (f.wt != PB_LEN)
            continue;
        if (f.num == 1 && in_no == 2 && !d->name)
            d->name = pstr(x, &f); /* FunctionDescription.name */
        if ((int)f.num == in_no && featvec_add(x, &in, &f))
            goto out;
        if ((int)f.num == out_no && featvec_add(x, &out, &f))
            goto out;
        if ((int)f.num == st_no && featvec_add(x, &st, &f))
            goto out;
    }
    res = 0;
out:
    d->inputs = featvec_done(x, &in, &d->n_inputs);
    d->outputs = featvec_done(x, &out, &d->n_outputs);
    d->states = featvec_done(x, &st, &d->n_states);
    return res;
}

static int metadata_msg(pp *x, pb_cur c)
{
    pb_field f;
    int rc, n = 0;
    mil_program *p = x->p;
    pb_cur cnt = c;
    NEXT(x, &cnt, &f, rc) if (f.num == 100) n++;
    mil_kv *kv = an_arena_calloc(x->a, (size_t)n + 1, sizeof *kv);
    if (!kv)
        return perr(x, c.p, "out of memory");
    NEXT(x, &c, &f, rc)
    {
        if (f.wt != PB_LEN)
            continue;
        switch (f.num) {
        case 1: p->short_description = pstr(x, &f); break;
        case 2: p->version_string = pstr(x, &f); break;
        case 3: p->author = pstr(x, &f); break;
        case 4: p->license = pstr(x, &f); break;
        case 100: {
            pb_cur s = f.sub;
            pb_field g;
            int rc2;
            mil_kv *e = &kv[p->n_metadata];
            NEXT(x, &s, &g, rc2)
            {
                if (g.num == 1 && g.wt == PB_LEN)
                    e->key = pstr(x, &g);
                else if (g.num == 2 && g.wt == PB_LEN)
                    e->value = pstr(x, &g);
            }
            if (!e->key)
                return perr(x, f.at, "metadata entry without a key");
            if (!e->value)
                e->value = "";
            p->n_metadata++;
            break;
        }
        }
    }
    p->metadata = kv;
    return 0;
}

static int description(pp *x, pb_cur c)
{
    mil_program *p = x->p;
    pb_field f;
    int rc, n_funcs = 0;
    pb_cur cnt = c, orig = c;
    NEXT(x, &cnt, &f, rc) if (f.num == 20 && f.wt == PB_LEN) n_funcs++;
    mil_function_desc *d = an_arena_calloc(x->a, (size_t)n_funcs + 1, sizeof *d);
    if (!d)
        return perr(x, c.p, "out of memory");
    int k = 0;
    NEXT(x, &c, &f, rc)
    {
        if (f.wt != PB_LEN)
            continue;
        if (f.num == 20) {
            /* the name comes first in practice; read it before the features */
            pb_cur s = f.sub;
            pb_field g;
            int rc2;
            NEXT(x, &s, &g, rc2) if (g.num == 1 && g.wt == PB_LEN) d[k].name = pstr(x, &g);
            x->cur_func = d[k].name;
            if (feature_lists(x, f.sub, 2, 3, 6, &d[k]))
                return -1;
            if (!d[k].name)
                return perr(x, f.at, "function description without a name");
            k++;
        } else if (f.num == 21) {
            p->default_function = pstr(x, &f);
        } else if (f.num == 100 && metadata_msg(x, f.sub)) {
            return -1;
        }
    }
    x->cur_func = NULL;
    if (n_funcs) {
        p->descs = d;
        p->n_descs = n_funcs;
        return 0;
    }
    /* single function: input 1, output 10, state 13; named once the program is read */
    mil_function_desc *one = an_arena_calloc(x->a, 1, sizeof *one);
    if (!one)
        return perr(x, c.p, "out of memory");
    if (feature_lists(x, orig, 1, 10, 13, one))
        return -1;
    if (one->n_inputs || one->n_outputs || one->n_states) {
        p->descs = one;
        p->n_descs = 1;
    }
    return 0;
}

/* ---- Program ------------------------------------------------------------------------ */

static const char *opset_name(pp *x, const char *s)
{
    static const struct { const char *from, *to; } map[] = {
        {"CoreML5", "ios15"}, {"CoreML6", "ios16"}, {"CoreML7", "ios17"},
        {"CoreML8", "ios18"}, {"CoreML9", "ios26"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(s, map[i].from) == 0)
            return map[i].to;
    (void)x;
    return s;
}

/* NamedValueType → (name, type) */
static int named_type(pp *x, pb_cur c, const char **name, mil_type *t)
{
    pb_field f;
    int rc, have = 0;
    const uint8_t *at = c.p;
    *name = NULL;
    NEXT(x, &c, &f, rc)
    {
        if (f.num == 1 && f.wt == PB_LEN)
            *name = pstr(x, &f);
        else if (f.num == 2 && f.wt == PB_LEN) {
            if (pbx_value_type(x, f.sub, t))
                return -1;
            have = 1;
        }
    }
    if (!*name || !**name || !have)
        return perr(x, at, "a named value type needs a name and a type");
    return 0;
}

/* Argument → bindings */
static int argument(pp *x, pb_cur c, mil_input *in)
{
    pb_field f;
    int rc, n = 0;
    pb_cur cnt = c;
    NEXT(x, &cnt, &f, rc) if (f.num == 1 && f.wt == PB_LEN) n++;
    mil_binding *b = an_arena_calloc(x->a, (size_t)n + 1, sizeof *b);
    if (!b)
        return perr(x, c.p, "out of memory");
    int k = 0;
    NEXT(x, &c, &f, rc)
    {
        if (f.num != 1 || f.wt != PB_LEN)
            continue;
        pb_cur s = f.sub;
        pb_field g;
        int rc2, have = 0;
        b[k].value = -1;
        NEXT(x, &s, &g, rc2)
        {
            if (g.wt != PB_LEN)
                continue;
            if (g.num == 1) {
                int v = mil_fb_lookup(x->fb, (const char *)g.sub.p, (size_t)(g.sub.end - g.sub.p));
                if (v < 0)
                    return perr(x, g.at, "unknown value '%.*s' (not defined before this use)",
                                (int)(g.sub.end - g.sub.p > 80 ? 80 : g.sub.end - g.sub.p), (const char *)g.sub.p);
                b[k].value = v;
                b[k].literal = NULL;
                have = 1;
            } else if (g.num == 2) {
                mil_literal *l = an_arena_alloc(x->a, sizeof *l);
                if (!l || pbx_value(x, g.sub, l))
                    return l ? -1 : perr(x, g.at, "out of memory");
                b[k].value = -1;
                b[k].literal = l;
                have = 1;
            }
        }
        if (!have)
            return perr(x, f.at, "binding without a name or a value");
        k++;
    }
    if (!k)
        return perr(x, c.p, "input '%s' has no bindings", in->name);
    in->n_bindings = k;
    in->bindings = b;
    return 0;
}

static int operation(pp *x, pb_cur c)
{
    pb_field f;
    int rc, n_in = 0, n_out = 0;
    mil_op op;
    memset(&op, 0, sizeof op);
    op.offset = (uint64_t)(c.p - x->base);
    const uint8_t *at = c.p;
    attrvec av = {0};
    pb_cur cnt = c;
    NEXT(x, &cnt, &f, rc)
    {
        if (f.num == 2 && f.wt == PB_LEN)
            n_in++;
        else if (f.num == 3 && f.wt == PB_LEN)
            n_out++;
        else if (f.num == 4 && f.wt == PB_LEN)
            op.n_blocks++;
    }
    mil_input *ins = an_arena_calloc(x->a, (size_t)n_in + 1, sizeof *ins);
    int *outs = an_arena_calloc(x->a, (size_t)n_out + 1, sizeof *outs);
    if (!ins || !outs)
        return perr(x, at, "out of memory");
    /* pass 1: everything but the outputs (inputs refer to earlier values only) */
    pb_cur p1 = c;
    for (const uint8_t *bad = NULL; (rc = pb_next(&p1, &f, &bad)) != 0;) {
        if (rc < 0) {
            free(av.v);
            return perr(x, bad, "malformed protobuf field");
        }
        if (f.wt != PB_LEN)
            continue;
        if (f.num == 1) {
            op.type = pstr(x, &f);
        } else if (f.num == 2) {
            pb_cur s = f.sub;
            pb_field g;
            int rc2;
            mil_input *in = &ins[op.n_inputs];
            pb_cur arg = {0};
            int have_arg = 0;
            for (const uint8_t *bad2 = NULL; (rc2 = pb_next(&s, &g, &bad2)) != 0;) {
                if (rc2 < 0) {
                    free(av.v);
                    return perr(x, bad2, "malformed protobuf field");
                }
                if (g.num == 1 && g.wt == PB_LEN)
                    in->name = pstr(x, &g);
                else if (g.num == 2 && g.wt == PB_LEN) {
                    arg = g.sub;
                    have_arg = 1;
                }
            }
            if (!in->name || !have_arg) {
                free(av.v);
                return perr(x, f.at, "op input entry without a name or an argument");
            }
            for (int i = 0; i < op.n_inputs; i++)
                if (strcmp(ins[i].name, in->name) == 0) {
                    free(av.v);
                    return perr(x, f.at, "input '%.100s' given twice", in->name);
                }
            if (argument(x, arg, in)) {
                free(av.v);
                return -1;
            }
            op.n_inputs++;
        } else if (f.num == 5) {
            if (pbx_attrvec_add(x, &av, &f)) {
                free(av.v);
                return -1;
            }
            mil_attr *last = &av.v[av.n - 1];
            if (strcmp(last->name, "name") == 0 && last->value->kind == MIL_LIT_TENSOR &&
                last->value->type.dtype == MIL_DT_STRING && last->value->type.rank == 0) {
                op.name = ((const char *const *)last->value->data)[0];
                av.n--;
            }
        }
    }
    pbx_attrvec_done(x, &av, &op.attrs, &op.n_attrs);
    if (!op.type || !*op.type)
        return perr(x, at, "operation without a type");
    if (op.n_blocks)
        return perr(x, at, "op '%s' has nested blocks, which are not supported", op.type);
    op.inputs = ins;
    /* pass 2: outputs */
    int opi = x->fb->n_ops;
    NEXT(x, &c, &f, rc)
    {
        if (f.num != 3 || f.wt != PB_LEN)
            continue;
        const char *name;
        mil_type t;
        if (named_type(x, f.sub, &name, &t))
            return -1;
        an_error e = {{0}};
        int id = mil_fb_add_value(x->fb, name, strlen(name), &t, opi, &e);
        if (id < 0)
            return perr(x, f.at, "%s", e.msg);
        outs[op.n_outputs++] = id;
    }
    op.outputs = outs;
    return mil_fb_add_op(x->fb, &op, x->err) < 0 ? -1 : 0;
}

static int block(pp *x, pb_cur c, mil_function *fn)
{
    pb_field f;
    int rc, n_out = 0;
    pb_cur cnt = c, p2 = c;
    NEXT(x, &cnt, &f, rc)
    {
        if (f.num == 1 && f.wt == PB_LEN)
            return perr(x, f.at, "a function's block must not have inputs");
        if (f.num == 2 && f.wt == PB_LEN)
            n_out++;
    }
    NEXT(x, &c, &f, rc) if (f.num == 3 && f.wt == PB_LEN && operation(x, f.sub)) return -1;
    int *outs = an_arena_calloc(x->a, (size_t)n_out + 1, sizeof *outs);
    if (!outs)
        return perr(x, p2.p, "out of memory");
    NEXT(x, &p2, &f, rc)
    {
        if (f.num != 2 || f.wt != PB_LEN)
            continue;
        int v = mil_fb_lookup(x->fb, (const char *)f.sub.p, (size_t)(f.sub.end - f.sub.p));
        if (v < 0)
            return perr(x, f.at, "block output '%.*s' is not defined",
                        (int)(f.sub.end - f.sub.p > 80 ? 80 : f.sub.end - f.sub.p), (const char *)f.sub.p);
        outs[fn->n_outputs++] = v;
    }
    fn->outputs = outs;
    return 0;
}

static int function(pp *x, pb_cur c, const char *name, mil_function *fn)
{
    pb_field f;
    int rc, res = -1, n_blocks = 0;
    mil_fbuild fb;
    mil_fb_init(&fb, x->a);
    x->fb = &fb;
    attrvec av = {0};
    pb_cur blk = {0};
    const uint8_t *at = c.p;
    fn->name = name;
    for (const uint8_t *bad = NULL; (rc = pb_next(&c, &f, &bad)) != 0;) {
        if (rc < 0) {
            perr(x, bad, "malformed protobuf field");
            goto out;
        }
        if (f.wt != PB_LEN)
            continue;
        if (f.num == 1) {
            const char *pn;
            mil_type t;
            if (named_type(x, f.sub, &pn, &t))
                goto out;
            an_error e = {{0}};
            int id = mil_fb_add_value(&fb, pn, strlen(pn), &t, -1, &e);
            if (id < 0) {
                perr(x, f.at, "%s", e.msg);
                goto out;
            }
            if (mil_fb_add_param(&fb, id, x->err))
                goto out;
        } else if (f.num == 2) {
            fn->opset = pstr(x, &f);
        } else if (f.num == 3) {
            pb_cur s = f.sub;
            pb_field g;
            int rc2;
            for (const uint8_t *bad2 = NULL; (rc2 = pb_next(&s, &g, &bad2)) != 0;) {
                if (rc2 < 0) {
                    perr(x, bad2, "malformed protobuf field");
                    goto out;
                }
                if (g.num == 2 && g.wt == PB_LEN)
                    blk = g.sub;
            }
            n_blocks++;
        } else if (f.num == 4 && pbx_attrvec_add(x, &av, &f)) {
            goto out;
        }
    }
    if (!fn->opset) {
        perr(x, at, "function '%s' has no opset", name);
        goto out;
    }
    if (n_blocks != 1) {
        perr(x, at, "function '%s' has %d block specializations (exactly one is supported)", name, n_blocks);
        goto out;
    }
    fn->opset = opset_name(x, fn->opset);
    if (block(x, blk, fn) || mil_fb_finish(&fb, fn, x->err) || mil_check_function(fn, x->fname, x->err))
        goto out;
    pbx_attrvec_done(x, &av, &fn->attrs, &fn->n_attrs);
    const mil_literal *flexinfo = NULL;
    for (int i = 0; i < fn->n_attrs; i++)
        if (strcmp(fn->attrs[i].name, "FlexibleShapeInformation") == 0)
            flexinfo = fn->attrs[i].value;
    res = mil_apply_flexible_shapes(x->a, fn, flexinfo, x->err);
out:
    free(av.v);
    mil_fb_free(&fb);
    x->fb = NULL;
    return res;
}

static int program(pp *x, pb_cur c)
{
    mil_program *p = x->p;
    pb_field f;
    int rc, n = 0;
    attrvec av = {0};
    pb_cur cnt = c;
    NEXT(x, &cnt, &f, rc) if (f.num == 2 && f.wt == PB_LEN) n++;
    p->functions = an_arena_calloc(x->a, (size_t)n + 1, sizeof *p->functions);
    if (!p->functions)
        return perr(x, c.p, "out of memory");
    for (const uint8_t *bad = NULL; (rc = pb_next(&c, &f, &bad)) != 0;) {
        if (rc < 0) {
            free(av.v);
            return perr(x, bad, "malformed protobuf field");
        }
        if (f.num == 1 && f.wt == PB_VARINT) {
            p->version_major = f.u > 1000 ? 1000 : (int)f.u;
        } else if (f.num == 2 && f.wt == PB_LEN) {
            pb_cur s = f.sub, body = {0};
            pb_field g;
            int rc2, have = 0;
            const char *name = NULL;
            for (const uint8_t *bad2 = NULL; (rc2 = pb_next(&s, &g, &bad2)) != 0;) {
                if (rc2 < 0) {
                    free(av.v);
                    return perr(x, bad2, "malformed protobuf field");
                }
                if (g.num == 1 && g.wt == PB_LEN)
                    name = pstr(x, &g);
                else if (g.num == 2 && g.wt == PB_LEN) {
                    body = g.sub;
                    have = 1;
                }
            }
            if (!name || !*name || !have) {
                free(av.v);
                return perr(x, f.at, "function entry without a name or a body");
            }
            for (int i = 0; i < p->n_functions; i++)
                if (strcmp(p->functions[i].name, name) == 0) {
                    free(av.v);
                    return perr(x, f.at, "function '%.100s' is defined twice", name);
                }
            if (function(x, body, name, &p->functions[p->n_functions])) {
                free(av.v);
                return -1;
            }
            p->n_functions++;
        } else if (f.num == 4 && f.wt == PB_LEN && pbx_attrvec_add(x, &av, &f)) {
            free(av.v);
            return -1;
        }
    }
    pbx_attrvec_done(x, &av, &p->attrs, &p->n_attrs);
    if (!p->n_functions)
        return perr(x, c.p, "the program has no functions");
    return 0;
}

/* Enumerated shapes and ranges of the description onto the function parameters. */
static void apply_flex(pp *x)
{
    mil_program *p = x->p;
    for (int i = 0; i < x->n_flex; i++) {
        const flex *fx = &x->flex[i];
        for (int f = 0; f < p->n_functions; f++) {
            mil_function *fn = &p->functions[f];
            if (fx->func && strcmp(fx->func, fn->name) != 0)
                continue;
            for (int k = 0; k < fn->n_params; k++) {
                mil_param *pr = (mil_param *)&fn->params[k];
                if (strcmp(fn->values[pr->value].name, fx->input) != 0)
                    continue;
                if ((fx->n_shapes || fx->has_range) && pr->default_shape.rank == 0)
                    pr->default_shape = fx->def;
                if (fx->n_shapes && !pr->n_shapes) {
                    pr->n_shapes = fx->n_shapes;
                    pr->shapes = fx->shapes;
                }
                if (fx->has_range && !pr->has_range) {
                    pr->has_range = 1;
                    memcpy(pr->range_lo, fx->lo, sizeof pr->range_lo);
                    memcpy(pr->range_hi, fx->hi, sizeof pr->range_hi);
                }
            }
        }
    }
}

int mil_parse_proto(mil_program *p, const unsigned char *data, size_t len, const char *fname,
                    an_error *err)
{
    pp x;
    memset(&x, 0, sizeof x);
    x.p = p;
    x.a = &p->arena;
    x.base = data;
    x.fname = fname;
    x.err = err;
    pb_cur c = {data, data, data + len}, d = {0}, prog = {0};
    pb_field f;
    int rc, have_prog = 0, have_desc = 0, res = -1, other = 0;
    for (const uint8_t *bad = NULL; (rc = pb_next(&c, &f, &bad)) != 0;) {
        if (rc < 0) {
            perr(&x, bad, "malformed protobuf field (not a Core ML model?)");
            goto out;
        }
        if (f.num == 1 && f.wt == PB_VARINT)
            p->spec_version = f.u > 1000 ? 1000 : (int)f.u;
        else if (f.num == 2 && f.wt == PB_LEN) {
            d = f.sub;
            have_desc = 1;
        } else if (f.num == 502 && f.wt == PB_LEN) {
            prog = f.sub;
            have_prog = 1;
        } else if (f.num >= 200 && f.wt == PB_LEN && !other) {
            other = (int)f.num;
        }
    }
    if (!have_prog) {
        if (other)
            an_errorf(err, "%s: not an ML Program (model type field %d)", fname, other);
        else
            an_errorf(err, "%s: no mlProgram (field 502) in this model", fname);
        goto out;
    }
    if (have_desc && description(&x, d))
        goto out;
    if (program(&x, prog))
        goto out;
    apply_flex(&x);
    if (p->n_descs == 1 && !p->descs[0].name)
        ((mil_function_desc *)p->descs)[0].name =
            p->default_function ? p->default_function
                                : (mil_program_function(p, "main") ? "main" : p->functions[0].name);
    res = 0;
out:
    mil_litbuf_free(&x.lb);
    free(x.flex);
    return res;
}
