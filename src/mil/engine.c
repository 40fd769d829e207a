/*
 * engine.c — components: load + plan every function, describe, states, predict.
 * See engine.h for the contract.
 */
#include "mil/engine.h"

#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "mil/exec.h"
#include "mil/weights.h"

/* Plans per function at most (the product of enumerated shapes of its inputs). */
#define MX_MAX_PLANS 64

const mx_opdef *mx_find_op(const char *name)
{
    const mx_opdef *const tables[] = {mx_ops_const, mx_ops_elem,  mx_ops_linalg,
                                      mx_ops_shape, mx_ops_slice, mx_ops_reduce};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const mx_opdef *d = tables[t]; d->name; d++)
            if (strcmp(d->name, name) == 0)
                return d;
    return NULL;
}

const mil_literal *mx_op_attr(const mil_op *op, const char *name)
{
    for (int i = 0; i < op->n_attrs; i++)
        if (strcmp(op->attrs[i].name, name) == 0)
            return op->attrs[i].value;
    return NULL;
}

/* ---- threads ---- */

static an_pool *g_pool; /* NULL when running on one thread */
static int g_threads = 1;

int mil_set_threads(int n, an_error *err)
{
    if (n < 0)
        return an_errorf(err, "thread count must be positive (got %d)", n);
    if (n == 0)
        n = an_cpu_physical();
    if (n < 1)
        n = 1;
    if (n > 256)
        return an_errorf(err, "thread count %d is more than 256", n);
    if (n == g_threads)
        return 0;
    an_pool_destroy(g_pool);
    g_pool = NULL;
    g_threads = 1;
    if (n > 1 && !(g_pool = an_pool_create(n, err)))
        return -1;
    g_threads = n;
    return 0;
}

int mil_threads(void) { return g_threads; }

void mx_parallel_for(size_t n, size_t grain, an_pool_fn fn, void *ctx)
{
    if (!g_pool || n <= grain) {
        if (n)
            fn(ctx, 0, n, 0);
        return;
    }
    an_pool_for(g_pool, n, grain, fn, ctx);
}

/* ---- literals and the fold cache ---- */

int mx_literal_data(mil_component *c, const mil_literal *lit, const void **data, size_t *nbytes,
                    an_error *err)
{
    if (lit->kind == MIL_LIT_TENSOR) {
        *data = lit->data;
        *nbytes = lit->nbytes;
        return 0;
    }
    if (lit->kind != MIL_LIT_BLOB)
        return an_errorf(err, "not a tensor literal");
    if (!c->weights) {
        c->weights = mil_weights_open(c->prog);
        if (!c->weights)
            return an_errorf(err, "out of memory");
    }
    mil_blob b;
    if (mil_blob_get(c->weights, lit, &b, err))
        return -1;
    *data = b.data;
    *nbytes = b.nbytes;
    return 0;
}

typedef struct mx_fold {
    const char *op;
    int n_in;
    const void *in_data[MX_MAXIN];
    int64_t in_numel[MX_MAXIN];
    mil_dtype in_dt[MX_MAXIN];
    int n_out;
    mx_val out[4];
    struct mx_fold *next;
} mx_fold;

static int fold_key_ok(const mx_step *s)
{
    if (s->nout > 4 || !s->op)
        return 0;
    for (int k = 0; k < MX_MAXIN; k++)
        if (s->nin[k] > 1)
            return 0;
    return 1;
}

int mx_fold_lookup(mil_component *c, mx_step *s)
{
    if (!fold_key_ok(s))
        return 0;
    for (mx_fold *f = c->folds; f; f = f->next) {
        if (strcmp(f->op, s->op->type) != 0 || f->n_out != s->nout)
            continue;
        int same = 1;
        for (int k = 0; k < MX_MAXIN && same; k++) {
            const mx_val *v = mx_in(s, k);
            if (!v)
                same = f->in_data[k] == NULL;
            else
                same = f->in_data[k] == v->data && f->in_numel[k] == v->numel && f->in_dt[k] == v->dt;
        }
        for (int o = 0; o < s->nout && same; o++)
            same = f->out[o].dt == s->out[o]->dt && f->out[o].rank == s->out[o]->rank &&
                   memcmp(f->out[o].shape, s->out[o]->shape, sizeof(int64_t) * (size_t)f->out[o].rank) == 0;
        if (!same)
            continue;
        for (int o = 0; o < s->nout; o++) {
            s->out[o]->kind = MX_CONST;
            s->out[o]->data = f->out[o].data;
            s->out[o]->kw = f->out[o].kw;
        }
        return 1;
    }
    return 0;
}

