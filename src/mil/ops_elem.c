/*
 * ops_elem.c — elementwise ops: binary arithmetic and comparisons with NumPy
 * broadcasting, logical ops, select, unary math, clip, cast (COREML-FORMAT.md §5.2–5.3).
 * Float math is done in fp32 and rounded once on store; integer math in int64.
 */
#include <math.h>
#include <string.h>

#include "mil/exec.h"

enum {
    B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW, B_FLOORDIV, B_MOD,
    B_EQ, B_NE, B_GT, B_GE, B_LT, B_LE, B_AND, B_OR, B_XOR,
};

static const char *const binary_names[] = {
    "add", "sub", "mul", "real_div", "maximum", "minimum", "pow", "floor_div", "mod",
    "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "logical_and", "logical_or", "logical_xor", NULL,
};

static int name_code(const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static int need_runtime_dtype(const mx_step *s, const mx_val *v, an_error *err)
{
    if (!v || mil_dtype_size(v->dt) == 0)
        return mx_op_error(s, err, "an input has no numeric tensor type");
    return 0;
}

static int infer_binary(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *y = mx_in(s, 1), *o = s->out[0];
    if (!x || !y)
        return mx_op_error(s, err, "needs inputs x and y");
    if (need_runtime_dtype(s, x, err) || need_runtime_dtype(s, y, err))
        return -1;
    s->iaux[0] = name_code(binary_names, s->def->name);
    if (mx_broadcast(s, x->rank, x->shape, y->rank, y->shape, &o->rank, o->shape, err))
        return -1;
    if (o->dt == MIL_DT_INVALID)
        o->dt = s->iaux[0] >= B_EQ ? MIL_DT_BOOL : x->dt;
    return 0;
}

/* Iterate an output of rank r with up to three broadcast operands: calls BODY with
 * offsets ia, ib, ic (element indices) and io (output index). */
#define BCAST_LOOP(r, oshape, sa, sb, sc, ...)                                               \
    do {                                                                                     \
        int64_t idx_[MIL_MAX_RANK] = {0};                                                    \
        int64_t ia = 0, ib = 0, ic = 0, io = 0;                                              \
        int64_t inner_ = (r) > 0 ? (oshape)[(r)-1] : 1;                                      \
        int64_t ra_ = (r) > 0 ? (sa)[(r)-1] : 0, rb_ = (r) > 0 ? (sb)[(r)-1] : 0;            \
        int64_t rc_ = (r) > 0 ? (sc)[(r)-1] : 0;                                             \
        int64_t total_ = mil_shape_numel((r), (oshape));                                     \
        if (total_ == 0)                                                                     \
            break;                                                                           \
        for (;;) {                                                                           \
            int64_t a0_ = ia, b0_ = ib, c0_ = ic;                                            \
            for (int64_t j_ = 0; j_ < inner_; j_++) {                                        \
                __VA_ARGS__;                                                                     \
                ia += ra_;                                                                   \
                ib += rb_;                                                                   \
                ic += rc_;                                                                   \
                io++;                                                                        \
            }                                                                                \
            ia = a0_, ib = b0_, ic = c0_;                                                    \
            int d_ = (r)-2;                                                                  \
            for (; d_ >= 0; d_--) {                                                          \
                idx_[d_]++;                                                                  \
                ia += (sa)[d_], ib += (sb)[d_], ic += (sc)[d_];                              \
                if (idx_[d_] < (oshape)[d_])                                                 \
                    break;                                                                   \
                ia -= (sa)[d_] * (oshape)[d_], ib -= (sb)[d_] * (oshape)[d_];                \
                ic -= (sc)[d_] * (oshape)[d_];                                               \
                idx_[d_] = 0;                                                                \
            }                                                                                \
            if (d_ < 0)                                                                      \
                break;                                                                       \
        }                                                                                    \
    } while (0)

static inline float fmaxnan(float a, float b) { return (a != a || b != b) ? NAN : (a > b ? a : b); }
static inline float fminnan(float a, float b) { return (a != a || b != b) ? NAN : (a < b ? a : b); }

static inline int64_t ifloordiv(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    if (b == -1)
        return (int64_t)(0 - (uint64_t)a); /* INT64_MIN / -1 wraps instead of trapping */
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static inline int64_t ipow(int64_t a, int64_t b)
{
    if (b < 0)
        return a == 1 ? 1 : (a == -1 ? (b & 1 ? -1 : 1) : 0);
    uint64_t r = 1, x = (uint64_t)a; /* wraps modulo 2^64, never traps */
    while (b) {
        if (b & 1)
            r *= x;
        x *= x;
        b >>= 1;
    }
    return (int64_t)r;
}

/* ---- blocks of elements as fp32 ---- */

#define BLK 256

void mx_ld_block(const void *d, mil_dtype dt, int64_t off, int64_t stride, float *dst, int64_t n)
{
    if (stride == 0) {
        float v = mil_ld_f32(d, dt, off);
        for (int64_t i = 0; i < n; i++)
            dst[i] = v;
    } else if (dt == MIL_DT_FP16) {
        an_fp16_to_fp32_n((const uint16_t *)d + off, dst, (size_t)n);
    } else if (dt == MIL_DT_FP32) {
        memcpy(dst, (const float *)d + off, sizeof(float) * (size_t)n);
    } else {
        for (int64_t i = 0; i < n; i++)
            dst[i] = mil_ld_f32(d, dt, off + i);
    }
}

void mx_st_block(void *d, mil_dtype dt, int64_t off, const float *src, int64_t n)
{
    if (dt == MIL_DT_FP16)
        an_fp32_to_fp16_n(src, (uint16_t *)d + off, (size_t)n);
    else if (dt == MIL_DT_FP32)
        memcpy((float *)d + off, src, sizeof(float) * (size_t)n);
    else
        for (int64_t i = 0; i < n; i++)
            mil_st_f32(d, dt, off + i, src[i]);
}

static int fp_dt(mil_dtype dt) { return dt == MIL_DT_FP16 || dt == MIL_DT_FP32; }

/* Outputs from which element-wise arithmetic runs on the engine's threads. */
#define PAR_MIN 16384

typedef struct bin_job {
    const mx_step *s;
    int n, code;
    int64_t shp[MIL_MAX_RANK], a[MIL_MAX_RANK], b[MIL_MAX_RANK];
    int64_t L, as, bs, nblk;
} bin_job;

/* Items [i0, i1): item i is block i % nblk of the innermost run (row) i / nblk. Each is
 * independent, so any split gives the same bytes. */
static void bin_items(void *ctx, size_t i0, size_t i1, int thread)
{
    (void)thread;
    const bin_job *j = ctx;
    const mx_val *x = j->s->in[0][0], *y = j->s->in[1][0], *o = j->s->out[0];
    float bx[BLK], by[BLK];
    for (size_t i = i0; i < i1; i++) {
        int64_t row = (int64_t)i / j->nblk, c0 = ((int64_t)i % j->nblk) * BLK, ia = 0, ib = 0, r = row;
        for (int d = j->n - 2; d >= 0; d--) {
            int64_t k = r % j->shp[d];
            r /= j->shp[d];
            ia += k * j->a[d], ib += k * j->b[d];
        }
        int64_t m = j->L - c0 < BLK ? j->L - c0 : BLK;
        mx_ld_block(x->data, x->dt, ia + c0 * j->as, j->as, bx, m);
        mx_ld_block(y->data, y->dt, ib + c0 * j->bs, j->bs, by, m);
        switch (j->code) {
        case B_ADD: for (int64_t e = 0; e < m; e++) bx[e] += by[e]; break;
        case B_SUB: for (int64_t e = 0; e < m; e++) bx[e] -= by[e]; break;
        case B_MUL: for (int64_t e = 0; e < m; e++) bx[e] *= by[e]; break;
        case B_DIV: for (int64_t e = 0; e < m; e++) bx[e] /= by[e]; break;
        case B_MAX: for (int64_t e = 0; e < m; e++) bx[e] = fmaxnan(bx[e], by[e]); break;
        case B_MIN: for (int64_t e = 0; e < m; e++) bx[e] = fminnan(bx[e], by[e]); break;
        }
        mx_st_block(o->data, o->dt, row * j->L + c0, bx, m);
    }
}

/* Arithmetic on fp16/fp32 operands, a row of blocks at a time: the broadcast dims are
 * collapsed so that the innermost run is contiguous (or one repeated element) in both
 * operands; large outputs are split over the threads. 1 when done, 0 when the layout
 * does not allow it. */
static int binary_blocks(const mx_step *s, const int64_t *sa, const int64_t *sb, int code)
{
    const mx_val *x = s->in[0][0], *y = s->in[1][0], *o = s->out[0];
    if (!fp_dt(x->dt) || !fp_dt(y->dt) || !fp_dt(o->dt) || code > B_MIN)
        return 0;
    int64_t shp[MIL_MAX_RANK], a[MIL_MAX_RANK], b[MIL_MAX_RANK];
    int n = 0;
    for (int d = 0; d < o->rank; d++) {
        if (o->shape[d] == 1)
            continue;
        if (n > 0 && a[n - 1] == sa[d] * o->shape[d] && b[n - 1] == sb[d] * o->shape[d]) {
            shp[n - 1] *= o->shape[d];
            a[n - 1] = sa[d], b[n - 1] = sb[d];
        } else {
            shp[n] = o->shape[d], a[n] = sa[d], b[n] = sb[d];
            n++;
        }
    }
    if (n == 0)
        shp[0] = 1, a[0] = b[0] = 0, n = 1;
    int64_t L = shp[n - 1], as = a[n - 1], bs = b[n - 1];
    if ((as != 0 && as != 1) || (bs != 0 && bs != 1))
        return 0;
    bin_job j = {.s = s, .n = n, .L = L, .as = as, .bs = bs, .code = code, .nblk = (L + BLK - 1) / BLK};
    memcpy(j.shp, shp, sizeof shp);
    memcpy(j.a, a, sizeof a);
    memcpy(j.b, b, sizeof b);
    size_t items = (size_t)((L ? o->numel / L : 0) * j.nblk);
    if (o->numel >= PAR_MIN && mil_threads() > 1) {
        size_t grain = items / ((size_t)mil_threads() * 4);
        mx_parallel_for(items, grain < 1 ? 1 : grain, bin_items, &j);
    } else {
        bin_items(&j, 0, items, 0);
    }
    return 1;
}

static int run_binary(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *y = s->in[1][0], *o = s->out[0];
    int64_t sa[MIL_MAX_RANK], sb[MIL_MAX_RANK], sc[MIL_MAX_RANK] = {0};
    mx_bcast_strides(x->rank, x->shape, o->rank, o->shape, sa);
    mx_bcast_strides(y->rank, y->shape, o->rank, o->shape, sb);
    const void *xd = x->data, *yd = y->data;
    void *od = o->data;
    mil_dtype xt = x->dt, yt = y->dt, ot = o->dt;
    int code = (int)s->iaux[0];
    int fl = mil_dtype_is_float(xt) || mil_dtype_is_float(yt) ||
             (code < B_EQ && mil_dtype_is_float(ot));
    if (fl && binary_blocks(s, sa, sb, code))
        return 0;
    if (fl) {
#define FB(EXPR)                                                                             \
    BCAST_LOOP(o->rank, o->shape, sa, sb, sc, {                                              \
        float a = mil_ld_f32(xd, xt, ia), b = mil_ld_f32(yd, yt, ib);                        \
        (void)ic;                                                                            \
        mil_st_f32(od, ot, io, (EXPR));                                                      \
    })
        switch (code) {
        case B_ADD: FB(a + b); break;
        case B_SUB: FB(a - b); break;
        case B_MUL: FB(a * b); break;
        case B_DIV: FB(a / b); break;
        case B_MAX: FB(fmaxnan(a, b)); break;
        case B_MIN: FB(fminnan(a, b)); break;
        case B_POW: FB(powf(a, b)); break;
        case B_FLOORDIV: FB(floorf(a / b)); break;
        case B_MOD: FB(b == 0.0f ? NAN : a - floorf(a / b) * b); break;
        case B_EQ: FB(a == b); break;
        case B_NE: FB(a != b); break;
        case B_GT: FB(a > b); break;
        case B_GE: FB(a >= b); break;
        case B_LT: FB(a < b); break;
        case B_LE: FB(a <= b); break;
        case B_AND: FB(a != 0 && b != 0); break;
        case B_OR: FB(a != 0 || b != 0); break;
        case B_XOR: FB((a != 0) != (b != 0)); break;
        }
#undef FB
    } else {
#define IB(EXPR)                                                                             \
    BCAST_LOOP(o->rank, o->shape, sa, sb, sc, {                                              \
        int64_t a = mil_ld_i64(xd, xt, ia), b = mil_ld_i64(yd, yt, ib);                      \
        (void)ic;                                                                            \
        mil_st_i64(od, ot, io, (EXPR));                                                      \
    })
        switch (code) {
        case B_ADD: IB((int64_t)((uint64_t)a + (uint64_t)b)); break;
        case B_SUB: IB((int64_t)((uint64_t)a - (uint64_t)b)); break;
        case B_MUL: IB((int64_t)((uint64_t)a * (uint64_t)b)); break;
        case B_DIV: IB(b == 0 ? 0 : b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b); break;
        case B_MAX: IB(a > b ? a : b); break;
        case B_MIN: IB(a < b ? a : b); break;
        case B_POW: IB(ipow(a, b)); break;
        case B_FLOORDIV: IB(ifloordiv(a, b)); break;
        case B_MOD: IB(b == 0 || b == -1 ? 0 : a - ifloordiv(a, b) * b); break;
        case B_EQ: IB(a == b); break;
        case B_NE: IB(a != b); break;
        case B_GT: IB(a > b); break;
        case B_GE: IB(a >= b); break;
        case B_LT: IB(a < b); break;
        case B_LE: IB(a <= b); break;
        case B_AND: IB(a != 0 && b != 0); break;
        case B_OR: IB(a != 0 || b != 0); break;
        case B_XOR: IB((a != 0) != (b != 0)); break;
        }
#undef IB
    }
    return 0;
}

/* ---- select ---- */

static int infer_select(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *cnd = mx_in(s, 0), *a = mx_in(s, 1), *b = mx_in(s, 2), *o = s->out[0];
    if (!cnd || !a || !b)
        return mx_op_error(s, err, "needs cond, a and b");
    if (need_runtime_dtype(s, cnd, err) || need_runtime_dtype(s, a, err) ||
        need_runtime_dtype(s, b, err))
        return -1;
    int r1;
    int64_t s1[MIL_MAX_RANK];
    if (mx_broadcast(s, cnd->rank, cnd->shape, a->rank, a->shape, &r1, s1, err) ||
        mx_broadcast(s, r1, s1, b->rank, b->shape, &o->rank, o->shape, err))
        return -1;
    if (o->dt == MIL_DT_INVALID)
        o->dt = a->dt;
    return 0;
}

static int run_select(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *cnd = s->in[0][0], *a = s->in[1][0], *b = s->in[2][0], *o = s->out[0];
    int64_t sc[MIL_MAX_RANK], sa[MIL_MAX_RANK], sb[MIL_MAX_RANK];
    mx_bcast_strides(cnd->rank, cnd->shape, o->rank, o->shape, sc);
    mx_bcast_strides(a->rank, a->shape, o->rank, o->shape, sa);
    mx_bcast_strides(b->rank, b->shape, o->rank, o->shape, sb);
    size_t es = mil_dtype_size(o->dt);
    const void *cd = cnd->data;
    mil_dtype ct = cnd->dt;
    if (a->dt == o->dt && b->dt == o->dt) {
        const char *ad = a->data, *bd = b->data;
        char *od = o->data;
        BCAST_LOOP(o->rank, o->shape, sc, sa, sb, {
            int t = mil_dtype_is_float(ct) ? mil_ld_f32(cd, ct, ia) != 0.0f
                                           : mil_ld_i64(cd, ct, ia) != 0;
            memcpy(od + (size_t)io * es, t ? ad + (size_t)ib * es : bd + (size_t)ic * es, es);
        });
    } else {
        BCAST_LOOP(o->rank, o->shape, sc, sa, sb, {
            int t = mil_dtype_is_float(ct) ? mil_ld_f32(cd, ct, ia) != 0.0f
                                           : mil_ld_i64(cd, ct, ia) != 0;
            mil_st_f32(o->data, o->dt, io,
                       t ? mil_ld_f32(a->data, a->dt, ib) : mil_ld_f32(b->data, b->dt, ic));
        });
    }
    return 0;
}

/* ---- unary ---- */

enum {
    U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_SIGMOID, U_SILU, U_TANH, U_GELU, U_RELU, U_CLIP,
    U_ERF, U_SIN, U_COS, U_FLOOR, U_CEIL, U_ROUND, U_SIGN, U_SQUARE, U_INVERSE, U_RELU6,
    U_SOFTPLUS, U_SOFTSIGN, U_EXP2, U_LEAKY, U_ELU, U_NOT, U_TAN, U_ASIN, U_ACOS, U_ATAN,
    U_SINH, U_COSH, U_THRESHOLD,
};

static const char *const unary_names[] = {
    "exp", "log", "sqrt", "rsqrt", "abs", "sigmoid", "silu", "tanh", "gelu", "relu", "clip",
    "erf", "sin", "cos", "floor", "ceil", "round", "sign", "square", "inverse", "relu6",
    "softplus", "softsign", "exp2", "leaky_relu", "elu", "logical_not", "tan", "asin", "acos",
    "atan", "sinh", "cosh", "threshold", NULL,
};

typedef struct unary_aux {
    float eps, alpha, beta;
    int gelu_mode; /* 0 exact, 1 tanh, 2 sigmoid */
} unary_aux;

static int infer_unary(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x)
        return mx_op_error(s, err, "needs input x");
    if (need_runtime_dtype(s, x, err))
        return -1;
    int code = name_code(unary_names, s->def->name);
    s->iaux[0] = code;
    unary_aux *ax = mx_plan_alloc(p, sizeof *ax);
    if (!ax)
        return an_errorf(err, "out of memory");
    s->aux = ax;
    float def_eps = code == U_RSQRT ? 1e-12f : code == U_INVERSE ? 1e-4f : 1e-45f;
    ax->eps = def_eps;
    if ((code == U_RSQRT || code == U_INVERSE || code == U_LOG) &&
        mx_param_float(s, 1, def_eps, &ax->eps, err))
        return -1;
    if (code == U_CLIP) {
        if (mx_param_float(s, 1, 0, &ax->alpha, err) || mx_param_float(s, 2, 0, &ax->beta, err))
            return -1;
    } else if (code == U_LEAKY || code == U_ELU || code == U_THRESHOLD) {
        if (mx_param_float(s, 1, code == U_LEAKY ? 0.01f : 1.0f, &ax->alpha, err))
            return -1;
    } else if (code == U_GELU) {
        const char *m = mx_param_str(s, 1, "EXACT");
        if (strcmp(m, "EXACT") == 0)
            ax->gelu_mode = 0;
        else if (strcmp(m, "TANH_APPROXIMATION") == 0)
            ax->gelu_mode = 1;
        else if (strcmp(m, "SIGMOID_APPROXIMATION") == 0)
            ax->gelu_mode = 2;
        else
            return mx_op_error(s, err, "unknown gelu mode '%s'", m);
    }
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
    if (o->dt == MIL_DT_INVALID)
        o->dt = code == U_NOT ? MIL_DT_BOOL : x->dt;
    return 0;
}

static inline float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

static void unary_blocks(void *ctx, size_t b0, size_t b1, int thread);

static int run_unary(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    const void *xd = x->data;
    void *od = o->data;
    mil_dtype xt = x->dt, ot = o->dt;
    int64_t n = o->numel;
    int code = (int)s->iaux[0];
    if (!mil_dtype_is_float(xt) && (code == U_ABS || code == U_SIGN || code == U_SQUARE ||
                                    code == U_NOT || code == U_RELU)) {
        for (int64_t i = 0; i < n; i++) {
            int64_t a = mil_ld_i64(xd, xt, i), r = 0;
            switch (code) {
            case U_ABS: r = a < 0 ? -a : a; break;
            case U_SIGN: r = (a > 0) - (a < 0); break;
            case U_SQUARE: r = a * a; break;
            case U_NOT: r = !a; break;
            case U_RELU: r = a > 0 ? a : 0; break;
            }
            mil_st_i64(od, ot, i, r);
        }
        return 0;
    }
    if (n >= PAR_MIN && mil_threads() > 1) {
        size_t blocks = (size_t)((n + BLK - 1) / BLK), grain = blocks / ((size_t)mil_threads() * 4);
        mx_parallel_for(blocks, grain < 1 ? 1 : grain, unary_blocks, (void *)s);
    } else {
        unary_blocks((void *)s, 0, (size_t)((n + BLK - 1) / BLK), 0);
    }
    return 0;
}

/* Float unary ops on blocks [b0, b1) of BLK elements: independent, so any split of the
 * blocks over threads gives the same bytes. exp, sigmoid and SiLU take their exp from the
 * vector exp (mx_exp_n) a block at a time. */
static void unary_blocks(void *ctx, size_t b0, size_t b1, int thread)
{
    (void)thread;
    const mx_step *s = ctx;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    const unary_aux *ax = s->aux;
    const void *xd = x->data;
    void *od = o->data;
    mil_dtype xt = x->dt, ot = o->dt;
    int64_t n = o->numel, e0 = (int64_t)b0 * BLK, e1 = (int64_t)b1 * BLK < n ? (int64_t)b1 * BLK : n;
    int code = (int)s->iaux[0];
    float blk[BLK], ex[BLK];
    if (code == U_EXP || code == U_SIGMOID || code == U_SILU) {
        for (int64_t i0 = e0; i0 < e1; i0 += BLK) {
            int64_t m = e1 - i0 < BLK ? e1 - i0 : BLK;
            mx_ld_block(xd, xt, i0, 1, blk, m);
            if (code == U_EXP) {
                mx_exp_n(blk, blk, m);
            } else {
                for (int64_t j = 0; j < m; j++)
                    ex[j] = -blk[j];
                mx_exp_n(ex, ex, m);
                for (int64_t j = 0; j < m; j++)
                    blk[j] = (code == U_SILU ? blk[j] : 1.0f) / (1.0f + ex[j]);
            }
            mx_st_block(od, ot, i0, blk, m);
        }
        return;
    }
#define UL(EXPR)                                                                             \
    for (int64_t i0 = e0; i0 < e1; i0 += BLK) {                                             \
        int64_t m_ = e1 - i0 < BLK ? e1 - i0 : BLK;                                         \
        mx_ld_block(xd, xt, i0, 1, blk, m_);                                                    \
        for (int64_t j_ = 0; j_ < m_; j_++) {                                                \
            float a = blk[j_];                                                               \
            blk[j_] = (EXPR);                                                                \
        }                                                                                    \
        mx_st_block(od, ot, i0, blk, m_);                                                       \
    }                                                                                        \
    break
    switch (code) {
    case U_EXP: UL(expf(a));
    case U_LOG: UL(logf(a + ax->eps));
    case U_SQRT: UL(sqrtf(a));
    case U_RSQRT: UL(1.0f / sqrtf(a + ax->eps));
    case U_ABS: UL(fabsf(a));
    case U_SIGMOID: UL(sigm(a));
    case U_SILU: UL(a * sigm(a));
    case U_TANH: UL(tanhf(a));
    case U_GELU:
        if (ax->gelu_mode == 0) {
            UL(0.5f * a * (1.0f + erff(a * 0.70710678118654752f)));
        } else if (ax->gelu_mode == 1) {
            UL(0.5f * a * (1.0f + tanhf(0.7978845608028654f * (a + 0.044715f * a * a * a))));
        } else {
            UL(a * sigm(1.702f * a));
        }
    case U_RELU: UL(a > 0 ? a : (a != a ? a : 0.0f));
    case U_CLIP: UL(fminf(fmaxf(a, ax->alpha), ax->beta));
    case U_ERF: UL(erff(a));
    case U_SIN: UL(sinf(a));
    case U_COS: UL(cosf(a));
    case U_FLOOR: UL(floorf(a));
    case U_CEIL: UL(ceilf(a));
    case U_ROUND: UL(nearbyintf(a));
    case U_SIGN: UL(a > 0 ? 1.0f : a < 0 ? -1.0f : a);
    case U_SQUARE: UL(a * a);
    case U_INVERSE: UL(1.0f / (a + ax->eps));
    case U_RELU6: UL(fminf(fmaxf(a, 0.0f), 6.0f));
    case U_SOFTPLUS: UL(a > 20.0f ? a : log1pf(expf(a)));
    case U_SOFTSIGN: UL(a / (1.0f + fabsf(a)));
    case U_EXP2: UL(exp2f(a));
    case U_LEAKY: UL(a >= 0 ? a : ax->alpha * a);
    case U_ELU: UL(a > 0 ? a : ax->alpha * (expf(a) - 1.0f));
    case U_NOT: UL(a == 0.0f);
    case U_TAN: UL(tanf(a));
    case U_ASIN: UL(asinf(a));
    case U_ACOS: UL(acosf(a));
    case U_ATAN: UL(atanf(a));
    case U_SINH: UL(sinhf(a));
    case U_COSH: UL(coshf(a));
    case U_THRESHOLD: UL(fmaxf(a, ax->alpha));
    }
#undef UL
}

/* ---- cast ---- */

static int infer_cast(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x || need_runtime_dtype(s, x, err))
        return x ? -1 : mx_op_error(s, err, "needs input x");
    const char *dt = mx_param_str(s, 1, NULL);
    if (!dt)
        return mx_op_error(s, err, "needs a constant string 'dtype'");
    static const struct { const char *n; mil_dtype d; } names[] = {
        {"fp16", MIL_DT_FP16}, {"fp32", MIL_DT_FP32}, {"fp64", MIL_DT_FP64},
        {"int8", MIL_DT_INT8}, {"int16", MIL_DT_INT16}, {"int32", MIL_DT_INT32},
        {"int64", MIL_DT_INT64}, {"uint8", MIL_DT_UINT8}, {"uint16", MIL_DT_UINT16},
        {"uint32", MIL_DT_UINT32}, {"bool", MIL_DT_BOOL},
    };
    mil_dtype want = MIL_DT_INVALID;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].n, dt) == 0)
            want = names[i].d;
    if (want == MIL_DT_INVALID)
        return mx_op_error(s, err, "unsupported cast dtype '%s'", dt);
    if (o->dt != MIL_DT_INVALID && o->dt != want)
        return mx_op_error(s, err, "declared output type disagrees with dtype '%s'", dt);
    o->dt = want;
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
    return 0;
}

