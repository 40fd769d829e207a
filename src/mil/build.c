/* build.c — the function builder and checks shared by both loaders (build.h). */
#include "mil/build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void mil_fb_init(mil_fbuild *fb, an_arena *arena)
{
    memset(fb, 0, sizeof *fb);
    fb->arena = arena;
}

void mil_fb_free(mil_fbuild *fb)
{
    free(fb->values);
    free(fb->ops);
    free(fb->params);
    free(fb->slots);
    memset(fb, 0, sizeof *fb);
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (need > (1 << 28))
        return -1;
    int nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *n = realloc(*arr, (size_t)nc * elem);
    if (!n)
        return -1;
    *arr = n;
    *cap = nc;
    return 0;
}

static size_t slot_of(const char *name, size_t len, size_t n_slots)
{
    return (size_t)XXH3_64bits(name, len) & (n_slots - 1);
}

int mil_fb_lookup(const mil_fbuild *fb, const char *name, size_t len)
{
    if (!fb->n_slots)
        return -1;
    for (size_t i = slot_of(name, len, fb->n_slots);; i = (i + 1) & (fb->n_slots - 1)) {
        int s = fb->slots[i];
        if (!s)
            return -1;
        const char *vn = fb->values[s - 1].name;
        if (strncmp(vn, name, len) == 0 && vn[len] == '\0')
            return s - 1;
    }
}

static int rehash(mil_fbuild *fb)
{
    size_t n = fb->n_slots ? fb->n_slots * 2 : 64;
    int *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (int v = 0; v < fb->n_values; v++) {
        const char *vn = fb->values[v].name;
        size_t i = slot_of(vn, strlen(vn), n);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = v + 1;
    }
    free(fb->slots);
    fb->slots = slots;
    fb->n_slots = n;
    return 0;
}

int mil_fb_add_value(mil_fbuild *fb, const char *name, size_t len, const mil_type *type,
                     int producer, an_error *err)
{
    if (mil_fb_lookup(fb, name, len) >= 0) {
        an_errorf(err, "value '%.*s' is defined twice", (int)(len > 200 ? 200 : len), name);
        return -1;
    }
    if (grow((void **)&fb->values, &fb->cap_values, fb->n_values + 1, sizeof *fb->values) ||
        ((size_t)(fb->n_values + 1) * 2 > fb->n_slots && rehash(fb))) {
        an_errorf(err, "out of memory");
        return -2;
    }
    char *n = an_arena_strndup(fb->arena, name, len);
    if (!n) {
        an_errorf(err, "out of memory");
        return -2;
    }
    int id = fb->n_values++;
    fb->values[id].name = n;
    fb->values[id].type = *type;
    fb->values[id].producer = producer;
    size_t i = slot_of(n, len, fb->n_slots);
    while (fb->slots[i])
        i = (i + 1) & (fb->n_slots - 1);
    fb->slots[i] = id + 1;
    return id;
}

int mil_fb_add_param(mil_fbuild *fb, int value, an_error *err)
{
    if (grow((void **)&fb->params, &fb->cap_params, fb->n_params + 1, sizeof *fb->params))
        return an_errorf(err, "out of memory");
    mil_param *pr = &fb->params[fb->n_params++];
    memset(pr, 0, sizeof *pr);
    pr->value = value;
    return 0;
}

int mil_fb_add_op(mil_fbuild *fb, const mil_op *op, an_error *err)
{
    if (grow((void **)&fb->ops, &fb->cap_ops, fb->n_ops + 1, sizeof *fb->ops)) {
        an_errorf(err, "out of memory");
        return -1;
    }
    fb->ops[fb->n_ops] = *op;
    return fb->n_ops++;
}

int mil_fb_finish(mil_fbuild *fb, mil_function *fn, an_error *err)
{
    fn->n_values = fb->n_values;
    fn->n_ops = fb->n_ops;
    fn->n_params = fb->n_params;
    fn->values = an_arena_memdup(fb->arena, fb->values, (size_t)fb->n_values * sizeof *fb->values);
    fn->ops = an_arena_memdup(fb->arena, fb->ops, (size_t)fb->n_ops * sizeof *fb->ops);
    fn->params = an_arena_memdup(fb->arena, fb->params, (size_t)fb->n_params * sizeof *fb->params);
    if ((fb->n_values && !fn->values) || (fb->n_ops && !fn->ops) || (fb->n_params && !fn->params))
        return an_errorf(err, "out of memory");
    return 0;
}

