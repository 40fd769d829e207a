/*
 * ops_linalg.c — matmul, linear and conv (COREML-FORMAT.md §5.4).
 *
 * Operands are widened to fp32 in scratch memory (sized at plan time) and accumulated in
 * fp32; results are rounded once on store. Weights stay in their stored dtype and are
 * widened one output row at a time, so scratch stays small for large weights.
 */
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/cpu.h"
#include "mil/exec.h"

static float dot(const float *a, const float *b, int64_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static int need_float(const mx_step *s, const mx_val *v, const char *what, an_error *err)
{
    if (!v || mil_dtype_size(v->dt) == 0)
        return mx_op_error(s, err, "needs a tensor '%s'", what);
    return 0;
}

/* ---- matmul ---- */

typedef struct mm_aux {
    int xr, yr;            /* operand ranks after 1-D promotion */
    int64_t xs[MIL_MAX_RANK], ys[MIL_MAX_RANK];
    int tx, ty;
    int64_t M, N, K;
    int br;                /* batch rank */
    int64_t bshape[MIL_MAX_RANK];
    int fast;              /* fp16/fp32 operands: through the matrix kernels */
    int threads;           /* batches run on up to this many threads (scratch per thread) */
    const mx_val *mask;    /* attention scores: the additive mask they meet before softmax */
    int tr;                /* y is an unmaterialized tile of rank tr (0: it is not) */
    int64_t tshape[MIL_MAX_RANK], t0shape[MIL_MAX_RANK]; /* the tile's output and input */
} mm_aux;

/* Matrix index into an unmaterialized tile's input for matrix yb of the tile's output. */
static int64_t tile_source(const mm_aux *a, int64_t yb)
{
    int64_t src = 0, mul = 1;
    for (int d = a->tr - 3; d >= 0; d--) {
        int64_t i = yb % a->tshape[d];
        yb /= a->tshape[d];
        src += (a->t0shape[d] == 1 ? 0 : i) * mul;
        mul *= a->t0shape[d];
    }
    return src;
}

/* Attention scores: matmul → mul/real_div by a constant → add(mask) → softmax on the
 * last axis. Then a score column whose mask is -inf in every row becomes -inf whatever
 * the product, and softmax gives it weight 0: the matmul may skip it. Returns the mask's
 * value, or NULL when the pattern is not there. */
static const mx_val *attention_mask(mx_plan *p, const mx_step *s)
{
    const mil_function *fn = p->fn;
    if (!s->op || s->op->n_outputs != 1)
        return NULL;
    int id = s->op->outputs[0];
    const mil_op *scale = mx_sole_use(fn, s->index, id);
    if (!scale || (strcmp(scale->type, "mul") && strcmp(scale->type, "real_div")))
        return NULL;
    int other = mx_op_value(scale, "x") == id ? mx_op_value(scale, "y") : mx_op_value(scale, "x");
    if (other == -1 || (other >= 0 && (fn->values[other].producer < 0 ||
                                       strcmp(fn->ops[fn->values[other].producer].type, "const"))))
        return NULL;
    if (!strcmp(scale->type, "real_div") && mx_op_value(scale, "x") != id)
        return NULL;
    int sid = scale->outputs[0];
    const mil_op *add = mx_sole_use(fn, (int)(scale - fn->ops), sid);
    if (!add || strcmp(add->type, "add"))
        return NULL;
    int mid = mx_op_value(add, "x") == sid ? mx_op_value(add, "y") : mx_op_value(add, "x");
    if (mid < 0 || fn->values[mid].producer >= s->index)
        return NULL; /* the mask must exist before the matmul runs */
    const mil_op *sm = mx_sole_use(fn, (int)(add - fn->ops), add->outputs[0]);
    if (!sm || strcmp(sm->type, "softmax"))
        return NULL;
    const mx_val *o = s->out[0], *mask = p->vals[mid];
    /* softmax over the last axis only: the axis is a const op's value (defined later
     * than this matmul, so it is read from the program, not from the plan) */
    int ax = mx_op_value(sm, "axis");
    if (ax == -2)
        return NULL;
    if (ax >= 0) {
        int pr = fn->values[ax].producer;
        const mil_literal *lit = pr >= 0 && !strcmp(fn->ops[pr].type, "const") ? mx_op_attr(&fn->ops[pr], "val") : NULL;
        if (!lit || lit->kind != MIL_LIT_TENSOR || lit->type.dtype != MIL_DT_INT32 || lit->nbytes != 4)
            return NULL;
        int32_t a;
        memcpy(&a, lit->data, 4);
        if (a != -1 && a != o->rank - 1)
            return NULL;
    }
    if ((mask->dt != MIL_DT_FP16 && mask->dt != MIL_DT_FP32) || mask->rank < 1 ||
        mask->shape[mask->rank - 1] != o->shape[o->rank - 1])
        return NULL;
    return mask;
}

/* Columns [n, N) whose mask is -inf in every row: the first n that may be needed. */
static int64_t mask_live_columns(const mx_val *mask, int64_t N)
{
    int64_t rows = N ? mask->numel / N : 0, live = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t n = N;
        if (mask->dt == MIL_DT_FP16) {
            const uint16_t *m = (const uint16_t *)mask->data + r * N;
            while (n > live && m[n - 1] == 0xFC00)
                n--;
        } else {
            const float *m = (const float *)mask->data + r * N;
            while (n > live && m[n - 1] == -INFINITY)
                n--;
        }
        if (n > live)
            live = n;
        if (live == N)
            break;
    }
    return live;
}

