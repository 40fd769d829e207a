/*
 * ops_shape.c — shape and layout ops (reshape, transpose, squeeze, expand_dims, concat,
 * split, tile, pad, fill, range_1d, band_part, shape) and the state ops
 * (COREML-FORMAT.md §5.6, §5.8). Slicing and gathering are in ops_slice.c.
 */
#include <math.h>
#include <string.h>

#include "mil/exec.h"

static void copy_shape(mx_val *o, const mx_val *x)
{
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
}

static int need_x(const mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0);
    if (!x || mil_dtype_size(x->dt) == 0)
        return mx_op_error(s, err, "needs a numeric tensor input '%s'", s->def->inputs[0]);
    if (s->out[0]->dt == MIL_DT_INVALID)
        s->out[0]->dt = x->dt;
    return 0;
}

void mx_strided_copy(void *dst, const void *src, size_t es, int rank, const int64_t *shape,
                     const int64_t *st)
{
    int64_t total = mil_shape_numel(rank, shape);
    if (total == 0)
        return;
    if (rank == 0) {
        memcpy(dst, src, es);
        return;
    }
    int64_t idx[2 * MIL_MAX_RANK] = {0};
    int64_t inner = shape[rank - 1], is = st[rank - 1];
    const char *s = src;
    char *d = dst;
    int64_t off = 0;
    for (;;) {
        if (is == 1) {
            memcpy(d, s + off * (int64_t)es, (size_t)inner * es);
            d += (size_t)inner * es;
        } else if (es == 2) {
            const uint16_t *p = (const uint16_t *)(const void *)s + off;
            for (int64_t j = 0; j < inner; j++, d += 2)
                memcpy(d, p + j * is, 2);
        } else {
            for (int64_t j = 0; j < inner; j++, d += es)
                memcpy(d, s + (off + j * is) * (int64_t)es, es);
        }
        int dd = rank - 2;
        for (; dd >= 0; dd--) {
            idx[dd]++;
            off += st[dd];
            if (idx[dd] < shape[dd])
                break;
            off -= st[dd] * shape[dd];
            idx[dd] = 0;
        }
        if (dd < 0)
            break;
    }
}

/* ---- views ---- */

static int run_view(mx_ctx *c, const mx_step *s)
{
    (void)c;
    if (s->out[0]->data != s->in[0][0]->data)
        memcpy(s->out[0]->data, s->in[0][0]->data, s->out[0]->nbytes);
    return 0;
}

static int infer_reshape(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    int64_t shp[MIL_MAX_RANK];
    int n = 0;
    if (mx_in(s, 1) && !mx_is_const(mx_in(s, 1))) {
        /* a runtime shape: the declared output shape must be static */
        for (int d = 0; d < o->rank; d++)
            if (o->shape[d] < 0)
                return mx_op_error(s, err, "runtime 'shape' needs a static declared output");
        if (mil_shape_numel(o->rank, o->shape) != x->numel)
            return mx_op_error(s, err, "declared shape does not hold the input's elements");
        return 0;
    }
    if (mx_const_ints(s, 1, shp, MIL_MAX_RANK, &n, err))
        return -1;
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < n; d++) {
        if (shp[d] == 0 && n == x->rank)
            shp[d] = x->shape[d];
        if (shp[d] == -1) {
            if (infer >= 0)
                return mx_op_error(s, err, "more than one -1 in shape");
            infer = d;
        } else if (shp[d] < 0) {
            return mx_op_error(s, err, "negative dimension %lld in shape", (long long)shp[d]);
        } else {
            if (shp[d] && known > ((int64_t)1 << 40) / shp[d])
                return mx_op_error(s, err, "shape too large");
            known *= shp[d];
        }
    }
    if (infer >= 0)
        shp[infer] = known ? x->numel / known : 0;
    if (mil_shape_numel(n, shp) != x->numel)
        return mx_op_error(s, err, "cannot reshape %lld elements", (long long)x->numel);
    o->rank = n;
    memcpy(o->shape, shp, sizeof(int64_t) * (size_t)n);
    return 0;
}

