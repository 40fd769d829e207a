/*
 * plan.c — plan one function for one set of input shapes.
 *
 * Walks the ops in SSA order once: resolves every input to an mx_val, infers static
 * output shapes, folds ops whose inputs are all constant (const, constexpr_*, and any
 * pure op over constants), turns reshape-like ops into aliases, decides which values may
 * share the storage of a state (read_state aliases, slice_update in place), then assigns
 * arena offsets to the remaining buffers by liveness (first fit).
 *
 * State aliasing rule: a value aliasing state S stays valid only while nothing writes S.
 * slice_update on an S alias runs in place only when no other S alias is live after it;
 * a write_state whose data is an S alias is a no-op; any other write_state while an S
 * alias is live is a conflict, and planning is redone with the earlier read_state ops of
 * S copying instead of aliasing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mil/exec.h"

/* Refuse absurd shapes from a model file rather than trying to allocate them. */
size_t mx_value_limit = (size_t)1 << 33;
size_t mx_memory_limit = (size_t)1 << 35;
#define MX_MAX_VALUE_BYTES mx_value_limit

void *mx_plan_alloc(mx_plan *p, size_t n) { return an_arena_alloc(&p->comp->mem, n); }

int mx_is_const(const mx_val *v) { return v && v->kind == MX_CONST; }

static const char *place(const mil_component *c, const mil_op *op, char *buf, size_t n)
{
    const char *src = c->prog && c->prog->source ? c->prog->source : "model";
    if (!op)
        snprintf(buf, n, "%s", src);
    else if (op->line > 0)
        snprintf(buf, n, "%s:%d:%d", src, op->line, op->col);
    else
        snprintf(buf, n, "%s@%llu", src, (unsigned long long)op->offset);
    return buf;
}

static int vop_error(const mil_component *c, const mil_function *fn, const mil_op *op,
                     an_error *err, const char *fmt, va_list ap)
{
    char msg[600], where[300];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return an_errorf(err, "%s: function '%s' (%s): op '%s'%s%s%s: %s",
                     place(c, op, where, sizeof where), fn ? fn->name : "?",
                     fn && fn->opset ? fn->opset : "?", op ? op->type : "?",
                     op && op->name ? " '" : "", op && op->name ? op->name : "",
                     op && op->name ? "'" : "", msg);
}

static int vop_error_(const mil_component *c, const mil_function *fn, const mil_op *op,
                     an_error *err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int vop_error_(const mil_component *c, const mil_function *fn, const mil_op *op,
                     an_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vop_error(c, fn, op, err, fmt, ap);
    va_end(ap);
    return -1;
}

int mx_op_error(const mx_step *s, an_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!s->op)
        return an_errorf(err, "output copy: %s", msg);
    return an_errorf(err, "op '%s'%s%s%s: %s", s->op->type, s->op->name ? " '" : "",
                     s->op->name ? s->op->name : "", s->op->name ? "'" : "", msg);
}

const char *mx_place(const mil_component *c, const mil_op *op, char *buf, size_t n)
{
    return place(c, op, buf, n);
}

/* ---- parameters ---- */

static int need_const(const mx_step *s, int k, an_error *err)
{
    mx_val *v = mx_in(s, k);
    if (!mx_is_const(v))
        return mx_op_error(s, err, "input '%s' must be a constant", s->def->inputs[k]);
    if (mil_dtype_size(v->dt) == 0)
        return mx_op_error(s, err, "input '%s' has a non-numeric type", s->def->inputs[k]);
    return 0;
}

int mx_const_ints(const mx_step *s, int k, int64_t *out, int max, int *n, an_error *err)
{
    if (need_const(s, k, err))
        return -1;
    mx_val *v = mx_in(s, k);
    if (v->numel > max)
        return mx_op_error(s, err, "input '%s' has %lld elements (at most %d)",
                           s->def->inputs[k], (long long)v->numel, max);
    for (int64_t i = 0; i < v->numel; i++)
        out[i] = mil_ld_i64(v->data, v->dt, i);
    *n = (int)v->numel;
    return 0;
}