static int infer_matmul(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *y = mx_in(s, 1), *o = s->out[0];
    if (need_float(s, x, "x", err) || need_float(s, y, "y", err))
        return -1;
    mm_aux *a = mx_plan_alloc(p, sizeof *a);
    if (!a)
        return an_errorf(err, "out of memory");
    s->aux = a;
    if (mx_param_bool(s, 2, 0, &a->tx, err) || mx_param_bool(s, 3, 0, &a->ty, err))
        return -1;
    if (x->rank < 1 || y->rank < 1)
        return mx_op_error(s, err, "operands must have rank >= 1");
    int xr = x->rank, yr = y->rank;
    int64_t xs[MIL_MAX_RANK + 1], ys[MIL_MAX_RANK + 1];
    memcpy(xs, x->shape, sizeof(int64_t) * (size_t)xr);
    memcpy(ys, y->shape, sizeof(int64_t) * (size_t)yr);
    int x1 = xr == 1, y1 = yr == 1;
    if (x1) { /* prepend 1 (transpose of a vector is the same vector) */
        xs[1] = xs[0], xs[0] = 1, xr = 2;
        a->tx = 0;
    }
    if (y1) {
        ys[1] = 1, yr = 2;
        a->ty = 0;
    }
    int64_t M = a->tx ? xs[xr - 1] : xs[xr - 2], K = a->tx ? xs[xr - 2] : xs[xr - 1];
    int64_t K2 = a->ty ? ys[yr - 1] : ys[yr - 2], N = a->ty ? ys[yr - 2] : ys[yr - 1];
    if (K != K2)
        return mx_op_error(s, err, "inner dimensions differ (%lld vs %lld)", (long long)K,
                           (long long)K2);
    if (mx_broadcast(s, xr - 2, xs, yr - 2, ys, &a->br, a->bshape, err))
        return -1;
    a->xr = xr, a->yr = yr;
    memcpy(a->xs, xs, sizeof a->xs);
    memcpy(a->ys, ys, sizeof a->ys);
    a->M = M, a->N = N, a->K = K;
    int r = 0;
    for (int d = 0; d < a->br; d++)
        o->shape[r++] = a->bshape[d];
    if (!x1)
        o->shape[r++] = M;
    if (!y1)
        o->shape[r++] = N;
    o->rank = r;
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    a->fast = (x->dt == MIL_DT_FP16 || x->dt == MIL_DT_FP32) &&
              (y->dt == MIL_DT_FP16 || y->dt == MIL_DT_FP32) &&
              (o->dt == MIL_DT_FP16 || o->dt == MIL_DT_FP32) && M > 0 && N > 0 && K > 0;
    if (y->tile) {
        const mx_val *t = y->tile->out[0], *t0 = y->tile->in[0][0];
        if (!a->fast || t->rank < 3)
            return mx_op_error(s, err, "an unmaterialized tile feeds a matmul without the kernel path");
        a->tr = t->rank;
        memcpy(a->tshape, t->shape, sizeof a->tshape);
        memcpy(a->t0shape, t0->shape, sizeof a->t0shape);
    }
    if (a->fast && a->ty) { /* y is [N][K]: the kernels' weight layout; activations per thread */
        a->threads = mil_threads();
        s->scratch = (size_t)a->threads * ((kn_act_bytes(M, K) + 63) & ~(size_t)63) + 128;
        a->mask = attention_mask(p, s);
    } else if (a->fast) { /* y is [K][N]: per thread, an fp32 accumulator block (M <= 4) or
                           * the kernels' activations (prefill) */
        a->threads = mil_threads();
        size_t per = M > 4 ? kn_act_bytes(M, K) : (size_t)(M * N) * sizeof(float);
        s->scratch = (size_t)a->threads * ((per + 63) & ~(size_t)63) + 64;
    } else
        s->scratch = (size_t)(M * K + K) * sizeof(float);
    return 0;
}