static int infer_squeeze(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    int drop[MIL_MAX_RANK] = {0};
    if (mx_in(s, 1)) {
        int64_t axes[MIL_MAX_RANK];
        int n;
        if (mx_const_ints(s, 1, axes, MIL_MAX_RANK, &n, err))
            return -1;
        for (int i = 0; i < n; i++) {
            int a;
            if (mx_norm_axis(s, axes[i], x->rank, &a, err))
                return -1;
            if (x->shape[a] == 1) /* non-1 axes are ignored, as PyTorch does */
                drop[a] = 1;
        }
    } else {
        for (int d = 0; d < x->rank; d++)
            drop[d] = x->shape[d] == 1;
    }
    o->rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (!drop[d])
            o->shape[o->rank++] = x->shape[d];
    return 0;
}

static int infer_expand_dims(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    int64_t axes[MIL_MAX_RANK];
    int n;
    if (mx_const_ints(s, 1, axes, MIL_MAX_RANK, &n, err))
        return -1;
    int r = x->rank + n;
    if (r > MIL_MAX_RANK)
        return mx_op_error(s, err, "rank %d too large", r);
    int ins[MIL_MAX_RANK] = {0};
    for (int i = 0; i < n; i++) {
        int a;
        if (mx_norm_axis(s, axes[i], r, &a, err))
            return -1;
        if (ins[a])
            return mx_op_error(s, err, "repeated axis %lld", (long long)axes[i]);
        ins[a] = 1;
    }
    int k = 0;
    for (int d = 0; d < r; d++)
        o->shape[d] = ins[d] ? 1 : x->shape[k++];
    o->rank = r;
    return 0;
}

static int infer_identity(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    copy_shape(s->out[0], mx_in(s, 0));
    return 0;
}

/* ---- transpose ---- */

static int infer_transpose(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    int64_t perm[MIL_MAX_RANK];
    int n;
    if (mx_const_ints(s, 1, perm, MIL_MAX_RANK, &n, err))
        return -1;
    if (n != x->rank)
        return mx_op_error(s, err, "perm has %d entries for rank %d", n, x->rank);
    int seen[MIL_MAX_RANK] = {0};
    for (int i = 0; i < n; i++) {
        int a;
        if (mx_norm_axis(s, perm[i], n, &a, err))
            return -1;
        if (seen[a]++)
            return mx_op_error(s, err, "perm repeats axis %d", a);
        s->iaux[i] = a;
        o->shape[i] = x->shape[a];
    }
    o->rank = n;
    /* the elements stay in memory order when the axes longer than 1 keep their order */
    int last = -1;
    s->view = 1;
    for (int i = 0; i < n && s->view; i++)
        if (x->shape[s->iaux[i]] > 1) {
            s->view = (int)s->iaux[i] > last;
            last = (int)s->iaux[i];
        }
    return 0;
}

static int run_transpose(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    int64_t xs[MIL_MAX_RANK], st[MIL_MAX_RANK];
    mx_strides(x->rank, x->shape, xs);
    for (int i = 0; i < o->rank; i++)
        st[i] = xs[s->iaux[i]];
    mx_strided_copy(o->data, x->data, mil_dtype_size(x->dt), o->rank, o->shape, st);
    return 0;
}

/* ---- concat ---- */

