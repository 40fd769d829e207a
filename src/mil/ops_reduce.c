/*
 * ops_reduce.c — reductions, argmax/argmin, softmax and layer_norm (COREML-FORMAT.md
 * §5.5). Accumulation is fp32 (float inputs) or int64 (integer inputs).
 *
 * A reduction over a set of axes is done by viewing x as [outer..., reduced..., ]: the
 * kept axes index the output, the reduced ones are walked with an odometer.
 */
#include <math.h>
#include <string.h>

#include "mil/exec.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP };
static const char *const reduce_names[] = {
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
    "reduce_l1_norm", "reduce_l2_norm", "reduce_sum_square", "reduce_log_sum",
    "reduce_log_sum_exp", NULL,
};

typedef struct red_aux {
    int rank;
    int64_t shape[MIL_MAX_RANK];
    int red[MIL_MAX_RANK];
    int kr;                     /* kept dims */
    int64_t kshape[MIL_MAX_RANK], kstride[MIL_MAX_RANK];
    int rr;                     /* reduced dims */
    int64_t rshape[MIL_MAX_RANK], rstride[MIL_MAX_RANK];
    int64_t count;
    const mx_val *rms;          /* layer_norm fused with its [x, -x] input: x */
} red_aux;

/* red[d] = 1 for each axis named by input 1 (negative axes allowed), or for every
 * axis when the input is absent. */
static int axes_mask(mx_step *s, const mx_val *x, int red[MIL_MAX_RANK], an_error *err)
{
    if (!mx_in(s, 1)) {
        for (int d = 0; d < x->rank; d++)
            red[d] = 1;
        return 0;
    }
    int64_t axes[MIL_MAX_RANK];
    int n;
    if (mx_const_ints(s, 1, axes, MIL_MAX_RANK, &n, err))
        return -1;
    for (int i = 0; i < n; i++) {
        int a;
        if (mx_norm_axis(s, axes[i], x->rank, &a, err))
            return -1;
        red[a] = 1;
    }
    return 0;
}

static int setup_red(mx_plan *p, mx_step *s, const mx_val *x, const int *red, red_aux **out,
                     an_error *err)
{
    red_aux *a = mx_plan_alloc(p, sizeof *a);
    if (!a)
        return an_errorf(err, "out of memory");
    int64_t st[MIL_MAX_RANK];
    mx_strides(x->rank, x->shape, st);
    a->rank = x->rank;
    a->count = 1;
    for (int d = 0; d < x->rank; d++) {
        a->red[d] = red[d];
        if (red[d]) {
            a->rshape[a->rr] = x->shape[d];
            a->rstride[a->rr++] = st[d];
            a->count *= x->shape[d];
        } else {
            a->kshape[a->kr] = x->shape[d];
            a->kstride[a->kr++] = st[d];
        }
    }
    *out = a;
    (void)s;
    return 0;
}

/* Offset of the k-th kept position / reduced position. */
static inline int64_t pos_off(int r, const int64_t *shape, const int64_t *stride, int64_t k)
{
    int64_t off = 0;
    for (int d = r - 1; d >= 0; d--) {
        int64_t i = k % shape[d];
        k /= shape[d];
        off += i * stride[d];
    }
    return off;
}

static int infer_reduce(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x || mil_dtype_size(x->dt) == 0)
        return mx_op_error(s, err, "needs a tensor x");
    int red[MIL_MAX_RANK] = {0};
    int keep;
    if (mx_param_bool(s, 2, 0, &keep, err))
        return -1;
    if (axes_mask(s, x, red, err))
        return -1;
    red_aux *a;
    if (setup_red(p, s, x, red, &a, err))
        return -1;
    s->aux = a;
    s->iaux[0] = 0;
    for (int i = 0; reduce_names[i]; i++)
        if (strcmp(reduce_names[i], s->def->name) == 0)
            s->iaux[0] = i;
    o->rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (!red[d] || keep)
            o->shape[o->rank++] = red[d] ? 1 : x->shape[d];
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    return 0;
}