typedef struct mm_job {
    const kn_weight *w;
    const kn_act *a;
    void *y;
    int y_f16;
    int64_t N;
} mm_job;

static void mm_rows(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const mm_job *j = ctx;
    kn_matmul(j->w, j->a, NULL, j->y, j->y_f16, j->N, 1, (int64_t)begin, (int64_t)end);
}

/* One batch of matmul through the kernels: y's [N][K] matrix is the weight. */
static void matmul_fast(mx_ctx *c, const mx_step *s, int64_t xo, int64_t yo, int64_t oo,
                        int64_t live)
{
    const mx_val *x = s->in[0][0], *y = s->in[1][0], *o = s->out[0];
    const mm_aux *a = s->aux;
    int64_t M = a->M, N = a->N, K = a->K;
    size_t xes = mil_dtype_size(x->dt), yes = mil_dtype_size(y->dt), oes = mil_dtype_size(o->dt);
    unsigned char *buf = (unsigned char *)(((uintptr_t)c->scratch + 63) & ~(uintptr_t)63);
    const unsigned char *yb = (const unsigned char *)y->data + (size_t)yo * yes;
    kn_weight w = {.kind = yes == 2 ? KN_W_F16 : KN_W_F32, .N = N, .K = K, .data = yb};
    an_error e;
    kn_prepare(&w, KN_F32, &e); /* dense weights: checks only, no memory */
    kn_act act;
    kn_act_prepare(&act, (const unsigned char *)x->data + (size_t)xo * xes, xes == 2, M, K,
                   a->tx ? 1 : K, a->tx ? M : 1, KN_F32, buf);
    mm_job j = {&w, &act, (unsigned char *)o->data + (size_t)oo * oes, oes == 2, N};
    size_t grain = (size_t)(live / (mil_threads() * 4));
    grain = grain < 16 ? 16 : (grain + 15) & ~(size_t)15;
    mx_parallel_for((size_t)live, grain, mm_rows, &j);
    if (live < N) /* masked columns: any finite score will do, the mask makes it -inf */
        for (int64_t m = 0; m < M; m++) {
            if (oes == 2)
                memset((uint16_t *)j.y + m * N + live, 0, sizeof(uint16_t) * (size_t)(N - live));
            else
                memset((float *)j.y + m * N + live, 0, sizeof(float) * (size_t)(N - live));
        }
}

/* acc[0..N) += a * y[0..N) */
static void axpy_c(float *acc, float a, const void *y, int y16, int64_t N)
{
    if (y16) {
        const uint16_t *h = y;
        for (int64_t n = 0; n < N; n++)
            acc[n] += a * an_fp16_to_fp32(h[n]);
    } else {
        const float *f = y;
        for (int64_t n = 0; n < N; n++)
            acc[n] += a * f[n];
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) static void axpy_avx2(float *acc, float a, const void *y,
                                                               int y16, int64_t N)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t n = 0;
    if (y16) {
        const uint16_t *h = y;
        for (; n + 8 <= N; n += 8) {
            __m256 w = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + n)));
            _mm256_storeu_ps(acc + n, _mm256_fmadd_ps(va, w, _mm256_loadu_ps(acc + n)));
        }
    } else {
        const float *f = y;
        for (; n + 8 <= N; n += 8)
            _mm256_storeu_ps(acc + n, _mm256_fmadd_ps(va, _mm256_loadu_ps(f + n), _mm256_loadu_ps(acc + n)));
    }
    if (n < N)
        axpy_c(acc + n, a, (const char *)y + (size_t)n * (y16 ? 2 : 4), y16, N - n);
}
#endif

typedef void (*axpy_fn)(float *, float, const void *, int, int64_t);

static axpy_fn pick_axpy(void)
{
#if defined(__x86_64__)
    unsigned f = an_cpu_features();
    if ((f & AN_CPU_AVX2) && (f & AN_CPU_FMA) && (f & AN_CPU_F16C))
        return axpy_avx2;
#endif
    return axpy_c;
}