int mx_param_int(const mx_step *s, int k, int64_t def, int64_t *out, an_error *err)
{
    if (!mx_in(s, k)) {
        *out = def;
        return 0;
    }
    int64_t buf[1];
    int n = 0;
    if (mx_const_ints(s, k, buf, 1, &n, err))
        return -1;
    if (n != 1)
        return mx_op_error(s, err, "input '%s' must be a scalar", s->def->inputs[k]);
    *out = buf[0];
    return 0;
}

int mx_param_bool(const mx_step *s, int k, int def, int *out, an_error *err)
{
    int64_t v = 0;
    if (mx_param_int(s, k, def, &v, err))
        return -1;
    *out = v != 0;
    return 0;
}

int mx_param_float(const mx_step *s, int k, float def, float *out, an_error *err)
{
    mx_val *v = mx_in(s, k);
    if (!v) {
        *out = def;
        return 0;
    }
    if (need_const(s, k, err))
        return -1;
    if (v->numel != 1)
        return mx_op_error(s, err, "input '%s' must be a scalar", s->def->inputs[k]);
    *out = mil_ld_f32(v->data, v->dt, 0);
    return 0;
}

const char *mx_param_str(const mx_step *s, int k, const char *def)
{
    mx_val *v = mx_in(s, k);
    if (!v || v->kind != MX_CONST || v->dt != MIL_DT_STRING || v->numel != 1 || !v->data)
        return def;
    const char *const *strs = v->data;
    return strs[0] ? strs[0] : def;
}

int mx_norm_axis(const mx_step *s, int64_t axis, int rank, int *out, an_error *err)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return mx_op_error(s, err, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)a;
    return 0;
}

void mx_strides(int rank, const int64_t *shape, int64_t *st)
{
    int64_t m = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = m;
        m *= shape[i];
    }
}

int mx_broadcast(const mx_step *s, int ra, const int64_t *a, int rb, const int64_t *b, int *ro,
                 int64_t *o, an_error *err)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return mx_op_error(s, err, "shapes do not broadcast (dim %d: %lld vs %lld)", i,
                               (long long)da, (long long)db);
        o[i] = da == 1 ? db : da;
    }
    *ro = r;
    return 0;
}

void mx_bcast_strides(int r, const int64_t *shape, int ro, const int64_t *oshape, int64_t *st)
{
    int64_t own[MIL_MAX_RANK];
    mx_strides(r, shape, own);
    for (int i = 0; i < ro; i++) {
        int j = i - (ro - r);
        st[i] = (j < 0 || (shape[j] == 1 && oshape[i] != 1)) ? 0 : own[j];
        if (j >= 0 && shape[j] == 1)
            st[i] = 0;
    }
}

int mx_each_use(const mil_function *fn, int i, int id, mx_use_fn ok, void *ctx)
{
    int uses = 0;
    for (int o = 0; o < fn->n_outputs; o++)
        if (fn->outputs[o] == id)
            return -1;
    for (int j = i + 1; j < fn->n_ops; j++)
        for (int k = 0; k < fn->ops[j].n_inputs; k++)
            for (int b = 0; b < fn->ops[j].inputs[k].n_bindings; b++)
                if (fn->ops[j].inputs[k].bindings[b].value == id) {
                    if (!ok(ctx, fn, j, fn->ops[j].inputs[k].name))
                        return -1;
                    uses++;
                }
    return uses;
}

static int remember_use(void *ctx, const mil_function *fn, int j, const char *input)
{
    (void)input;
    *(const mil_op **)ctx = &fn->ops[j];
    return 1;
}

const mil_op *mx_sole_use(const mil_function *fn, int i, int id)
{
    const mil_op *use = NULL;
    return mx_each_use(fn, i, id, remember_use, &use) == 1 ? use : NULL;
}

/* The value bound to input `name` of op (one binding), or -1 (-2 for a literal). */
int mx_op_value(const mil_op *op, const char *name)
{
    for (int k = 0; k < op->n_inputs; k++)
        if (!strcmp(op->inputs[k].name, name) && op->inputs[k].n_bindings == 1)
            return op->inputs[k].bindings[0].value >= 0 ? op->inputs[k].bindings[0].value : -2;
    return -1;
}

/* ---- planning ---- */