static int infer_concat(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    int n = s->nin[0];
    if (n < 1)
        return mx_op_error(s, err, "needs at least one value");
    mx_val *x0 = s->in[0][0], *o = s->out[0];
    int64_t axis;
    int il;
    if (mx_param_int(s, 1, 0, &axis, err) || mx_param_bool(s, 2, 0, &il, err))
        return -1;
    int a;
    if (mx_norm_axis(s, axis, x0->rank, &a, err))
        return -1;
    copy_shape(o, x0);
    o->shape[a] = 0;
    for (int i = 0; i < n; i++) {
        mx_val *v = s->in[0][i];
        if (mil_dtype_size(v->dt) == 0 || v->rank != x0->rank)
            return mx_op_error(s, err, "value %d has another rank or type", i);
        for (int d = 0; d < v->rank; d++)
            if (d != a && v->shape[d] != x0->shape[d])
                return mx_op_error(s, err, "value %d differs in dim %d", i, d);
        if (il && v->shape[a] != x0->shape[a])
            return mx_op_error(s, err, "interleave needs equal shapes");
        o->shape[a] += v->shape[a];
    }
    if (o->dt == MIL_DT_INVALID)
        o->dt = x0->dt;
    s->iaux[0] = a;
    s->iaux[1] = il;
    return 0;
}

static int run_concat(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *o = s->out[0];
    int a = (int)s->iaux[0];
    int64_t outer = mil_shape_numel(a, o->shape);
    int64_t inner = mil_shape_numel(o->rank - a - 1, o->shape + a + 1);
    size_t es = mil_dtype_size(o->dt);
    char *d = o->data;
    if (!s->iaux[1]) {
        for (int64_t i = 0; i < outer; i++)
            for (int k = 0; k < s->nin[0]; k++) {
                const mx_val *v = s->in[0][k];
                int64_t chunk = v->shape[a] * inner;
                mil_convert((const char *)v->data + (size_t)(i * chunk) * mil_dtype_size(v->dt),
                            v->dt, d, o->dt, chunk);
                d += (size_t)chunk * es;
            }
    } else {
        int64_t dim = s->in[0][0]->shape[a];
        for (int64_t i = 0; i < outer; i++)
            for (int64_t j = 0; j < dim; j++)
                for (int k = 0; k < s->nin[0]; k++) {
                    const mx_val *v = s->in[0][k];
                    mil_convert((const char *)v->data +
                                    (size_t)((i * dim + j) * inner) * mil_dtype_size(v->dt),
                                v->dt, d, o->dt, inner);
                    d += (size_t)inner * es;
                }
    }
    return 0;
}

/* ---- split ---- */

static int infer_split(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0);
    int64_t axis;
    if (mx_param_int(s, 3, 0, &axis, err))
        return -1;
    int a;
    if (mx_norm_axis(s, axis, x->rank, &a, err))
        return -1;
    int64_t sizes[64];
    int n = 0;
    if (mx_in(s, 2)) {
        if (mx_const_ints(s, 2, sizes, 64, &n, err))
            return -1;
    } else {
        int64_t ns;
        if (mx_param_int(s, 1, s->nout, &ns, err))
            return -1;
        if (ns <= 0 || ns > 64 || x->shape[a] % ns)
            return mx_op_error(s, err, "cannot split dim %lld into %lld parts",
                               (long long)x->shape[a], (long long)ns);
        n = (int)ns;
        for (int i = 0; i < n; i++)
            sizes[i] = x->shape[a] / ns;
    }
    if (n != s->nout)
        return mx_op_error(s, err, "%d parts but %d outputs", n, s->nout);
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0)
            return mx_op_error(s, err, "negative split size");
        sum += sizes[i];
        mx_val *o = s->out[i];
        copy_shape(o, x);
        o->shape[a] = sizes[i];
        if (o->dt == MIL_DT_INVALID)
            o->dt = x->dt;
    }
    if (sum != x->shape[a])
        return mx_op_error(s, err, "split sizes sum to %lld, not %lld", (long long)sum,
                           (long long)x->shape[a]);
    s->iaux[0] = a;
    return 0;
}

static int run_split(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0];
    int a = (int)s->iaux[0];
    int64_t outer = mil_shape_numel(a, x->shape);
    int64_t inner = mil_shape_numel(x->rank - a - 1, x->shape + a + 1);
    size_t es = mil_dtype_size(x->dt);
    const char *src = x->data;
    for (int64_t i = 0; i < outer; i++)
        for (int k = 0; k < s->nout; k++) {
            const mx_val *o = s->out[k];
            int64_t chunk = o->shape[a] * inner;
            memcpy((char *)o->data + (size_t)(i * chunk) * es, src, (size_t)chunk * es);
            src += (size_t)chunk * es;
        }
    return 0;
}