/* Matrix offsets (in elements) of x and y for batch b of the broadcast batch shape. */
static void batch_offsets(const mm_aux *a, const int64_t *bs_x, const int64_t *bs_y, int64_t b,
                          int64_t *xo, int64_t *yo)
{
    int64_t x = 0, y = 0;
    for (int d = a->br - 1; d >= 0; d--) {
        int64_t i = b % a->bshape[d];
        b /= a->bshape[d];
        x += i * bs_x[d];
        y += i * bs_y[d];
    }
    *xo = x * a->M * a->K;
    *yo = (a->tr ? tile_source(a, y) : y) * a->K * a->N;
}

typedef struct qk_job {
    const mx_step *s;
    unsigned char *scratch;
    size_t per_thread;
    int64_t bs_x[MIL_MAX_RANK], bs_y[MIL_MAX_RANK];
    int64_t live;
} qk_job;

/* Batches [b0, b1) of a kernel matmul (y is [N][K]), each whole on one thread: attention
 * scores have a batch per head, too small each to be worth splitting (and a pool barrier)
 * across threads. */
static void qk_batches(void *ctx, size_t b0, size_t b1, int thread)
{
    const qk_job *j = ctx;
    const mx_step *s = j->s;
    const mx_val *x = s->in[0][0], *y = s->in[1][0], *o = s->out[0];
    const mm_aux *a = s->aux;
    int64_t M = a->M, N = a->N, K = a->K, live = j->live;
    size_t xes = mil_dtype_size(x->dt), yes = mil_dtype_size(y->dt), oes = mil_dtype_size(o->dt);
    void *buf = j->scratch + (size_t)thread * j->per_thread;
    for (size_t b = b0; b < b1; b++) {
        int64_t xo, yo;
        batch_offsets(a, j->bs_x, j->bs_y, (int64_t)b, &xo, &yo);
        kn_weight w = {.kind = yes == 2 ? KN_W_F16 : KN_W_F32, .N = N, .K = K,
                       .data = (const unsigned char *)y->data + (size_t)yo * yes};
        an_error e;
        kn_prepare(&w, KN_F32, &e); /* dense weights: checks only, no memory */
        kn_act act;
        kn_act_prepare(&act, (const unsigned char *)x->data + (size_t)xo * xes, xes == 2, M, K, a->tx ? 1 : K,
                       a->tx ? M : 1, KN_F32, buf);
        unsigned char *ob = (unsigned char *)o->data + (size_t)b * (size_t)(M * N) * oes;
        kn_matmul(&w, &act, NULL, ob, oes == 2, N, 1, 0, live);
        if (live < N) /* masked columns: any finite score will do, the mask makes it -inf */
            for (int64_t m = 0; m < M; m++)
                memset(ob + (size_t)(m * N + live) * oes, 0, (size_t)(N - live) * oes);
    }
}

typedef struct av_job {
    const mx_step *s;
    unsigned char *scratch;
    size_t per_thread;
    int64_t bs_x[MIL_MAX_RANK], bs_y[MIL_MAX_RANK];
    axpy_fn axpy;
} av_job;

/* Batches [b0, b1) of a matmul whose y is [K][N] (attention weights × values): each y
 * row is read once and added into the M output rows it contributes to; zero weights
 * (positions the causal mask removed) are skipped. */
/* Prefill: one batch as a kernel matmul whose weight is y transposed ([K][N] = W^T),
 * over the columns of x up to the last nonzero one (the causal mask zeroes the rest). */
static void av_kernel(const av_job *j, size_t b, int64_t xo, int64_t yo, void *buf)
{
    const mx_step *s = j->s;
    const mx_val *x = s->in[0][0], *y = s->in[1][0], *o = s->out[0];
    const mm_aux *a = s->aux;
    int64_t M = a->M, N = a->N, K = a->K, live = 0;
    size_t xes = mil_dtype_size(x->dt), yes = mil_dtype_size(y->dt), oes = mil_dtype_size(o->dt);
    for (int64_t m = 0; m < M && live < K; m++)
        for (int64_t k = K - 1; k >= live; k--) {
            int64_t xi = xo + (a->tx ? k * M + m : m * K + k);
            int nz = xes == 2 ? (((const uint16_t *)x->data)[xi] & 0x7fff) != 0 : ((const float *)x->data)[xi] != 0.0f;
            if (nz) {
                live = k + 1;
                break;
            }
        }
    void *out = (char *)o->data + (size_t)b * (size_t)(M * N) * oes;
    if (live == 0) {
        memset(out, 0, (size_t)(M * N) * oes);
        return;
    }
    kn_weight w = {.kind = yes == 2 ? KN_W_F16 : KN_W_F32, .N = N, .K = live, .wt = 1,
                   .data = (const char *)y->data + (size_t)yo * yes};
    an_error e;
    kn_prepare(&w, KN_F32, &e); /* dense weights: checks only, no memory */
    kn_act act;
    /* row m of x restricted to its first `live` columns */
    kn_act_prepare(&act, (const char *)x->data + (size_t)xo * xes, xes == 2, M, live, a->tx ? 1 : K,
                   a->tx ? M : 1, KN_F32, buf);
    kn_matmul(&w, &act, NULL, out, oes == 2, N, 1, 0, N);
}