static mx_val *new_val(mx_plan *p)
{
    if (p->nvals >= p->cap_vals)
        return NULL;
    mx_val *v = an_arena_alloc_aligned(&p->comp->mem, sizeof *v, 16);
    if (!v)
        return NULL;
    v->id = p->nvals;
    v->root = v->id;
    v->def = v->last = -1;
    v->read_op = -1;
    v->state = -1;
    v->input = -1;
    p->vals[p->nvals++] = v;
    return v;
}

/* Element count and byte size; -1 when a dim is negative or the size is absurd (the
 * product is checked before it could overflow). */
static int set_size(mx_val *v)
{
    uint64_t n = 1;
    for (int d = 0; d < v->rank; d++) {
        if (v->shape[d] < 0)
            return -1;
        if (v->shape[d] && n > (MX_MAX_VALUE_BYTES / (uint64_t)v->shape[d]))
            return -1;
        n *= (uint64_t)v->shape[d];
    }
    v->numel = (int64_t)n;
    int bits = mx_dtype_bits(v->dt);
    if (v->dt == MIL_DT_STRING)
        v->nbytes = (size_t)v->numel * sizeof(char *);
    else
        v->nbytes = (size_t)(((uint64_t)v->numel * (uint64_t)bits + 7) / 8);
    return v->nbytes > MX_MAX_VALUE_BYTES ? -1 : 0;
}

static mx_val *root_of(mx_plan *p, mx_val *v) { return v->kind == MX_ALIAS ? p->vals[v->root] : v; }

static int literal_val(mx_plan *p, const mil_literal *lit, const mil_op *op, mx_val **out,
                       an_error *err)
{
    mil_component *c = p->comp;
    if (lit->kind != MIL_LIT_TENSOR && lit->kind != MIL_LIT_BLOB)
        return vop_error_(c, p->fn, op, err, "a tuple/list/dict literal is not supported here");
    mx_val *v = new_val(p);
    if (!v)
        return an_errorf(err, "out of memory");
    v->kind = MX_CONST;
    v->dt = lit->type.dtype;
    v->rank = lit->type.rank < 0 ? 0 : lit->type.rank;
    for (int i = 0; i < v->rank; i++)
        v->shape[i] = lit->type.dims[i];
    if (set_size(v))
        return vop_error_(c, p->fn, op, err, "literal has an unusable shape");
    const void *data = NULL;
    size_t nbytes = 0;
    if (mx_literal_data(c, lit, &data, &nbytes, err)) {
        char where[300];
        return an_error_prefix(err, "%s: function '%s'", place(c, op, where, sizeof where),
                               p->fn->name);
    }
    if (nbytes < v->nbytes)
        return vop_error_(c, p->fn, op, err, "literal holds fewer bytes than its type says");
    v->data = (void *)data;
    *out = v;
    return 0;
}

static int find_input_slot(const mx_opdef *d, const char *name)
{
    for (int k = 0; k < MX_MAXIN && d->inputs[k]; k++)
        if (strcmp(d->inputs[k], name) == 0)
            return k;
    return -1;
}

static int fold_step(mx_plan *p, mx_step *s, an_error *err);

/* Whether the first op after op i that uses state value sid is a write_state: only then
 * may op i update that state in place (no read in between may see the change early, and
 * the state must end up written, not silently modified). */
static int next_state_use_writes(const mil_function *fn, int i, int sid)
{
    for (int j = i + 1; j < fn->n_ops; j++) {
        const mil_op *op = &fn->ops[j];
        for (int k = 0; k < op->n_inputs; k++)
            for (int b = 0; b < op->inputs[k].n_bindings; b++)
                if (op->inputs[k].bindings[b].value == sid)
                    return strcmp(op->type, "write_state") == 0;
    }
    return 0;
}

static const mx_opdef copy_def; /* defined below: output copies */