static int run_reduce(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    const red_aux *a = s->aux;
    int code = (int)s->iaux[0];
    int64_t nk = mil_shape_numel(a->kr, a->kshape);
    int fl = mil_dtype_is_float(x->dt) || code == R_MEAN || code == R_L2 || code >= R_LOGSUM;
    for (int64_t k = 0; k < nk; k++) {
        int64_t base = pos_off(a->kr, a->kshape, a->kstride, k);
        if (fl) {
            float acc = code == R_MAX ? -INFINITY : code == R_MIN ? INFINITY : code == R_PROD ? 1.0f : 0.0f;
            float mx = -INFINITY;
            if (code == R_LOGSUMEXP)
                for (int64_t r = 0; r < a->count; r++) {
                    float v = mil_ld_f32(x->data, x->dt, base + pos_off(a->rr, a->rshape, a->rstride, r));
                    mx = v > mx ? v : mx;
                }
            for (int64_t r = 0; r < a->count; r++) {
                float v = mil_ld_f32(x->data, x->dt, base + pos_off(a->rr, a->rshape, a->rstride, r));
                switch (code) {
                case R_SUM:
                case R_MEAN:
                case R_LOGSUM: acc += v; break;
                case R_MAX: acc = (v > acc || v != v) ? v : acc; break;
                case R_MIN: acc = (v < acc || v != v) ? v : acc; break;
                case R_PROD: acc *= v; break;
                case R_L1: acc += fabsf(v); break;
                case R_L2:
                case R_SUMSQ: acc += v * v; break;
                case R_LOGSUMEXP: acc += expf(v - mx); break;
                }
            }
            if (code == R_MEAN)
                acc = a->count ? acc / (float)a->count : NAN;
            else if (code == R_L2)
                acc = sqrtf(acc);
            else if (code == R_LOGSUM)
                acc = logf(acc);
            else if (code == R_LOGSUMEXP)
                acc = logf(acc) + mx;
            mil_st_f32(o->data, o->dt, k, acc);
        } else {
            int64_t acc = code == R_MAX ? INT64_MIN : code == R_MIN ? INT64_MAX : code == R_PROD ? 1 : 0;
            for (int64_t r = 0; r < a->count; r++) {
                int64_t v = mil_ld_i64(x->data, x->dt, base + pos_off(a->rr, a->rshape, a->rstride, r));
                switch (code) {
                /* integer sums wrap modulo 2^64 rather than trap */
                case R_SUM: acc = (int64_t)((uint64_t)acc + (uint64_t)v); break;
                case R_MAX: acc = v > acc ? v : acc; break;
                case R_MIN: acc = v < acc ? v : acc; break;
                case R_PROD: acc = (int64_t)((uint64_t)acc * (uint64_t)v); break;
                case R_L1: acc = (int64_t)((uint64_t)acc + (v < 0 ? 0 - (uint64_t)v : (uint64_t)v)); break;
                case R_SUMSQ: acc = (int64_t)((uint64_t)acc + (uint64_t)v * (uint64_t)v); break;
                }
            }
            mil_st_i64(o->data, o->dt, k, acc);
        }
    }
    return 0;
}

/* ---- argmax / argmin ---- */

static int infer_arg(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x || mil_dtype_size(x->dt) == 0)
        return mx_op_error(s, err, "needs a tensor x");
    int64_t axis;
    int keep;
    if (mx_param_int(s, 1, -1, &axis, err) || mx_param_bool(s, 2, 0, &keep, err))
        return -1;
    int ax;
    if (mx_norm_axis(s, axis, x->rank, &ax, err))
        return -1;
    int red[MIL_MAX_RANK] = {0};
    red[ax] = 1;
    red_aux *a;
    if (setup_red(p, s, x, red, &a, err))
        return -1;
    s->aux = a;
    s->iaux[0] = strcmp(s->def->name, "reduce_argmin") == 0;
    o->rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (d != ax || keep)
            o->shape[o->rank++] = d == ax ? 1 : x->shape[d];
    if (o->dt == MIL_DT_INVALID)
        o->dt = MIL_DT_INT32;
    return 0;
}

static int run_arg(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    const red_aux *a = s->aux;
    int ismin = (int)s->iaux[0];
    int64_t nk = mil_shape_numel(a->kr, a->kshape), st = a->rstride[0];
    for (int64_t k = 0; k < nk; k++) {
        int64_t base = pos_off(a->kr, a->kshape, a->kstride, k), best = 0;
        if (a->count == 0) {
            mil_st_i64(o->data, o->dt, k, 0);
            continue;
        }
        float bv = mil_ld_f32(x->data, x->dt, base);
        for (int64_t r = 1; r < a->count; r++) {
            float v = mil_ld_f32(x->data, x->dt, base + r * st);
            if (bv != bv)
                break; /* NumPy: the first NaN wins */
            if (v != v || (ismin ? v < bv : v > bv)) {
                bv = v;
                best = r;
            }
        }
        mil_st_i64(o->data, o->dt, k, best);
    }
    return 0;
}