/* ---- tile ---- */

static int is_float_dt(mil_dtype dt) { return dt == MIL_DT_FP16 || dt == MIL_DT_FP32; }

/* Grouped-query attention repeats the KV heads with tile → reshape → matmul; matmul can
 * read the unrepeated heads instead, so the repeat never needs to be written. A use is
 * fine when it is the y of a float matmul, or (once) a reshape keeping the last two dims
 * whose own uses are all fine. */
typedef struct gqa_use {
    const int64_t *last2;
    int depth;
} gqa_use;

static int is_matmul_y(void *ctx, const mil_function *fn, int j, const char *input)
{
    const gqa_use *g = ctx;
    const mil_op *u = &fn->ops[j];
    if (!strcmp(u->type, "matmul") && !strcmp(input, "y")) {
        int xv = mx_op_value(u, "x");
        return u->n_outputs == 1 && xv >= 0 && is_float_dt(fn->values[u->outputs[0]].type.dtype) &&
               is_float_dt(fn->values[xv].type.dtype);
    }
    if (g->depth == 0 && !strcmp(u->type, "reshape") && !strcmp(input, "x") && u->n_outputs == 1) {
        const mil_type *rt = &fn->values[u->outputs[0]].type;
        gqa_use deeper = {g->last2, 1};
        return rt->rank >= 3 && rt->dims[rt->rank - 2] == g->last2[0] &&
               rt->dims[rt->rank - 1] == g->last2[1] &&
               mx_each_use(fn, j, u->outputs[0], is_matmul_y, &deeper) > 0;
    }
    return 0;
}

static int infer_tile(mx_plan *p, mx_step *s, an_error *err)
{
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    int64_t reps[MIL_MAX_RANK];
    int n;
    if (mx_const_ints(s, 1, reps, MIL_MAX_RANK, &n, err))
        return -1;
    if (n != x->rank)
        return mx_op_error(s, err, "reps has %d entries for rank %d", n, x->rank);
    copy_shape(o, x);
    for (int d = 0; d < n; d++) {
        if (reps[d] < 0)
            return mx_op_error(s, err, "negative reps");
        o->shape[d] *= reps[d];
    }
    /* repeats along size-1 batch axes only, consumed only by matmul: not materialized */
    int lazy = n >= 3 && reps[n - 1] == 1 && reps[n - 2] == 1 && is_float_dt(x->dt) && s->op;
    for (int d = 0; d < n - 2 && lazy; d++)
        lazy = reps[d] == 1 || x->shape[d] == 1;
    gqa_use g = {o->shape + n - 2, 0};
    if (lazy && mx_each_use(p->fn, s->index, s->op->outputs[0], is_matmul_y, &g) > 0) {
        s->view = 1;
        o->tile = s;
    }
    return 0;
}

static int run_tile(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    /* view the output as [r0, d0, r1, d1, ...] and read x with stride 0 on each r */
    int r = x->rank;
    int64_t shp[2 * MIL_MAX_RANK], st[2 * MIL_MAX_RANK], xs[MIL_MAX_RANK];
    mx_strides(r, x->shape, xs);
    for (int d = 0; d < r; d++) {
        shp[2 * d] = x->shape[d] ? o->shape[d] / x->shape[d] : 0;
        shp[2 * d + 1] = x->shape[d];
        st[2 * d] = 0;
        st[2 * d + 1] = xs[d];
    }
    if (r == 0) {
        memcpy(o->data, x->data, o->nbytes);
        return 0;
    }
    /* mx_strided_copy handles up to 2*MIL_MAX_RANK dims through its own odometer */
    mx_strided_copy(o->data, x->data, mil_dtype_size(x->dt), 2 * r, shp, st);
    return 0;
}