static int plan_once(mil_component *c, mx_plan *p, an_error *err, int *conflict_op)
{
    const mil_function *fn = p->fn;
    *conflict_op = -1;
    int n_lit = 0;
    for (int i = 0; i < fn->n_ops; i++)
    {
        for (int k = 0; k < fn->ops[i].n_inputs; k++)
            n_lit += fn->ops[i].inputs[k].n_bindings;
        n_lit += fn->ops[i].n_attrs; /* iOS16 constexpr operands */
    }
    p->cap_vals = fn->n_values + n_lit + fn->n_outputs + 1;
    p->nvals = 0;
    p->vals = an_arena_calloc(&c->mem, (size_t)p->cap_vals, sizeof *p->vals);
    p->steps = an_arena_calloc(&c->mem, (size_t)fn->n_ops + (size_t)fn->n_outputs + 1,
                               sizeof *p->steps);
    if (!p->vals || !p->steps)
        return an_errorf(err, "out of memory");
    for (int i = 0; i < fn->n_values; i++) {
        mx_val *v = new_val(p);
        const mil_value *mv = &fn->values[i];
        v->def = mv->producer;
        v->kind = MX_ARENA;
        if (mv->type.kind == MIL_TYPE_TENSOR) {
            v->dt = mv->type.dtype;
            v->rank = mv->type.rank < 0 ? 0 : mv->type.rank;
            for (int d = 0; d < v->rank; d++)
                v->shape[d] = mv->type.dims[d];
        }
    }
    /* last uses from the IR (aliases extend their root's life later) */
    for (int i = 0; i < fn->n_ops; i++)
        for (int k = 0; k < fn->ops[i].n_inputs; k++)
            for (int b = 0; b < fn->ops[i].inputs[k].n_bindings; b++) {
                int id = fn->ops[i].inputs[k].bindings[b].value;
                if (id >= 0 && id < fn->n_values)
                    p->vals[id]->last = i;
            }
    for (int o = 0; o < fn->n_outputs; o++)
        p->vals[fn->outputs[o]]->last = fn->n_ops;
    /* parameters */
    int k_in = 0, k_st = 0;
    p->n_states = 0;
    for (int i = 0; i < fn->n_params; i++)
        if (fn->values[fn->params[i].value].type.kind == MIL_TYPE_STATE)
            p->n_states++;
    p->state_params = an_arena_calloc(&c->mem, (size_t)p->n_states + 1, sizeof(int));
    if (!p->state_params)
        return an_errorf(err, "out of memory");
    for (int i = 0; i < fn->n_params; i++) {
        mx_val *v = p->vals[fn->params[i].value];
        const mil_type *t = &fn->values[fn->params[i].value].type;
        if (t->kind == MIL_TYPE_STATE) {
            const mil_type *e = t->elem;
            v->kind = MX_STATE;
            v->is_state_param = 1;
            v->state = k_st;
            p->state_params[k_st++] = v->id;
            v->dt = e ? e->dtype : MIL_DT_INVALID;
            v->rank = e && e->rank > 0 ? e->rank : 0;
            for (int d = 0; d < v->rank; d++)
                v->shape[d] = e->dims[d];
            v->last = -1; /* alias life is tracked in `last` for state roots */
            for (int d = 0; d < v->rank; d++)
                if (v->shape[d] < 0)
                    return an_errorf(err, "%s: function '%s': state '%s' has a dynamic shape",
                                     c->prog->source, fn->name, fn->values[v->id].name);
        } else {
            v->kind = MX_INPUT;
            v->input = k_in;
            v->rank = p->in_ranks[k_in];
            memcpy(v->shape, p->in_shapes[k_in], sizeof v->shape);
            k_in++;
        }
        if (set_size(v))
            return an_errorf(err, "%s: function '%s': parameter '%s' has an unusable shape",
                             c->prog->source, fn->name, fn->values[v->id].name);
    }

    p->nsteps = 0;
    p->scratch_bytes = 0;
    for (int i = 0; i < fn->n_ops; i++) {
        const mil_op *op = &fn->ops[i];
        mx_step *s = &p->steps[p->nsteps++];
        s->op = op;
        s->index = i;
        s->def = mx_find_op(op->type);
        if (!s->def)
            return vop_error_(c, fn, op, err, "unknown op (not supported by this engine)");
        if (op->n_blocks > 0)
            return vop_error_(c, fn, op, err, "nested blocks are not supported");
        int want_out = (s->def->flags & MX_F_NOOUT) ? 0 : 1;
        if ((s->def->flags & MX_F_MULTIOUT) ? op->n_outputs < 1 : op->n_outputs != want_out)
            return vop_error_(c, fn, op, err, "has %d outputs, expected %d", op->n_outputs, want_out);
        for (int k = 0; k < op->n_inputs; k++) {
            const mil_input *in = &op->inputs[k];
            int slot = find_input_slot(s->def, in->name);
            if (slot < 0)
                return vop_error_(c, fn, op, err, "unexpected input '%s'", in->name);
            s->nin[slot] = in->n_bindings;
            s->in[slot] = an_arena_calloc(&c->mem, (size_t)in->n_bindings + 1, sizeof(mx_val *));
            if (!s->in[slot])
                return an_errorf(err, "out of memory");
            for (int b = 0; b < in->n_bindings; b++) {
                const mil_binding *bd = &in->bindings[b];
                if (bd->value >= 0) {
                    s->in[slot][b] = p->vals[bd->value];
                } else if (bd->literal) {
                    if (literal_val(p, bd->literal, op, &s->in[slot][b], err))
                        return -1;
                } else {
                    return vop_error_(c, fn, op, err, "input '%s' is empty", in->name);
                }
            }
        }
        /* iOS16 constexpr ops carry their operands as attributes */
        for (int k = 0; k < op->n_attrs; k++) {
            int slot = find_input_slot(s->def, op->attrs[k].name);
            if (slot < 0 || s->nin[slot] > 0 || !op->attrs[k].value)
                continue;
            s->nin[slot] = 1;
            s->in[slot] = an_arena_calloc(&c->mem, 2, sizeof(mx_val *));
            if (!s->in[slot])
                return an_errorf(err, "out of memory");
            if (literal_val(p, op->attrs[k].value, op, &s->in[slot][0], err))
                return -1;
        }
        s->nout = op->n_outputs;
        s->out = an_arena_calloc(&c->mem, (size_t)op->n_outputs + 1, sizeof(mx_val *));
        if (!s->out)
            return an_errorf(err, "out of memory");
        int declared_rank[8];
        int64_t declared[8][MIL_MAX_RANK];
        for (int o = 0; o < op->n_outputs; o++) {
            s->out[o] = p->vals[op->outputs[o]];
            s->out[o]->def = i;
            if (o < 8) {
                declared_rank[o] = fn->values[op->outputs[o]].type.rank;
                memcpy(declared[o], fn->values[op->outputs[o]].type.dims, sizeof declared[o]);
            }
        }
        /* inputs that must be tensors: states only for the state ops */
        for (int k = 0; k < MX_MAXIN; k++)
            for (int b = 0; b < s->nin[k]; b++)
                if (s->in[k][b]->is_state_param && strcmp(op->type, "read_state") != 0 &&
                    strcmp(op->type, "write_state") != 0)
                    return vop_error_(c, fn, op, err, "a state can only be read or written");
        if (s->def->infer(p, s, err)) {
            char where[300];
            an_error_prefix(err, "%s: function '%s' (%s)", place(c, op, where, sizeof where),
                            fn->name, fn->opset ? fn->opset : "?");
            return -1;
        }
        for (int o = 0; o < s->nout; o++) {
            mx_val *v = s->out[o];
            if ((s->def->flags & MX_F_SAMEDT) && mx_in(s, 0) && v->dt != mx_in(s, 0)->dt)
                return vop_error_(c, fn, op, err, "declared output dtype %s differs from the input's %s",
                                  mil_dtype_name(v->dt), mil_dtype_name(mx_in(s, 0)->dt));
            if (!(s->def->flags & MX_F_LITERAL) && strncmp(op->type, "constexpr_", 10) != 0 &&
                mil_dtype_size(v->dt) == 0)
                return vop_error_(c, fn, op, err, "output type %s is not a runtime tensor type",
                                  mil_dtype_name(v->dt));
            if (set_size(v))
                return vop_error_(c, fn, op, err, "output shape is negative or too large");
            if (o < 8 && declared_rank[o] >= 0) {
                int bad = declared_rank[o] != v->rank;
                for (int d = 0; !bad && d < v->rank; d++)
                    bad = declared[o][d] >= 0 && declared[o][d] != v->shape[d];
                if (bad) {
                    char a[160], b2[160];
                    mil_shape_str(v->dt, v->rank, v->shape, a, sizeof a);
                    mil_shape_str(v->dt, declared_rank[o], declared[o], b2, sizeof b2);
                    return vop_error_(c, fn, op, err, "computed output shape %s differs from the declared %s",
                                     a, b2);
                }
            }
        }
        if (s->scratch > p->scratch_bytes)
            p->scratch_bytes = s->scratch;

        /* storage decisions */
        int all_const = 1;
        for (int k = 0; k < MX_MAXIN; k++)
            for (int b = 0; b < s->nin[k]; b++)
                if (s->in[k][b]->kind != MX_CONST &&
                    !(k == 0 && (s->def->flags & MX_F_SHAPEONLY)))
                    all_const = 0;
        int is_view = (s->def->flags & MX_F_VIEW) != 0 || s->view;
        if (s->def->flags & MX_F_LITERAL) {
            /* bound by infer */
        } else if (is_view && mx_in(s, 0) && mx_in(s, 0)->kind == MX_CONST) {
            if (!s->out[0]->tile)
                s->out[0]->tile = mx_in(s, 0)->tile;
            s->out[0]->kind = MX_CONST;
            s->out[0]->data = (char *)mx_in(s, 0)->data + s->view_off;
            s->in_place = 1;
        } else if ((s->def->flags & MX_F_PURE) && all_const) {
            if (fold_step(p, s, err))
                return -1;
        } else if (is_view) {
            mx_val *r = root_of(p, mx_in(s, 0));
            if (!s->out[0]->tile)
                s->out[0]->tile = mx_in(s, 0)->tile;
            s->out[0]->kind = MX_ALIAS;
            s->out[0]->root = r->id;
            s->out[0]->alias_off = (mx_in(s, 0)->kind == MX_ALIAS ? mx_in(s, 0)->alias_off : 0) +
                                   s->view_off;
            s->out[0]->read_op = mx_in(s, 0)->read_op;
            if (s->out[0]->last > r->last)
                r->last = s->out[0]->last;
            s->in_place = 1;
        } else if (strcmp(op->type, "read_state") == 0) {
            mx_val *st = mx_in(s, 0);
            if (!st || !st->is_state_param)
                return vop_error_(c, fn, op, err, "input is not a state");
            if (p->force_copy && p->force_copy[i]) {
                s->out[0]->kind = MX_ARENA;
            } else {
                s->out[0]->kind = MX_ALIAS;
                s->out[0]->root = st->id;
                s->out[0]->read_op = i;
                if (s->out[0]->last > st->last)
                    st->last = s->out[0]->last;
                s->in_place = 1;
            }
        } else if (strcmp(op->type, "write_state") == 0) {
            mx_val *st = mx_in(s, 0), *data = mx_in(s, 1);
            if (!st || !st->is_state_param)
                return vop_error_(c, fn, op, err, "input is not a state");
            if (data->kind == MX_ALIAS && data->root == st->id && data->alias_off == 0 &&
                data->nbytes == st->nbytes) {
                s->in_place = 1; /* the data already lives in the state */
            } else if (st->last > i || (data->kind == MX_ALIAS && data->root == st->id)) {
                *conflict_op = i; /* an alias of this state is still live */
                return 0;
            }
        } else if (strcmp(op->type, "slice_update") == 0) {
            mx_val *x = mx_in(s, 0);
            mx_val *r = root_of(p, x);
            int ok = (r->kind == MX_ARENA || (r->is_state_param && next_state_use_writes(fn, i, r->id))) &&
                     r->last <= i && x->last <= i;
            if (ok) {
                s->in_place = 1;
                s->out[0]->kind = MX_ALIAS;
                s->out[0]->root = r->id;
                s->out[0]->alias_off = x->kind == MX_ALIAS ? x->alias_off : 0;
                s->out[0]->read_op = x->read_op;
                if (s->out[0]->last > r->last)
                    r->last = s->out[0]->last;
            } else {
                s->out[0]->kind = MX_ARENA;
            }
        } else {
            for (int o = 0; o < s->nout; o++)
                s->out[o]->kind = MX_ARENA;
        }
        for (int o = 0; o < s->nout; o++)
            if (s->out[o]->kind == MX_ARENA && s->out[o]->last < i)
                s->out[o]->last = i; /* unused outputs still need their own buffer */
    }

    /* outputs: each must own an arena buffer the caller can read after the call */
    p->n_out = fn->n_outputs;
    p->outs = an_arena_calloc(&c->mem, (size_t)fn->n_outputs + 1, sizeof(mx_val *));
    p->out_tensors = an_arena_calloc(&c->mem, (size_t)fn->n_outputs + 1, sizeof(mil_named_tensor));
    if (!p->outs || !p->out_tensors)
        return an_errorf(err, "out of memory");
    for (int o = 0; o < fn->n_outputs; o++) {
        mx_val *v = p->vals[fn->outputs[o]];
        mx_val *r = root_of(p, v);
        if (r->kind != MX_ARENA) {
            mx_step *s = &p->steps[p->nsteps++];
            mx_val *nv = new_val(p);
            if (!nv)
                return an_errorf(err, "out of memory");
            nv->dt = v->dt;
            nv->rank = v->rank;
            memcpy(nv->shape, v->shape, sizeof nv->shape);
            (void)set_size(nv); /* same shape as v, already checked */
            nv->kind = MX_ARENA;
            nv->def = nv->last = fn->n_ops;
            s->def = &copy_def;
            s->index = fn->n_ops;
            s->nin[0] = 1;
            s->in[0] = an_arena_calloc(&c->mem, 1, sizeof(mx_val *));
            s->out = an_arena_calloc(&c->mem, 1, sizeof(mx_val *));
            if (!s->in[0] || !s->out)
                return an_errorf(err, "out of memory");
            s->in[0][0] = v;
            s->out[0] = nv;
            s->nout = 1;
            if (v->last < fn->n_ops)
                v->last = fn->n_ops;
            v = nv;
        }
        p->outs[o] = v;
        p->out_tensors[o].name = fn->values[fn->outputs[o]].name;
        p->out_tensors[o].t.dtype = v->dt;
        p->out_tensors[o].t.rank = v->rank;
        memcpy(p->out_tensors[o].t.shape, v->shape, sizeof v->shape);
    }

    /* arena offsets: first fit over live intervals [def, last] of ARENA roots */
    int n = 0;
    mx_val **roots = an_arena_calloc(&c->mem, (size_t)p->nvals + 1, sizeof(mx_val *));
    if (!roots)
        return an_errorf(err, "out of memory");
    for (int i = 0; i < p->nvals; i++)
        if (p->vals[i]->kind == MX_ARENA)
            roots[n++] = p->vals[i];
    /* by definition order (params never are ARENA); stable insertion sort */
    for (int i = 1; i < n; i++) {
        mx_val *t = roots[i];
        int j = i - 1;
        while (j >= 0 && roots[j]->def > t->def) {
            roots[j + 1] = roots[j];
            j--;
        }
        roots[j + 1] = t;
    }
    size_t top = 0;
    for (int i = 0; i < n; i++) {
        mx_val *v = roots[i];
        size_t need = (v->nbytes + 63) & ~(size_t)63;
        if (need == 0)
            need = 64;
        int64_t off = 0;
        for (int again = 1; again;) {
            again = 0;
            for (int j = 0; j < i; j++) {
                mx_val *u = roots[j];
                if (u->last < v->def)
                    continue; /* dead before v is born */
                size_t un = (u->nbytes + 63) & ~(size_t)63;
                if (un == 0)
                    un = 64;
                if (off < u->off + (int64_t)un && u->off < off + (int64_t)need) {
                    off = u->off + (int64_t)un;
                    again = 1;
                }
            }
        }
        v->off = off;
        if ((size_t)off + need > top)
            top = (size_t)off + need;
    }
    p->arena_bytes = top;
    return 0;
}