/* ---- softmax ---- */

static int infer_softmax(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x || !mil_dtype_is_float(x->dt))
        return mx_op_error(s, err, "needs a float tensor x");
    int64_t axis;
    if (mx_param_int(s, 1, -1, &axis, err))
        return -1;
    int a;
    if (mx_norm_axis(s, axis, x->rank, &a, err))
        return -1;
    s->iaux[0] = a;
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    /* one row buffer per thread (rows run in parallel when they are contiguous) */
    size_t row = ((size_t)(x->rank ? x->shape[a] : 1) * sizeof(float) + 63) & ~(size_t)63;
    s->iaux[1] = mil_threads();
    s->scratch = row * (size_t)s->iaux[1] + 64;
    return 0;
}

typedef struct softmax_job {
    const mx_val *x, *o;
    int64_t D;
    unsigned char *buf;
    size_t row;
} softmax_job;

static void softmax_rows(void *ctx, size_t i0, size_t i1, int thread)
{
    const softmax_job *j = ctx;
    int64_t D = j->D;
    float *buf = (float *)(j->buf + (size_t)thread * j->row);
    for (size_t i = i0; i < i1; i++) {
        mx_ld_block(j->x->data, j->x->dt, (int64_t)i * D, 1, buf, D);
        mx_softmax_row(buf, D);
        mx_st_block(j->o->data, j->o->dt, (int64_t)i * D, buf, D);
    }
}

static int run_softmax(mx_ctx *c, const mx_step *s)
{
    const mx_val *x = s->in[0][0], *o = s->out[0];
    int a = (int)s->iaux[0];
    int64_t D = x->rank ? x->shape[a] : 1;
    int64_t outer = mil_shape_numel(a, x->shape), inner = mil_shape_numel(x->rank - a - 1, x->shape + a + 1);
    float *buf = c->scratch;
    if (inner == 1) { /* rows are contiguous: in parallel, a buffer per thread */
        softmax_job j = {x, o, D, (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63),
                         ((size_t)D * sizeof(float) + 63) & ~(size_t)63};
        size_t grain = (size_t)(outer / (mil_threads() * 4));
        if (mil_threads() <= s->iaux[1])
            mx_parallel_for((size_t)outer, grain < 1 ? 1 : grain, softmax_rows, &j);
        else /* more threads than at planning: their buffers were not reserved */
            softmax_rows(&j, 0, (size_t)outer, 0);
        return 0;
    }
    for (int64_t i = 0; i < outer; i++)
        for (int64_t k = 0; k < inner; k++) {
            /* a strided row, gathered so that it is computed as the contiguous ones are */
            int64_t base = i * D * inner + k;
            for (int64_t d = 0; d < D; d++)
                buf[d] = mil_ld_f32(x->data, x->dt, base + d * inner);
            mx_softmax_row(buf, D);
            for (int64_t d = 0; d < D; d++)
                mil_st_f32(o->data, o->dt, base + d * inner, buf[d]);
        }
    return 0;
}

/* ---- layer_norm ---- */

/* ANEMLL builds RMSNorm for the Neural Engine as layer_norm over concat([x, -x], -1): the
 * mean is 0 and the variance mean(x²), so the output is [x·r, -x·r], r = 1/√(mean(x²)+ε).
 * When the concat and the negation feed nothing else, they are not run: layer_norm reads
 * x and writes both halves. Returns x's value, or NULL when the pattern is not there. */