void mx_fold_remember(mil_component *c, const mx_step *s)
{
    if (!fold_key_ok(s) || strncmp(s->op->type, "constexpr_", 10) != 0)
        return; /* only weight decompression is worth sharing across functions */
    mx_fold *f = an_arena_alloc(&c->mem, sizeof *f);
    if (!f)
        return;
    f->op = s->op->type;
    for (int k = 0; k < MX_MAXIN; k++) {
        const mx_val *v = mx_in(s, k);
        f->in_data[k] = v ? v->data : NULL;
        f->in_numel[k] = v ? v->numel : 0;
        f->in_dt[k] = v ? v->dt : MIL_DT_INVALID;
    }
    f->n_out = s->nout;
    for (int o = 0; o < s->nout; o++)
        f->out[o] = *s->out[o];
    f->next = c->folds;
    c->folds = f;
}

/* ---- descriptions ---- */

static int io_from_type(mil_component *c, mil_io_desc *d, const char *name, const mil_type *t,
                        const mil_param *param, an_error *err)
{
    d->name = name;
    const mil_type *tt = t->kind == MIL_TYPE_STATE ? t->elem : t;
    if (!tt || tt->kind != MIL_TYPE_TENSOR || tt->rank < 0)
        return an_errorf(err, "%s: '%s' is not a ranked tensor", c->prog->source, name);
    d->dtype = tt->dtype;
    d->rank = tt->rank;
    memcpy(d->dims, tt->dims, sizeof d->dims);
    if (param && param->n_shapes > 0) {
        d->n_shapes = param->n_shapes;
        d->shapes = param->shapes;
    }
    return 0;
}

static int build_descs(mil_component *c, an_error *err)
{
    mil_program *p = c->prog;
    c->n_fns = p->n_functions;
    c->fns = an_arena_calloc(&c->mem, (size_t)p->n_functions + 1, sizeof *c->fns);
    if (!c->fns)
        return an_errorf(err, "out of memory");
    for (int f = 0; f < p->n_functions; f++) {
        const mil_function *fn = &p->functions[f];
        mil_fn_desc *d = &c->fns[f];
        d->name = fn->name;
        mil_io_desc *ins = an_arena_calloc(&c->mem, (size_t)fn->n_params + 1, sizeof *ins);
        mil_io_desc *sts = an_arena_calloc(&c->mem, (size_t)fn->n_params + 1, sizeof *sts);
        mil_io_desc *outs = an_arena_calloc(&c->mem, (size_t)fn->n_outputs + 1, sizeof *outs);
        if (!ins || !sts || !outs)
            return an_errorf(err, "out of memory");
        for (int i = 0; i < fn->n_params; i++) {
            const mil_value *v = &fn->values[fn->params[i].value];
            int st = v->type.kind == MIL_TYPE_STATE;
            mil_io_desc *io = st ? &sts[d->n_states++] : &ins[d->n_inputs++];
            if (io_from_type(c, io, v->name, &v->type, &fn->params[i], err))
                return an_error_prefix(err, "function '%s'", fn->name);
        }
        for (int i = 0; i < fn->n_outputs; i++) {
            const mil_value *v = &fn->values[fn->outputs[i]];
            if (io_from_type(c, &outs[i], v->name, &v->type, NULL, err))
                return an_error_prefix(err, "function '%s'", fn->name);
        }
        d->n_outputs = fn->n_outputs;
        d->inputs = ins, d->states = sts, d->outputs = outs;
    }
    return 0;
}

/* Shape choices of one input: its enumerated shapes, else its static shape, else the
 * default shape of a range (planned once; other shapes are refused at predict). */
static int input_choices(const mil_component *c, const mil_io_desc *io, const mil_param *prm,
                         mil_shape *out, int max, an_error *err)
{
    if (io->n_shapes > 0) {
        int n = io->n_shapes < max ? io->n_shapes : max;
        memcpy(out, io->shapes, sizeof *out * (size_t)n);
        return n;
    }
    out[0].rank = io->rank;
    memcpy(out[0].dims, io->dims, sizeof out[0].dims);
    for (int d = 0; d < io->rank; d++)
        if (io->dims[d] < 0) {
            if (prm && prm->has_range && prm->default_shape.rank == io->rank) {
                out[0] = prm->default_shape;
                return 1;
            }
            return an_errorf(err, "%s: input '%s' has a flexible shape with no enumerated or default shape",
                             c->prog->source, io->name);
        }
    return 1;
}