/* ---- pad ---- */

static int infer_pad(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    int64_t pad[2 * MIL_MAX_RANK];
    int n;
    if (mx_const_ints(s, 1, pad, 2 * MIL_MAX_RANK, &n, err))
        return -1;
    if (n % 2 || n / 2 > x->rank)
        return mx_op_error(s, err, "pad has %d entries for rank %d", n, x->rank);
    const char *mode = mx_param_str(s, 2, "constant");
    s->iaux[15] = strcmp(mode, "constant") == 0 ? 0 : strcmp(mode, "reflect") == 0 ? 1
                  : strcmp(mode, "replicate") == 0                                 ? 2
                                                                                   : -1;
    if (s->iaux[15] < 0)
        return mx_op_error(s, err, "unknown pad mode '%s'", mode);
    copy_shape(o, x);
    int first = x->rank - n / 2;
    for (int d = 0; d < x->rank; d++) {
        int64_t b = d >= first ? pad[2 * (d - first)] : 0, a = d >= first ? pad[2 * (d - first) + 1] : 0;
        if (b < 0 || a < 0)
            return mx_op_error(s, err, "negative padding");
        if (s->iaux[15] == 1 && (b >= x->shape[d] || a >= x->shape[d]))
            return mx_op_error(s, err, "reflect padding must be smaller than the dim");
        if (s->iaux[15] == 2 && x->shape[d] == 0 && (a || b))
            return mx_op_error(s, err, "cannot replicate an empty dim");
        s->iaux[d] = b;
        o->shape[d] = x->shape[d] + a + b;
    }
    float cv;
    if (mx_param_float(s, 3, 0.0f, &cv, err))
        return -1;
    memcpy(&s->iaux[14], &cv, sizeof cv);
    return 0;
}

static int run_pad(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    float cv;
    memcpy(&cv, &s->iaux[14], sizeof cv);
    int r = o->rank, mode = (int)s->iaux[15];
    int64_t xs[MIL_MAX_RANK], idx[MIL_MAX_RANK] = {0};
    mx_strides(r, x->shape, xs);
    for (int64_t i = 0; i < o->numel; i++) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < r; d++) {
            int64_t j = idx[d] - s->iaux[d], n = x->shape[d];
            if (j < 0 || j >= n) {
                if (mode == 0) {
                    inside = 0;
                    break;
                }
                if (mode == 1)
                    j = j < 0 ? -j : 2 * (n - 1) - j;
                else
                    j = j < 0 ? 0 : n - 1;
            }
            off += j * xs[d];
        }
        mil_st_f32(o->data, o->dt, i, inside ? mil_ld_f32(x->data, x->dt, off) : cv);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < o->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return 0;
}

/* ---- fill, fill_like, range_1d, shape, band_part ---- */

static int infer_fill(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *o = s->out[0];
    if (strcmp(s->def->name, "fill_like") == 0) {
        mx_val *r = mx_in(s, 0);
        if (!r)
            return mx_op_error(s, err, "needs ref_tensor");
        copy_shape(o, r);
    } else if (mx_in(s, 0) && mx_is_const(mx_in(s, 0))) {
        int64_t shp[MIL_MAX_RANK];
        int n;
        if (mx_const_ints(s, 0, shp, MIL_MAX_RANK, &n, err))
            return -1;
        for (int d = 0; d < n; d++)
            if (shp[d] < 0)
                return mx_op_error(s, err, "negative dimension in shape");
        o->rank = n;
        memcpy(o->shape, shp, sizeof(int64_t) * (size_t)n);
    } else {
        for (int d = 0; d < o->rank; d++)
            if (o->shape[d] < 0)
                return mx_op_error(s, err, "a runtime shape needs a static declared output");
    }
    float v;
    if (mx_param_float(s, 1, 0.0f, &v, err))
        return -1;
    memcpy(&s->iaux[0], &v, sizeof v);
    if (o->dt == MIL_DT_INVALID)
        o->dt = mx_in(s, 1) ? mx_in(s, 1)->dt : MIL_DT_FP32;
    return 0;
}