static void av_batches(void *ctx, size_t b0, size_t b1, int thread)
{
    const av_job *j = ctx;
    const mx_step *s = j->s;
    const mx_val *x = s->in[0][0], *y = s->in[1][0], *o = s->out[0];
    const mm_aux *a = s->aux;
    int64_t M = a->M, N = a->N, K = a->K;
    int x16 = x->dt == MIL_DT_FP16, y16 = y->dt == MIL_DT_FP16, o16 = o->dt == MIL_DT_FP16;
    float *acc = (float *)(j->scratch + (size_t)thread * j->per_thread);
    for (size_t b = b0; b < b1; b++) {
        int64_t xo, yo;
        batch_offsets(a, j->bs_x, j->bs_y, (int64_t)b, &xo, &yo);
        if (M > 4) {
            av_kernel(j, b, xo, yo, acc);
            continue;
        }
        memset(acc, 0, sizeof(float) * (size_t)(M * N));
        for (int64_t k = 0; k < K; k++) {
            const void *yrow = (const char *)y->data + (size_t)(yo + k * N) * (y16 ? 2 : 4);
            for (int64_t m = 0; m < M; m++) {
                int64_t xi = xo + (a->tx ? k * M + m : m * K + k);
                float w = x16 ? an_fp16_to_fp32(((const uint16_t *)x->data)[xi]) : ((const float *)x->data)[xi];
                if (w != 0.0f)
                    j->axpy(acc + m * N, w, yrow, y16, N);
            }
        }
        if (o16)
            an_fp32_to_fp16_n(acc, (uint16_t *)o->data + (size_t)b * (size_t)(M * N), (size_t)(M * N));
        else
            memcpy((float *)o->data + (size_t)b * (size_t)(M * N), acc, sizeof(float) * (size_t)(M * N));
    }
}

static int run_matmul(mx_ctx *c, const mx_step *s)
{
    const mx_val *x = s->in[0][0], *y = s->in[1][0], *o = s->out[0];
    const mm_aux *a = s->aux;
    int64_t M = a->M, N = a->N, K = a->K;
    float *A = c->scratch, *brow = A + M * K;
    int64_t bs_x[MIL_MAX_RANK], bs_y[MIL_MAX_RANK];
    mx_bcast_strides(a->xr - 2, a->xs, a->br, a->bshape, bs_x);
    mx_bcast_strides(a->yr - 2, a->ys, a->br, a->bshape, bs_y);
    int64_t nb = mil_shape_numel(a->br, a->bshape);
    if (a->fast && !a->ty) {
        av_job j = {.s = s, .axpy = pick_axpy(),
                    .scratch = (unsigned char *)(((uintptr_t)c->scratch + 63) & ~(uintptr_t)63),
                    .per_thread = ((M > 4 ? kn_act_bytes(M, K) : (size_t)(M * N) * sizeof(float)) + 63) &
                                  ~(size_t)63};
        memcpy(j.bs_x, bs_x, sizeof bs_x);
        memcpy(j.bs_y, bs_y, sizeof bs_y);
        if (mil_threads() <= a->threads)
            mx_parallel_for((size_t)nb, 1, av_batches, &j);
        else /* more threads now than at planning: their scratch was not reserved */
            av_batches(&j, 0, (size_t)nb, 0);
        return 0;
    }
    int64_t live = a->mask ? mask_live_columns(a->mask, N) : N;
    if (a->fast && nb >= mil_threads() && mil_threads() > 1 && mil_threads() <= a->threads) {
        qk_job j = {.s = s, .live = live,
                    .scratch = (unsigned char *)(((uintptr_t)c->scratch + 63) & ~(uintptr_t)63),
                    .per_thread = (kn_act_bytes(M, K) + 63) & ~(size_t)63};
        memcpy(j.bs_x, bs_x, sizeof bs_x);
        memcpy(j.bs_y, bs_y, sizeof bs_y);
        mx_parallel_for((size_t)nb, 1, qk_batches, &j);
        return 0;
    }
    int64_t bidx[MIL_MAX_RANK] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int64_t xo = 0, yo = 0;
        for (int d = 0; d < a->br; d++) {
            xo += bidx[d] * bs_x[d];
            yo += bidx[d] * bs_y[d];
        }
        xo *= M * K;
        yo *= K * N;
        if (a->fast) {
            if (a->tr)
                yo = tile_source(a, yo / (K * N)) * K * N;
            matmul_fast(c, s, xo, yo, b * M * N, live);
            goto next;
        }
        /* A[m][k] */
        for (int64_t m = 0; m < M; m++)
            for (int64_t k = 0; k < K; k++)
                A[m * K + k] = mil_ld_f32(x->data, x->dt, xo + (a->tx ? k * M + m : m * K + k));
        for (int64_t n = 0; n < N; n++) {
            if (a->ty) {
                if (y->dt == MIL_DT_FP16)
                    an_fp16_to_fp32_n((const uint16_t *)y->data + yo + n * K, brow, (size_t)K);
                else
                    for (int64_t k = 0; k < K; k++)
                        brow[k] = mil_ld_f32(y->data, y->dt, yo + n * K + k);
            } else {
                for (int64_t k = 0; k < K; k++)
                    brow[k] = mil_ld_f32(y->data, y->dt, yo + k * N + n);
            }
            for (int64_t m = 0; m < M; m++)
                mil_st_f32(o->data, o->dt, (b * M + m) * N + n, dot(A + m * K, brow, K));
        }
    next:
        for (int d = a->br - 1; d >= 0; d--) {
            if (++bidx[d] < a->bshape[d])
                break;
            bidx[d] = 0;
        }
    }
    return 0;
}