static const mx_val *rms_source(mx_plan *p, mx_step *s)
{
    const mil_function *fn = p->fn;
    if (!s->op || mx_in(s, 2) || mx_in(s, 3))
        return NULL;
    int cat = mx_op_value(s->op, "x");
    if (cat < 0 || fn->values[cat].producer < 0)
        return NULL;
    int ci = fn->values[cat].producer;
    const mil_op *c = &fn->ops[ci];
    if (strcmp(c->type, "concat") || mx_sole_use(fn, ci, cat) != s->op)
        return NULL;
    const mil_input *vals = NULL;
    for (int k = 0; k < c->n_inputs; k++)
        if (!strcmp(c->inputs[k].name, "values"))
            vals = &c->inputs[k];
    if (!vals || vals->n_bindings != 2 || vals->bindings[0].value < 0 || vals->bindings[1].value < 0)
        return NULL;
    int xid = vals->bindings[0].value, nid = vals->bindings[1].value;
    int ni = fn->values[nid].producer;
    if (ni < 0 || strcmp(fn->ops[ni].type, "mul") || mx_sole_use(fn, ni, nid) != c)
        return NULL;
    const mil_op *neg = &fn->ops[ni];
    int nx = mx_op_value(neg, "x"), ny = mx_op_value(neg, "y");
    int other = nx == xid ? ny : ny == xid ? nx : -1;
    const mx_step *cs = &p->steps[ci], *ns = &p->steps[ni];
    const mx_val *ov = other == ny ? mx_in(ns, 1) : mx_in(ns, 0);
    if (other == -1 || !mx_is_const(ov) || ov->numel != 1 || mil_ld_f32(ov->data, ov->dt, 0) != -1.0f)
        return NULL;
    /* concat along the last axis, not interleaved, of two equal halves */
    const mx_val *x = p->vals[xid], *cv = cs->out[0];
    int64_t axis = 0, inter = 0;
    an_error e;
    if (!cs->def || mx_param_int(cs, 1, 0, &axis, &e) || mx_param_int(cs, 2, 0, &inter, &e) ||
        inter || (axis != -1 && axis != cv->rank - 1) || x->rank != cv->rank ||
        cv->shape[cv->rank - 1] != 2 * x->shape[x->rank - 1] || x->dt != cv->dt)
        return NULL;
    p->steps[ci].dead = 1;
    p->steps[ni].dead = 1;
    /* x is now read here: keep its storage alive until this step */
    mx_val *xv = p->vals[xid], *r = xv->kind == MX_ALIAS ? p->vals[xv->root] : xv;
    if (xv->last < s->index)
        xv->last = s->index;
    if (r->last < s->index)
        r->last = s->index;
    return xv;
}

static int infer_layer_norm(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *o = s->out[0], *g = mx_in(s, 2), *b = mx_in(s, 3);
    if (!x || !mil_dtype_is_float(x->dt))
        return mx_op_error(s, err, "needs a float tensor x");
    int red[MIL_MAX_RANK] = {0};
    if (axes_mask(s, x, red, err))
        return -1;
    red_aux *a;
    if (setup_red(p, s, x, red, &a, err))
        return -1;
    s->aux = a;
    if ((g && g->numel != a->count) || (b && b->numel != a->count))
        return mx_op_error(s, err, "gamma/beta must have %lld elements", (long long)a->count);
    float eps;
    if (mx_param_float(s, 4, 1e-5f, &eps, err))
        return -1;
    memcpy(&s->iaux[0], &eps, sizeof eps);
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    /* a row buffer per thread: the fused RMSNorm runs its rows in parallel */
    s->iaux[1] = mil_threads();
    s->scratch = (((size_t)(a->count + 1) * sizeof(float) + 63) & ~(size_t)63) * (size_t)s->iaux[1] + 64;
    int last_only = a->rr == 1 && red[x->rank - 1];
    a->rms = last_only ? rms_source(p, s) : NULL;
    return 0;
}

typedef struct rms_job {
    const red_aux *a;
    const mx_val *o;
    float eps;
    unsigned char *buf;
    size_t row;
} rms_job;

/* Rows [k0, k1) of the fused RMSNorm: [x·r, -x·r] with r = 1/sqrt(mean(x²) + eps). */
static void rms_rows(void *ctx, size_t k0, size_t k1, int thread)
{
    const rms_job *j = ctx;
    const red_aux *a = j->a;
    int64_t n = a->count, H = n / 2;
    float *buf = (float *)(j->buf + (size_t)thread * j->row);
    for (size_t k = k0; k < k1; k++) {
        int64_t base = pos_off(a->kr, a->kshape, a->kstride, (int64_t)k);
        mx_ld_block(a->rms->data, a->rms->dt, base / 2, 1, buf, H);
        float ss = 0;
        for (int64_t r = 0; r < H; r++)
            ss += buf[r] * buf[r];
        float inv = 1.0f / sqrtf(ss / (float)(n ? n : 1) * 2.0f + j->eps);
        for (int64_t r = 0; r < H; r++) {
            buf[r] *= inv;
            buf[H + r] = -buf[r];
        }
        mx_st_block(j->o->data, j->o->dt, base, buf, n);
    }
}