static int run_fill(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *o = s->out[0];
    float v;
    memcpy(&v, &s->iaux[0], sizeof v);
    const mx_val *vv = mx_in(s, 1);
    if (vv && !mil_dtype_is_float(vv->dt)) {
        int64_t iv = mil_ld_i64(vv->data, vv->dt, 0);
        for (int64_t i = 0; i < o->numel; i++)
            mil_st_i64(o->data, o->dt, i, iv);
    } else {
        for (int64_t i = 0; i < o->numel; i++)
            mil_st_f32(o->data, o->dt, i, v);
    }
    return 0;
}

static int infer_range(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *o = s->out[0];
    if (!mx_in(s, 0) || !mx_in(s, 1) || !mx_in(s, 2))
        return mx_op_error(s, err, "needs end, start and step");
    o->rank = 1;
    if (mx_is_const(mx_in(s, 0)) && mx_is_const(mx_in(s, 1)) && mx_is_const(mx_in(s, 2))) {
        double e = mil_ld_f32(mx_in(s, 0)->data, mx_in(s, 0)->dt, 0);
        double b = mil_ld_f32(mx_in(s, 1)->data, mx_in(s, 1)->dt, 0);
        double st = mil_ld_f32(mx_in(s, 2)->data, mx_in(s, 2)->dt, 0);
        if (st == 0)
            return mx_op_error(s, err, "step is zero");
        double n = ceil((e - b) / st);
        if (!(n < 1e9))
            return mx_op_error(s, err, "range too long");
        o->shape[0] = n > 0 ? (int64_t)n : 0;
    } else if (o->shape[0] < 0) {
        return mx_op_error(s, err, "a runtime range needs a static declared output");
    }
    if (o->dt == MIL_DT_INVALID)
        o->dt = mx_in(s, 0)->dt;
    return 0;
}

static int run_range(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *o = s->out[0], *b = mx_in(s, 1), *st = mx_in(s, 2);
    if (mil_dtype_is_float(o->dt)) {
        float b0 = mil_ld_f32(b->data, b->dt, 0), d = mil_ld_f32(st->data, st->dt, 0);
        for (int64_t i = 0; i < o->shape[0]; i++)
            mil_st_f32(o->data, o->dt, i, b0 + (float)i * d);
    } else {
        int64_t b0 = mil_ld_i64(b->data, b->dt, 0), d = mil_ld_i64(st->data, st->dt, 0);
        for (int64_t i = 0; i < o->shape[0]; i++)
            mil_st_i64(o->data, o->dt, i, b0 + i * d);
    }
    return 0;
}

static int infer_shape(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x)
        return mx_op_error(s, err, "needs input x");
    o->rank = 1;
    o->shape[0] = x->rank;
    if (o->dt == MIL_DT_INVALID)
        o->dt = MIL_DT_INT32;
    return 0;
}

static int run_shape(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0];
    for (int d = 0; d < x->rank; d++)
        mil_st_i64(s->out[0]->data, s->out[0]->dt, d, x->shape[d]);
    return 0;
}

static int infer_band(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    if (need_x(s, err))
        return -1;
    mx_val *x = mx_in(s, 0);
    if (x->rank < 2)
        return mx_op_error(s, err, "needs rank >= 2");
    if (mx_param_int(s, 1, -1, &s->iaux[0], err) || mx_param_int(s, 2, -1, &s->iaux[1], err))
        return -1;
    copy_shape(s->out[0], x);
    return 0;
}