/* ---- linear ---- */

static int infer_linear(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *w = mx_in(s, 1), *b = mx_in(s, 2), *o = s->out[0];
    if (need_float(s, x, "x", err) || need_float(s, w, "weight", err))
        return -1;
    if (x->rank < 1 || w->rank != 2 || x->shape[x->rank - 1] != w->shape[1])
        return mx_op_error(s, err, "x [..., %lld] does not fit weight [Dout, Din]",
                           (long long)(x->rank ? x->shape[x->rank - 1] : 0));
    if (b && (b->numel != w->shape[0] || mil_dtype_size(b->dt) == 0))
        return mx_op_error(s, err, "bias must have %lld elements", (long long)w->shape[0]);
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
    o->shape[o->rank - 1] = w->shape[0];
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    int r = mx_proj_infer(p, s, 0, err);
    if (r)
        return r < 0 ? -1 : (s->iaux[15] = 1, 0);
    if (mx_materialize(p->comp, w, err))
        return -1;
    int64_t M = x->numel / (x->shape[x->rank - 1] ? x->shape[x->rank - 1] : 1);
    s->scratch = (size_t)(M * w->shape[1] + w->shape[1]) * sizeof(float);
    return 0;
}

/* out[m][n] = sum_k X[m][k] W[n][k] + bias[n], X already fp32 in scratch. */
static void gemm_wt(const float *X, int64_t M, int64_t K, const mx_val *w, const mx_val *bias,
                    float *wrow, const mx_val *o, int64_t ostride_m, int64_t ostride_n,
                    int64_t obase)
{
    for (int64_t n = 0; n < w->shape[0]; n++) {
        const float *wr;
        if (w->dt == MIL_DT_FP32) {
            wr = (const float *)w->data + n * K;
        } else if (w->dt == MIL_DT_FP16) {
            an_fp16_to_fp32_n((const uint16_t *)w->data + n * K, wrow, (size_t)K);
            wr = wrow;
        } else {
            for (int64_t k = 0; k < K; k++)
                wrow[k] = mil_ld_f32(w->data, w->dt, n * K + k);
            wr = wrow;
        }
        float bv = bias ? mil_ld_f32(bias->data, bias->dt, n) : 0.0f;
        for (int64_t m = 0; m < M; m++)
            mil_st_f32(o->data, o->dt, obase + m * ostride_m + n * ostride_n, dot(X + m * K, wr, K) + bv);
    }
}

static int run_linear(mx_ctx *c, const mx_step *s)
{
    if (s->iaux[15])
        return mx_proj_run(c, s);
    const mx_val *x = s->in[0][0], *w = s->in[1][0], *o = s->out[0];
    const mx_val *b = mx_in(s, 2);
    int64_t K = w->shape[1], M = K ? x->numel / K : 0;
    float *X = c->scratch, *wrow = X + M * K;
    mil_convert(x->data, x->dt, X, MIL_DT_FP32, M * K);
    gemm_wt(X, M, K, w, b, wrow, o, w->shape[0], 1, 0);
    return 0;
}