static int plan_all(mil_component *c, an_error *err)
{
    for (int f = 0; f < c->n_fns; f++) {
        const mil_function *fn = &c->prog->functions[f];
        const mil_fn_desc *d = &c->fns[f];
        int n_in = d->n_inputs;
        mil_shape *choices = an_arena_calloc(&c->mem, (size_t)n_in * MX_MAX_PLANS + 1, sizeof *choices);
        int *nch = an_arena_calloc(&c->mem, (size_t)n_in + 1, sizeof(int));
        int *pick = an_arena_calloc(&c->mem, (size_t)n_in + 1, sizeof(int));
        int64_t (*shapes)[MIL_MAX_RANK] = an_arena_calloc(&c->mem, (size_t)n_in + 1, sizeof *shapes);
        int *ranks = an_arena_calloc(&c->mem, (size_t)n_in + 1, sizeof(int));
        if (!choices || !nch || !pick || !shapes || !ranks)
            return an_errorf(err, "out of memory");
        int total = 1, k = 0;
        for (int i = 0; i < fn->n_params; i++) {
            const mil_value *v = &fn->values[fn->params[i].value];
            if (v->type.kind == MIL_TYPE_STATE)
                continue;
            nch[k] = input_choices(c, &d->inputs[k], &fn->params[i], choices + k * MX_MAX_PLANS,
                                   MX_MAX_PLANS, err);
            if (nch[k] < 0)
                return an_error_prefix(err, "function '%s'", fn->name);
            total *= nch[k];
            if (total > MX_MAX_PLANS)
                return an_errorf(err, "%s: function '%s' has more than %d input shape combinations",
                                 c->prog->source, fn->name, MX_MAX_PLANS);
            k++;
        }
        for (int combo = 0; combo < total; combo++) {
            int rem = combo;
            for (int i = 0; i < n_in; i++) {
                pick[i] = rem % nch[i];
                rem /= nch[i];
                const mil_shape *sh = &choices[i * MX_MAX_PLANS + pick[i]];
                ranks[i] = sh->rank;
                memcpy(shapes[i], sh->dims, sizeof shapes[i]);
            }
            mx_plan *p;
            if (mx_plan_function(c, f, (const int64_t(*)[MIL_MAX_RANK])shapes, ranks, &p, err))
                return -1;
        }
    }
    /* one arena for all plans: only one predict runs at a time */
    size_t need = 64;
    for (mx_plan *p = c->plans; p; p = p->next) {
        size_t t = ((p->arena_bytes + 63) & ~(size_t)63) + p->scratch_bytes + 64;
        if (t > need)
            need = t;
    }
    if (need > mx_memory_limit)
        return an_errorf(err, "%s: activations need %zu bytes, more than this engine allows",
                         c->prog->source, need);
    c->arena = aligned_alloc(64, (need + 63) & ~(size_t)63);
    if (!c->arena)
        return an_errorf(err, "out of memory (activation arena of %zu bytes)", need);
    memset(c->arena, 0, need);
    c->arena_size = need;
    for (mx_plan *p = c->plans; p; p = p->next)
        for (int i = 0; i < p->nvals; i++)
            if (p->vals[i]->kind == MX_ARENA)
                p->vals[i]->data = c->arena + p->vals[i]->off;
    for (mx_plan *p = c->plans; p; p = p->next)
        for (int o = 0; o < p->n_out; o++)
            p->out_tensors[o].t.data = p->outs[o]->data;
    return 0;
}

mil_component *mil_component_from_program(mil_program *prog, an_error *err)
{
    mil_component *c = calloc(1, sizeof *c);
    if (!c) {
        mil_program_free(prog);
        an_errorf(err, "out of memory");
        return NULL;
    }
    c->prog = prog;
    an_arena_init(&c->mem);
    if (build_descs(c, err) || plan_all(c, err)) {
        mil_component_free(c);
        return NULL;
    }
    return c;
}

mil_component *mil_component_load(const char *path, an_error *err)
{
    mil_program *p = mil_program_load(path, err);
    if (!p)
        return NULL;
    return mil_component_from_program(p, err);
}

void mil_component_free(mil_component *c)
{
    if (!c)
        return;
    free(c->arena);
    for (mx_kw *k = c->kws; k; k = k->next)
        kn_release(&k->w);
    an_arena_free(&c->mem);
    mil_weights_close(c->weights);
    mil_program_free(c->prog);
    free(c);
}