static int run_cast(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    mil_convert(x->data, x->dt, o->data, o->dt, o->numel);
    return 0;
}

#define BIN(n) {n, {"x", "y", NULL}, infer_binary, run_binary, MX_F_PURE}
#define UN(n, ...) {n, {"x", __VA_ARGS__}, infer_unary, run_unary, MX_F_PURE}

const mx_opdef mx_ops_elem[] = {
    BIN("add"), BIN("sub"), BIN("mul"), BIN("real_div"), BIN("maximum"), BIN("minimum"),
    BIN("pow"), BIN("floor_div"), BIN("mod"), BIN("equal"), BIN("not_equal"),
    BIN("greater"), BIN("greater_equal"), BIN("less"), BIN("less_equal"),
    BIN("logical_and"), BIN("logical_or"), BIN("logical_xor"),
    {"select", {"cond", "a", "b", NULL}, infer_select, run_select, MX_F_PURE},
    UN("exp", NULL), UN("log", "epsilon", NULL), UN("sqrt", NULL), UN("rsqrt", "epsilon", NULL),
    UN("abs", NULL), UN("sigmoid", NULL), UN("silu", NULL), UN("tanh", NULL),
    UN("gelu", "mode", NULL), UN("relu", NULL), UN("clip", "alpha", "beta", NULL),
    UN("erf", NULL), UN("sin", NULL), UN("cos", NULL), UN("floor", NULL), UN("ceil", NULL),
    UN("round", NULL), UN("sign", NULL), UN("square", NULL), UN("inverse", "epsilon", NULL),
    UN("relu6", NULL), UN("softplus", NULL), UN("softsign", NULL), UN("exp2", NULL),
    UN("leaky_relu", "alpha", NULL), UN("elu", "alpha", NULL), UN("logical_not", NULL),
    UN("tan", NULL), UN("asin", NULL), UN("acos", NULL), UN("atan", NULL), UN("sinh", NULL),
    UN("cosh", NULL), UN("threshold", "alpha", NULL),
    {"cast", {"x", "dtype", NULL}, infer_cast, run_cast, MX_F_PURE},
    {NULL, {NULL}, NULL, NULL, 0},
};