static int run_band(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    int64_t M = x->shape[x->rank - 2], N = x->shape[x->rank - 1];
    int64_t lo = s->iaux[0], up = s->iaux[1];
    size_t es = mil_dtype_size(x->dt);
    int64_t batches = (M * N) != 0 ? x->numel / (M * N) : 0;
    memcpy(o->data, x->data, o->nbytes);
    for (int64_t b = 0; b < batches; b++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                if (!((lo < 0 || m - n <= lo) && (up < 0 || n - m <= up)))
                    memset((char *)o->data + (size_t)((b * M + m) * N + n) * es, 0, es);
    return 0;
}

/* ---- states ---- */

static int infer_read_state(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *st = mx_in(s, 0);
    if (!st || !st->is_state_param)
        return mx_op_error(s, err, "input is not a state");
    copy_shape(s->out[0], st);
    s->out[0]->dt = st->dt;
    return 0;
}

static int run_read_state(mx_ctx *c, const mx_step *s)
{
    if (s->in_place)
        return 0;
    memcpy(s->out[0]->data, s->in[0][0]->data, s->out[0]->nbytes);
    c->stats->state_bytes_copied += s->out[0]->nbytes;
    return 0;
}

static int infer_write_state(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *st = mx_in(s, 0), *d = mx_in(s, 1);
    if (!st || !st->is_state_param || !d)
        return mx_op_error(s, err, "needs a state input and data");
    if (d->dt != st->dt || d->rank != st->rank ||
        memcmp(d->shape, st->shape, sizeof(int64_t) * (size_t)st->rank) != 0)
        return mx_op_error(s, err, "data type differs from the state's");
    return 0;
}

static int run_write_state(mx_ctx *c, const mx_step *s)
{
    if (s->in_place)
        return 0;
    memcpy(s->in[0][0]->data, s->in[1][0]->data, s->in[1][0]->nbytes);
    c->stats->state_bytes_copied += s->in[1][0]->nbytes;
    return 0;
}

const mx_opdef mx_ops_shape[] = {
    {"reshape", {"x", "shape", NULL}, infer_reshape, run_view, MX_F_PURE | MX_F_VIEW | MX_F_SAMEDT},
    {"squeeze", {"x", "axes", NULL}, infer_squeeze, run_view, MX_F_PURE | MX_F_VIEW | MX_F_SAMEDT},
    {"expand_dims", {"x", "axes", NULL}, infer_expand_dims, run_view, MX_F_PURE | MX_F_VIEW | MX_F_SAMEDT},
    {"identity", {"x", NULL}, infer_identity, run_view, MX_F_PURE | MX_F_VIEW | MX_F_SAMEDT},
    {"transpose", {"x", "perm", NULL}, infer_transpose, run_transpose, MX_F_PURE | MX_F_SAMEDT},
    {"concat", {"values", "axis", "interleave", NULL}, infer_concat, run_concat, MX_F_PURE},
    {"split", {"x", "num_splits", "split_sizes", "axis", NULL}, infer_split, run_split,
     MX_F_PURE | MX_F_SAMEDT | MX_F_MULTIOUT},
    {"tile", {"x", "reps", NULL}, infer_tile, run_tile, MX_F_PURE | MX_F_SAMEDT},
    {"pad", {"x", "pad", "mode", "constant_val", NULL}, infer_pad, run_pad, MX_F_PURE},
    {"fill", {"shape", "value", NULL}, infer_fill, run_fill, MX_F_PURE},
    {"fill_like", {"ref_tensor", "value", NULL}, infer_fill, run_fill, MX_F_PURE | MX_F_SHAPEONLY},
    {"range_1d", {"end", "start", "step", NULL}, infer_range, run_range, MX_F_PURE},
    {"shape", {"x", NULL}, infer_shape, run_shape, MX_F_PURE | MX_F_SHAPEONLY},
    {"band_part", {"x", "lower", "upper", NULL}, infer_band, run_band, MX_F_PURE | MX_F_SAMEDT},
    {"read_state", {"input", NULL}, infer_read_state, run_read_state, 0},
    {"write_state", {"input", "data", NULL}, infer_write_state, run_write_state, MX_F_NOOUT},
    {NULL, {NULL}, NULL, NULL, 0},
};