const mil_program *mil_component_program(const mil_component *c) { return c->prog; }
int mil_component_n_functions(const mil_component *c) { return c->n_fns; }

const mil_fn_desc *mil_component_function(const mil_component *c, int i)
{
    return i >= 0 && i < c->n_fns ? &c->fns[i] : NULL;
}

static int find_fn(const mil_component *c, const char *name)
{
    if (!name)
        name = c->prog->default_function ? c->prog->default_function : "main";
    for (int i = 0; i < c->n_fns; i++)
        if (strcmp(c->fns[i].name, name) == 0)
            return i;
    if (c->n_fns == 1 && !strcmp(name, "main"))
        return 0;
    return -1;
}

const mil_fn_desc *mil_component_find(const mil_component *c, const char *name)
{
    int i = find_fn(c, name);
    return i < 0 ? NULL : &c->fns[i];
}

void mil_component_stats(const mil_component *c, mil_predict_stats *st) { *st = c->stats; }

size_t mil_component_decoded_bytes(const mil_component *c) { return c->folded_bytes; }

/* ---- states ---- */

mil_state *mil_state_new(const mil_component *c, const char *function, an_error *err)
{
    const mil_fn_desc *d = mil_component_find(c, function);
    if (!d) {
        an_errorf(err, "%s: no function '%s'", c->prog->source, function ? function : "(default)");
        return NULL;
    }
    mil_state *s = calloc(1, sizeof *s);
    if (!s || !(s->bufs = calloc((size_t)d->n_states + 1, sizeof *s->bufs))) {
        free(s);
        an_errorf(err, "out of memory");
        return NULL;
    }
    for (int i = 0; i < d->n_states; i++) {
        const mil_io_desc *io = &d->states[i];
        mil_state_buf *b = &s->bufs[s->n];
        b->name = strdup(io->name);
        b->t.dtype = io->dtype;
        b->t.rank = io->rank;
        memcpy(b->t.shape, io->dims, sizeof b->t.shape);
        size_t nb = mil_tensor_nbytes(&b->t);
        b->t.data = nb ? aligned_alloc(64, (nb + 63) & ~(size_t)63) : NULL;
        s->n++;
        if (!b->name || (nb && !b->t.data)) {
            mil_state_free(s);
            an_errorf(err, "out of memory for state '%s'", io->name);
            return NULL;
        }
        if (nb)
            memset(b->t.data, 0, nb);
    }
    return s;
}

int mil_state_extend(mil_state *s, const mil_component *c, const char *function, an_error *err)
{
    mil_state *add = mil_state_new(c, function, err);
    if (!add)
        return -1;
    for (int i = 0; i < add->n; i++) {
        if (mil_state_find(s, add->bufs[i].name))
            continue;
        mil_state_buf *nb = realloc(s->bufs, sizeof *nb * (size_t)(s->n + 2));
        if (!nb) {
            mil_state_free(add);
            return an_errorf(err, "out of memory");
        }
        s->bufs = nb;
        s->bufs[s->n++] = add->bufs[i];
        add->bufs[i].name = NULL;
        add->bufs[i].t.data = NULL;
    }
    mil_state_free(add);
    return 0;
}

void mil_state_free(mil_state *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++) {
        free((void *)s->bufs[i].name);
        free(s->bufs[i].t.data);
    }
    free(s->bufs);
    free(s);
}

void mil_state_reset(mil_state *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->bufs[i].t.data)
            memset(s->bufs[i].t.data, 0, mil_tensor_nbytes(&s->bufs[i].t));
}

mil_state_buf *mil_state_find(mil_state *s, const char *name)
{
    for (int i = 0; s && i < s->n; i++)
        if (s->bufs[i].name && strcmp(s->bufs[i].name, name) == 0)
            return &s->bufs[i];
    return NULL;
}

/* ---- predict ---- */

static int same_shape(int ra, const int64_t *a, int rb, const int64_t *b)
{
    return ra == rb && memcmp(a, b, sizeof(int64_t) * (size_t)ra) == 0;
}