static int fold_step(mx_plan *p, mx_step *s, an_error *err)
{
    mil_component *c = p->comp;
    if (mx_fold_lookup(c, s)) {
        /* a packed weight shared with another function that uses it differently */
        if (s->out[0] && s->out[0]->kw && !s->out[0]->data &&
            !mx_lut_packable(p, s) && mx_materialize(c, s->out[0], err))
            return -1;
        return 0;
    }
    int packed = mx_lut_pack(p, s, err);
    if (packed < 0)
        return -1;
    if (packed) {
        mx_fold_remember(c, s);
        return 0;
    }
    for (int o = 0; o < s->nout; o++) {
        mx_val *v = s->out[o];
        c->folded_bytes += v->nbytes;
        if (c->folded_bytes > mx_memory_limit)
            return vop_error_(c, p->fn, s->op, err, "folded constants exceed %zu bytes", mx_memory_limit);
        v->kind = MX_CONST;
        v->data = an_arena_alloc_aligned(&c->mem, v->nbytes ? v->nbytes : 1, 64);
        if (!v->data)
            return an_errorf(err, "out of memory folding constants");
    }
    void *scratch = NULL;
    if (s->scratch) {
        scratch = malloc(s->scratch);
        if (!scratch)
            return an_errorf(err, "out of memory folding constants");
    }
    mx_ctx ctx = {.comp = c, .plan = p, .scratch = scratch, .err = err, .stats = &c->stats};
    int rc = s->def->run(&ctx, s);
    free(scratch);
    if (rc) {
        char where[300];
        return an_error_prefix(err, "%s: function '%s'", place(c, s->op, where, sizeof where),
                               p->fn->name);
    }
    mx_fold_remember(c, s);
    return 0;
}