/* ---- conv ---- */

typedef struct conv_aux {
    int ns;                        /* spatial dims (1..3), padded to 3 below */
    int64_t in[3], k[3], out[3], stride[3], dil[3], pb[3];
    int64_t N, Cin, Cout, G;
    int pointwise;                 /* 1x1, stride 1, no padding */
} conv_aux;

static int infer_conv(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *w = mx_in(s, 1), *b = mx_in(s, 2), *o = s->out[0];
    if (need_float(s, x, "x", err) || need_float(s, w, "weight", err))
        return -1;
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3 || w->rank != x->rank)
        return mx_op_error(s, err, "x must be [N, C, 1..3 spatial] and weight of the same rank");
    conv_aux *a = mx_plan_alloc(p, sizeof *a);
    if (!a)
        return an_errorf(err, "out of memory");
    s->aux = a;
    a->ns = ns;
    int64_t G;
    if (mx_param_int(s, 6, 1, &G, err))
        return -1;
    a->N = x->shape[0], a->Cin = x->shape[1], a->Cout = w->shape[0], a->G = G;
    if (G < 1 || a->Cin % G || a->Cout % G || w->shape[1] != a->Cin / G)
        return mx_op_error(s, err, "channels do not fit groups=%lld (Cin %lld, weight [%lld, %lld, ...])",
                           (long long)G, (long long)a->Cin, (long long)w->shape[0],
                           (long long)w->shape[1]);
    if (b && b->numel != a->Cout)
        return mx_op_error(s, err, "bias must have %lld elements", (long long)a->Cout);
    int64_t st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pad[6] = {0};
    int n;
    if (mx_in(s, 3)) {
        if (mx_const_ints(s, 3, st, 3, &n, err))
            return -1;
        if (n != ns)
            return mx_op_error(s, err, "strides must have %d entries", ns);
    }
    if (mx_in(s, 5)) {
        if (mx_const_ints(s, 5, dl, 3, &n, err))
            return -1;
        if (n != ns)
            return mx_op_error(s, err, "dilations must have %d entries", ns);
    }
    const char *pt = mx_param_str(s, 4, "valid");
    if (strcmp(pt, "custom") == 0 && mx_in(s, 7)) {
        if (mx_const_ints(s, 7, pad, 6, &n, err))
            return -1;
        if (n != 2 * ns)
            return mx_op_error(s, err, "pad must have %d entries", 2 * ns);
    }
    for (int d = 0; d < 3; d++) {
        int on = d < ns;
        a->in[d] = on ? x->shape[2 + d] : 1;
        a->k[d] = on ? w->shape[2 + d] : 1;
        a->stride[d] = on ? st[d] : 1;
        a->dil[d] = on ? dl[d] : 1;
        if (a->stride[d] < 1 || a->dil[d] < 1)
            return mx_op_error(s, err, "strides and dilations must be >= 1");
        int64_t dk = (a->k[d] - 1) * a->dil[d] + 1, pb = 0, pa = 0;
        if (!on) {
        } else if (strcmp(pt, "valid") == 0) {
        } else if (strcmp(pt, "same") == 0 || strcmp(pt, "same_lower") == 0) {
            int64_t outn = (a->in[d] + a->stride[d] - 1) / a->stride[d];
            int64_t tot = (outn - 1) * a->stride[d] + dk - a->in[d];
            if (tot < 0)
                tot = 0;
            pb = strcmp(pt, "same") == 0 ? tot / 2 : tot - tot / 2;
            pa = tot - pb;
        } else if (strcmp(pt, "custom") == 0) {
            pb = pad[2 * d], pa = pad[2 * d + 1];
        } else {
            return mx_op_error(s, err, "unknown pad_type '%s'", pt);
        }
        if (pb < 0 || pa < 0)
            return mx_op_error(s, err, "negative padding");
        a->pb[d] = pb;
        int64_t span = a->in[d] + pb + pa - dk;
        if (span < 0)
            return mx_op_error(s, err, "kernel larger than the padded input");
        a->out[d] = span / a->stride[d] + 1;
    }
    o->rank = x->rank;
    o->shape[0] = a->N;
    o->shape[1] = a->Cout;
    for (int d = 0; d < ns; d++)
        o->shape[2 + d] = a->out[d];
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    int64_t S = a->in[0] * a->in[1] * a->in[2];
    int64_t kk = a->k[0] * a->k[1] * a->k[2];
    a->pointwise = kk == 1 && a->G == 1 && a->stride[0] * a->stride[1] * a->stride[2] == 1 &&
                   a->pb[0] + a->pb[1] + a->pb[2] == 0 && a->out[0] * a->out[1] * a->out[2] == S;
    if (a->pointwise) {
        int r = mx_proj_infer(p, s, 1, err);
        if (r)
            return r < 0 ? -1 : (s->iaux[15] = 1, 0);
    }
    if (mx_materialize(p->comp, w, err))
        return -1;
    s->scratch = (size_t)(a->Cin * S + (a->Cin / a->G) * kk + 1) * sizeof(float);
    return 0;
}