static int run_layer_norm(mx_ctx *c, const mx_step *s)
{
    const mx_val *x = s->in[0][0], *o = s->out[0], *g = mx_in(s, 2), *b = mx_in(s, 3);
    const red_aux *a = s->aux;
    float eps;
    memcpy(&eps, &s->iaux[0], sizeof eps);
    float *buf = c->scratch;
    int64_t nk = mil_shape_numel(a->kr, a->kshape), n = a->count;
    if (a->rms) { /* fused RMSNorm: rows of H = n/2 elements of x, in parallel */
        rms_job j = {a, o, eps, (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63),
                     ((size_t)(n + 1) * sizeof(float) + 63) & ~(size_t)63};
        size_t grain = (size_t)(nk / (mil_threads() * 4));
        if (mil_threads() <= s->iaux[1])
            mx_parallel_for((size_t)nk, grain < 1 ? 1 : grain, rms_rows, &j);
        else /* more threads than at planning: their buffers were not reserved */
            rms_rows(&j, 0, (size_t)nk, 0);
        return 0;
    }
    int contiguous = 1; /* the normalized positions are one run of n elements */
    int64_t run = 1;
    for (int d = a->rr - 1; d >= 0 && contiguous; d--) {
        contiguous = a->rshape[d] == 1 || a->rstride[d] == run;
        run *= a->rshape[d];
    }
    if (contiguous) {
        float gb[256], bb[256];
        for (int64_t k = 0; k < nk; k++) {
            int64_t base = pos_off(a->kr, a->kshape, a->kstride, k);
            mx_ld_block(x->data, x->dt, base, 1, buf, n);
            float mean = 0, var = 0;
            for (int64_t r = 0; r < n; r++)
                mean += buf[r];
            mean /= (float)(n ? n : 1);
            for (int64_t r = 0; r < n; r++)
                var += (buf[r] - mean) * (buf[r] - mean);
            var /= (float)(n ? n : 1);
            float inv = 1.0f / sqrtf(var + eps);
            for (int64_t r0 = 0; r0 < n; r0 += 256) {
                int64_t m = n - r0 < 256 ? n - r0 : 256;
                float *y = buf + r0;
                for (int64_t r = 0; r < m; r++)
                    y[r] = (y[r] - mean) * inv;
                if (g) {
                    mx_ld_block(g->data, g->dt, r0, 1, gb, m);
                    for (int64_t r = 0; r < m; r++)
                        y[r] *= gb[r];
                }
                if (b) {
                    mx_ld_block(b->data, b->dt, r0, 1, bb, m);
                    for (int64_t r = 0; r < m; r++)
                        y[r] += bb[r];
                }
            }
            mx_st_block(o->data, o->dt, base, buf, n);
        }
        return 0;
    }
    for (int64_t k = 0; k < nk; k++) {
        int64_t base = pos_off(a->kr, a->kshape, a->kstride, k);
        float mean = 0, var = 0;
        for (int64_t r = 0; r < n; r++) {
            buf[r] = mil_ld_f32(x->data, x->dt, base + pos_off(a->rr, a->rshape, a->rstride, r));
            mean += buf[r];
        }
        mean /= (float)(n ? n : 1);
        for (int64_t r = 0; r < n; r++)
            var += (buf[r] - mean) * (buf[r] - mean);
        var /= (float)(n ? n : 1);
        float inv = 1.0f / sqrtf(var + eps);
        for (int64_t r = 0; r < n; r++) {
            float y = (buf[r] - mean) * inv;
            if (g)
                y *= mil_ld_f32(g->data, g->dt, r);
            if (b)
                y += mil_ld_f32(b->data, b->dt, r);
            mil_st_f32(o->data, o->dt, base + pos_off(a->rr, a->rshape, a->rstride, r), y);
        }
    }
    return 0;
}

#define RED(n) {n, {"x", "axes", "keep_dims", NULL}, infer_reduce, run_reduce, MX_F_PURE}

const mx_opdef mx_ops_reduce[] = {
    RED("reduce_sum"), RED("reduce_mean"), RED("reduce_max"), RED("reduce_min"),
    RED("reduce_prod"), RED("reduce_l1_norm"), RED("reduce_l2_norm"), RED("reduce_sum_square"),
    RED("reduce_log_sum"), RED("reduce_log_sum_exp"),
    {"reduce_argmax", {"x", "axis", "keep_dims", "output_dtype", NULL}, infer_arg, run_arg, MX_F_PURE},
    {"reduce_argmin", {"x", "axis", "keep_dims", "output_dtype", NULL}, infer_arg, run_arg, MX_F_PURE},
    {"softmax", {"x", "axis", NULL}, infer_softmax, run_softmax, MX_F_PURE},
    {"layer_norm", {"x", "axes", "gamma", "beta", "epsilon", NULL}, infer_layer_norm,
     run_layer_norm, MX_F_PURE},
    {NULL, {NULL}, NULL, NULL, 0},
};