static int infer_copy(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p, (void)s, (void)err;
    return 0;
}

static int run_copy(mx_ctx *c, const mx_step *s)
{
    (void)c;
    memcpy(s->out[0]->data, s->in[0][0]->data, s->out[0]->nbytes);
    return 0;
}

static const mx_opdef copy_def = {"(output copy)", {"x", NULL}, infer_copy, run_copy, 0};

static const mil_input *op_input(const mil_op *op, const char *name)
{
    for (int k = 0; k < op->n_inputs; k++)
        if (strcmp(op->inputs[k].name, name) == 0)
            return &op->inputs[k];
    return NULL;
}

int mx_plan_function(mil_component *c, int fn_index, const int64_t (*shapes)[MIL_MAX_RANK],
                     const int *ranks, mx_plan **out, an_error *err)
{
    const mil_function *fn = &c->prog->functions[fn_index];
    mx_plan *p = an_arena_alloc(&c->mem, sizeof *p);
    if (!p)
        return an_errorf(err, "out of memory");
    p->fn = fn;
    p->fn_index = fn_index;
    p->comp = c;
    int n_in = c->fns[fn_index].n_inputs;
    p->n_in = n_in;
    p->in_shapes = an_arena_calloc(&c->mem, (size_t)n_in + 1, sizeof *p->in_shapes);
    p->in_ranks = an_arena_calloc(&c->mem, (size_t)n_in + 1, sizeof(int));
    p->force_copy = an_arena_calloc(&c->mem, (size_t)fn->n_ops + 1, 1);
    if (!p->in_shapes || !p->in_ranks || !p->force_copy)
        return an_errorf(err, "out of memory");
    for (int i = 0; i < n_in; i++) {
        p->in_ranks[i] = ranks[i];
        memcpy(p->in_shapes[i], shapes[i], sizeof p->in_shapes[i]);
    }
    for (int attempt = 0;; attempt++) {
        int conflict = -1;
        if (plan_once(c, p, err, &conflict))
            return -1;
        if (conflict < 0)
            break;
        /* copy every earlier read of the conflicting state and plan again */
        const mil_op *wop = &fn->ops[conflict];
        const mil_input *win = op_input(wop, "input");
        int sid = win && win->n_bindings ? win->bindings[0].value : -2;
        int changed = 0;
        for (int i = 0; i < conflict; i++) {
            if (strcmp(fn->ops[i].type, "read_state") != 0 || p->force_copy[i])
                continue;
            const mil_input *rin = op_input(&fn->ops[i], "input");
            if (rin && rin->n_bindings && rin->bindings[0].value == sid) {
                p->force_copy[i] = 1;
                changed = 1;
            }
        }
        if (!changed || attempt > fn->n_ops)
            return vop_error_(c, fn, wop, err, "cannot order the state writes safely");
    }
    p->next = c->plans;
    c->plans = p;
    *out = p;
    return 0;
}