static int run_conv(mx_ctx *c, const mx_step *s)
{
    if (s->iaux[15])
        return mx_proj_run(c, s);
    const mx_val *x = s->in[0][0], *w = s->in[1][0], *o = s->out[0], *b = mx_in(s, 2);
    const conv_aux *a = s->aux;
    int64_t S = a->in[0] * a->in[1] * a->in[2], OS = a->out[0] * a->out[1] * a->out[2];
    int64_t kk = a->k[0] * a->k[1] * a->k[2], cg = a->Cin / a->G, og = a->Cout / a->G;
    float *X = c->scratch, *wrow = X + a->Cin * S;
    for (int64_t nb = 0; nb < a->N; nb++) {
        const char *xb = (const char *)x->data + (size_t)(nb * a->Cin * S) * mil_dtype_size(x->dt);
        int64_t obase = nb * a->Cout * OS;
        if (a->pointwise) {
            /* X as [S][Cin] so that each output is a dot of two contiguous rows */
            for (int64_t ci = 0; ci < a->Cin; ci++)
                for (int64_t p = 0; p < S; p++)
                    X[p * a->Cin + ci] = mil_ld_f32(xb, x->dt, ci * S + p);
            gemm_wt(X, S, a->Cin, w, b, wrow, o, 1, OS, obase);
            continue;
        }
        mil_convert(xb, x->dt, X, MIL_DT_FP32, a->Cin * S);
        for (int64_t oc = 0; oc < a->Cout; oc++) {
            int64_t g = oc / og;
            for (int64_t i = 0; i < cg * kk; i++)
                wrow[i] = mil_ld_f32(w->data, w->dt, oc * cg * kk + i);
            float bv = b ? mil_ld_f32(b->data, b->dt, oc) : 0.0f;
            for (int64_t o0 = 0; o0 < a->out[0]; o0++)
                for (int64_t o1 = 0; o1 < a->out[1]; o1++)
                    for (int64_t o2 = 0; o2 < a->out[2]; o2++) {
                        float acc = 0;
                        for (int64_t ci = 0; ci < cg; ci++) {
                            const float *xc = X + (g * cg + ci) * S;
                            const float *wc = wrow + ci * kk;
                            for (int64_t k0 = 0; k0 < a->k[0]; k0++) {
                                int64_t i0 = o0 * a->stride[0] + k0 * a->dil[0] - a->pb[0];
                                if (i0 < 0 || i0 >= a->in[0])
                                    continue;
                                for (int64_t k1 = 0; k1 < a->k[1]; k1++) {
                                    int64_t i1 = o1 * a->stride[1] + k1 * a->dil[1] - a->pb[1];
                                    if (i1 < 0 || i1 >= a->in[1])
                                        continue;
                                    for (int64_t k2 = 0; k2 < a->k[2]; k2++) {
                                        int64_t i2 = o2 * a->stride[2] + k2 * a->dil[2] - a->pb[2];
                                        if (i2 < 0 || i2 >= a->in[2])
                                            continue;
                                        acc += xc[(i0 * a->in[1] + i1) * a->in[2] + i2] *
                                               wc[(k0 * a->k[1] + k1) * a->k[2] + k2];
                                    }
                                }
                            }
                        }
                        int64_t op = (o0 * a->out[1] + o1) * a->out[2] + o2;
                        mil_st_f32(o->data, o->dt, obase + oc * OS + op, acc + bv);
                    }
        }
    }
    return 0;
}

const mx_opdef mx_ops_linalg[] = {
    {"matmul", {"x", "y", "transpose_x", "transpose_y", NULL}, infer_matmul, run_matmul, MX_F_PURE},
    {"linear", {"x", "weight", "bias", NULL}, infer_linear, run_linear, MX_F_PURE},
    {"conv",
     {"x", "weight", "bias", "strides", "pad_type", "dilations", "groups", "pad", NULL},
     infer_conv, run_conv, MX_F_PURE},
    {NULL, {NULL}, NULL, NULL, 0},
};