int mil_type_check(const mil_type *t, an_error *err)
{
    switch (t->kind) {
    case MIL_TYPE_TENSOR: {
        if (t->dtype <= MIL_DT_INVALID || t->dtype >= MIL_DT_COUNT)
            return an_errorf(err, "invalid element type");
        if (t->rank < -1 || t->rank > MIL_MAX_RANK)
            return an_errorf(err, "rank %d is out of range (at most %d)", t->rank, MIL_MAX_RANK);
        int64_t n = 1;
        for (int i = 0; i < t->rank; i++) {
            int64_t d = t->dims[i];
            if (d == MIL_DIM_UNKNOWN)
                continue;
            if (d < 0)
                return an_errorf(err, "dimension %lld is negative", (long long)d);
            if (d != 0 && n > (INT64_MAX / 64) / d)
                return an_errorf(err, "shape is too large (element count overflows)");
            n *= d;
        }
        return 0;
    }
    case MIL_TYPE_STATE:
        if (!t->elem || t->elem->kind != MIL_TYPE_TENSOR)
            return an_errorf(err, "a state must wrap a tensor type");
        return mil_type_check(t->elem, err);
    case MIL_TYPE_LIST:
        return t->elem ? mil_type_check(t->elem, err) : an_errorf(err, "list without element type");
    case MIL_TYPE_TUPLE:
    case MIL_TYPE_DICT:
        for (int i = 0; i < t->n_items; i++)
            if (mil_type_check(t->items[i], err))
                return -1;
        return 0;
    }
    return an_errorf(err, "invalid type");
}

size_t mil_dtype_storage_bytes(mil_dtype dt, int64_t numel)
{
    int bits = mil_dtype_bits(dt);
    if (bits <= 0 || numel < 0 || numel > INT64_MAX / 64)
        return (size_t)-1;
    uint64_t b = ((uint64_t)numel * (uint64_t)bits + 7) / 8;
    if (b > SIZE_MAX / 2)
        return (size_t)-1;
    return (size_t)b;
}

/* ---- FlexibleShapeInformation ---------------------------------------------------- */

static const char *lit_string(const mil_literal *l)
{
    if (l && l->kind == MIL_LIT_TENSOR && l->type.dtype == MIL_DT_STRING && l->type.rank == 0)
        return ((const char *const *)l->data)[0];
    return NULL;
}

static int param_index(const mil_function *fn, const char *name)
{
    for (int i = 0; i < fn->n_params; i++)
        if (strcmp(fn->values[fn->params[i].value].name, name) == 0)
            return i;
    return -1;
}

/* An int32 vector literal → shape. */
static int lit_shape(const mil_literal *l, mil_shape *s)
{
    if (!l || l->kind != MIL_LIT_TENSOR || l->type.dtype != MIL_DT_INT32 || l->type.rank > 1)
        return -1;
    int64_t n = l->type.rank == 0 ? 1 : l->type.dims[0];
    if (n > MIL_MAX_RANK)
        return -1;
    s->rank = (int)n;
    for (int i = 0; i < n; i++)
        s->dims[i] = ((const int32_t *)l->data)[i];
    return 0;
}

int mil_apply_flexible_shapes(an_arena *arena, mil_function *fn, const mil_literal *info,
                              an_error *err)
{
    if (!info || info->kind != MIL_LIT_TUPLE)
        return 0;
    mil_param *params = (mil_param *)fn->params;
    for (int e = 0; e < info->n_items; e++) {
        const mil_literal *pair = info->items[e];
        if (pair->kind != MIL_LIT_TUPLE || pair->n_items != 2)
            continue;
        const char *what = lit_string(pair->items[0]);
        const mil_literal *d = pair->items[1];
        if (!what || d->kind != MIL_LIT_DICT)
            continue;
        int n = d->n_items / 2;
        if (strcmp(what, "DefaultShapes") == 0) {
            for (int i = 0; i < n; i++) {
                const char *in = lit_string(d->items[2 * i]);
                int pi = in ? param_index(fn, in) : -1;
                if (pi >= 0)
                    lit_shape(d->items[2 * i + 1], &params[pi].default_shape);
            }
        } else if (strcmp(what, "RangeDims") == 0) {
            for (int i = 0; i < n; i++) {
                const char *in = lit_string(d->items[2 * i]);
                int pi = in ? param_index(fn, in) : -1;
                const mil_literal *r = d->items[2 * i + 1];
                if (pi < 0 || r->kind != MIL_LIT_LIST || r->n_items > MIL_MAX_RANK)
                    continue;
                for (int k = 0; k < r->n_items; k++) {
                    mil_shape lh;
                    if (lit_shape(r->items[k], &lh) || lh.rank != 2)
                        continue;
                    params[pi].range_lo[k] = lh.dims[0];
                    params[pi].range_hi[k] = lh.dims[1];
                }
                params[pi].has_range = 1;
            }
        } else if (strcmp(what, "EnumeratedShapes") == 0) {
            /* {hash: {input: shape}}: count per param, then fill. */
            for (int pi = 0; pi < fn->n_params; pi++) {
                const char *pn = fn->values[params[pi].value].name;
                int cnt = 0;
                mil_shape *shapes = an_arena_calloc(arena, (size_t)n + 1, sizeof *shapes);
                if (!shapes)
                    return an_errorf(err, "out of memory");
                for (int i = 0; i < n; i++) {
                    const mil_literal *inner = d->items[2 * i + 1];
                    if (inner->kind != MIL_LIT_DICT)
                        continue;
                    for (int k = 0; k + 1 < inner->n_items; k += 2) {
                        const char *in = lit_string(inner->items[k]);
                        if (in && strcmp(in, pn) == 0 && lit_shape(inner->items[k + 1], &shapes[cnt]) == 0)
                            cnt++;
                    }
                }
                if (cnt) {
                    params[pi].n_shapes = cnt;
                    params[pi].shapes = shapes;
                }
            }
        }
    }
    return 0;
}