int mil_predict(mil_component *c, const char *function, int n_in, const mil_named_tensor *in,
                mil_state *state, const mil_named_tensor **out, int *n_out, an_error *err)
{
    int fi = find_fn(c, function);
    if (fi < 0)
        return an_errorf(err, "%s: no function '%s'", c->prog->source, function ? function : "(default)");
    const mil_fn_desc *d = &c->fns[fi];
    /* which caller tensor feeds each declared input (by name, exactly once) */
    const mil_tensor *bound[64];
    if (d->n_inputs > 64)
        return an_errorf(err, "too many inputs");
    for (int j = 0; j < n_in; j++) {
        int known = 0;
        for (int i = 0; i < d->n_inputs; i++)
            known |= strcmp(in[j].name, d->inputs[i].name) == 0;
        if (!known)
            return an_errorf(err, "function '%s' has no input '%s'", d->name, in[j].name);
    }
    for (int i = 0; i < d->n_inputs; i++) {
        bound[i] = NULL;
        for (int j = 0; j < n_in; j++)
            if (strcmp(in[j].name, d->inputs[i].name) == 0) {
                if (bound[i])
                    return an_errorf(err, "input '%s' given twice", in[j].name);
                bound[i] = &in[j].t;
            }
        if (!bound[i])
            return an_errorf(err, "function '%s': missing input '%s'", d->name, d->inputs[i].name);
        if (bound[i]->dtype != d->inputs[i].dtype)
            return an_errorf(err, "function '%s': input '%s' must be %s, got %s", d->name,
                             d->inputs[i].name, mil_dtype_name(d->inputs[i].dtype),
                             mil_dtype_name(bound[i]->dtype));
    }
    mx_plan *p = NULL;
    for (mx_plan *q = c->plans; q && !p; q = q->next) {
        if (q->fn_index != fi)
            continue;
        int ok = 1;
        for (int i = 0; i < d->n_inputs && ok; i++)
            ok = same_shape(q->in_ranks[i], q->in_shapes[i], bound[i]->rank, bound[i]->shape);
        if (ok)
            p = q;
    }
    if (!p) {
        for (int i = 0; i < d->n_inputs; i++) {
            char got[160];
            mil_shape_str(bound[i]->dtype, bound[i]->rank, bound[i]->shape, got, sizeof got);
            int fits = 0;
            for (mx_plan *q = c->plans; q; q = q->next)
                fits |= q->fn_index == fi &&
                        same_shape(q->in_ranks[i], q->in_shapes[i], bound[i]->rank, bound[i]->shape);
            if (!fits)
                return an_errorf(err, "function '%s': input '%s' has shape %s, which is not one of its declared shapes",
                                 d->name, d->inputs[i].name, got);
        }
        return an_errorf(err, "function '%s': this combination of input shapes is not declared", d->name);
    }
    /* states by name, dtype and shape */
    for (int k = 0; k < p->n_states; k++) {
        mx_val *sv = p->vals[p->state_params[k]];
        const char *name = p->fn->values[sv->id].name;
        mil_state_buf *b = mil_state_find(state, name);
        if (!b)
            return an_errorf(err, "function '%s' needs state '%s'", d->name, name);
        if (b->t.dtype != sv->dt || !same_shape(b->t.rank, b->t.shape, sv->rank, sv->shape))
            return an_errorf(err, "state '%s' has another dtype or shape than function '%s' declares",
                             name, d->name);
        sv->data = b->t.data;
    }
    for (int i = 0; i < p->nvals; i++) {
        mx_val *v = p->vals[i];
        if (v->kind == MX_INPUT)
            v->data = bound[v->input]->data;
    }
    for (int i = 0; i < p->nvals; i++) {
        mx_val *v = p->vals[i];
        if (v->kind == MX_ALIAS)
            v->data = (char *)p->vals[v->root]->data + v->alias_off;
    }
    memset(&c->stats, 0, sizeof c->stats);
    mx_ctx ctx = {.comp = c,
                  .plan = p,
                  .scratch = c->arena + ((p->arena_bytes + 63) & ~(size_t)63),
                  .err = err,
                  .stats = &c->stats};
    for (int i = 0; i < p->nsteps; i++) {
        const mx_step *s = &p->steps[i];
        const mx_val *o0 = s->nout ? s->out[0] : NULL;
        if ((o0 && o0->kind == MX_CONST) || s->dead)
            continue; /* folded at load, or fused into a later step */
        if (((s->def->flags & MX_F_VIEW) || s->view) && s->in_place)
            continue;
        if (s->def->run(&ctx, s)) {
            char where[300];
            return an_error_prefix(err, "%s: function '%s'", mx_place(c, s->op, where, sizeof where),
                                   d->name);
        }
        c->stats.ops_run++;
    }
    for (int o = 0; o < p->n_out; o++)
        p->out_tensors[o].t.data = p->outs[o]->data; /* aliases resolve per call */
    *out = p->out_tensors;
    *n_out = p->n_out;
    return 0;
}