/* ---- descriptions derived from signatures ----------------------------------------- */

int mil_derive_descs(mil_program *p, an_error *err)
{
    mil_function_desc *descs = an_arena_calloc(&p->arena, (size_t)p->n_functions + 1, sizeof *descs);
    if (!descs)
        return an_errorf(err, "out of memory");
    for (int f = 0; f < p->n_functions; f++) {
        const mil_function *fn = &p->functions[f];
        mil_function_desc *d = &descs[f];
        mil_feature *in = an_arena_calloc(&p->arena, (size_t)fn->n_params + 1, sizeof *in);
        mil_feature *st = an_arena_calloc(&p->arena, (size_t)fn->n_params + 1, sizeof *st);
        mil_feature *out = an_arena_calloc(&p->arena, (size_t)fn->n_outputs + 1, sizeof *out);
        if (!in || !st || !out)
            return an_errorf(err, "out of memory");
        for (int i = 0; i < fn->n_params; i++) {
            const mil_value *v = &fn->values[fn->params[i].value];
            mil_feature *ft = v->type.kind == MIL_TYPE_STATE ? &st[d->n_states++] : &in[d->n_inputs++];
            ft->name = v->name;
            ft->type = v->type;
        }
        for (int i = 0; i < fn->n_outputs; i++) {
            const mil_value *v = &fn->values[fn->outputs[i]];
            out[i].name = v->name;
            out[i].type = v->type;
        }
        d->name = fn->name;
        d->n_outputs = fn->n_outputs;
        d->inputs = in;
        d->states = st;
        d->outputs = out;
    }
    p->descs = descs;
    p->n_descs = p->n_functions;
    return 0;
}

/* ---- type agreement ----------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int op_error(const mil_op *op, const char *fname, an_error *err,
                                                          const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (op->line > 0)
        return an_errorf(err, "%s:%d:%d: %s '%s': %s", fname, op->line, op->col, op->type,
                         op->name ? op->name : "", msg);
    return an_errorf(err, "%s: byte %llu: %s '%s': %s", fname, (unsigned long long)op->offset, op->type,
                     op->name ? op->name : "", msg);
}

/* Tensor types agree: same dtype and rank, dims equal where both are known. */
static int tensor_agrees(const mil_type *a, const mil_type *b)
{
    if (a->kind != MIL_TYPE_TENSOR || b->kind != MIL_TYPE_TENSOR || a->dtype != b->dtype || a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] >= 0 && b->dims[i] >= 0 && a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

static const mil_type *state_input(const mil_function *fn, const mil_op *op)
{
    const mil_input *in = mil_op_input(op, "input");
    if (!in || in->n_bindings != 1 || in->bindings[0].value < 0)
        return NULL;
    const mil_type *t = &fn->values[in->bindings[0].value].type;
    return t->kind == MIL_TYPE_STATE ? t->elem : NULL;
}

int mil_check_function(const mil_function *fn, const char *fname, an_error *err)
{
    for (int o = 0; o < fn->n_ops; o++) {
        const mil_op *op = &fn->ops[o];
        if (strcmp(op->type, "const") == 0) {
            const mil_literal *val = mil_op_attr(op, "val");
            if (!val)
                return op_error(op, fname, err, "a const needs a 'val' attribute");
            if (op->n_outputs != 1)
                return op_error(op, fname, err, "a const has exactly one output");
            const mil_type *ot = &fn->values[op->outputs[0]].type;
            if ((val->kind == MIL_LIT_TENSOR || val->kind == MIL_LIT_BLOB) && !tensor_agrees(ot, &val->type))
                return op_error(op, fname, err, "output type does not match the type of 'val'");
        } else if (strcmp(op->type, "read_state") == 0 || strcmp(op->type, "write_state") == 0) {
            const mil_type *st = state_input(fn, op);
            if (!st)
                return op_error(op, fname, err, "'input' must be one state value");
            int is_read = op->type[0] == 'r';
            if (is_read && (op->n_outputs != 1 || !tensor_agrees(&fn->values[op->outputs[0]].type, st)))
                return op_error(op, fname, err, "output type does not match the state");
            if (!is_read) {
                const mil_input *d = mil_op_input(op, "data");
                const mil_type *dt = d && d->n_bindings == 1
                                         ? (d->bindings[0].value >= 0 ? &fn->values[d->bindings[0].value].type
                                                                      : &d->bindings[0].literal->type)
                                         : NULL;
                if (!dt || !tensor_agrees(dt, st))
                    return op_error(op, fname, err, "'data' does not match the state's type");
                if (op->n_outputs != 0)
                    return op_error(op, fname, err, "write_state has no outputs");
            }
        }
    }
    return 0;
}
