/*
 * ops_proj.c — projections (1x1 conv, linear) through the matrix kernels of kern.h.
 *
 * ANEMLL graphs spend nearly all their time in projections whose weight is a constant:
 * constexpr_lut_to_dense → conv/linear, or a dense fp16 weight. Such a weight is wired to
 * a kn_weight once at plan time (shared by every function and plan of the component that
 * uses the same constant) and read in its stored form at every predict: packed indices
 * in the mapped weight file, or the fp16 rows themselves. Nothing is decoded at load.
 *
 * Output rows are split across the engine's threads; the activations are gathered (and
 * quantized, on the integer paths) once per call, before.
 */
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "mil/exec.h"

/* ---- kernel weights ---- */

/* ANEMONE_KERNEL_PATH=f32|i16|i8 overrides the kernels' choice for LUT weights (dense
 * weights always run fp32). */
static kn_path default_path(const kn_weight *w)
{
    if (w->kind != KN_W_LUT)
        return KN_F32;
    const char *e = getenv("ANEMONE_KERNEL_PATH");
    if (e && strcmp(e, "i8") == 0)
        return KN_I8;
    if (e && strcmp(e, "i16") == 0)
        return KN_I16;
    if (e && strcmp(e, "f32") == 0)
        return KN_F32;
    return kn_default_path();
}

static mx_kw *kw_new(mil_component *c, const kn_weight *tmpl, const mx_step *src, an_error *err)
{
    mx_kw *kw = an_arena_alloc_aligned(&c->mem, sizeof *kw, 16);
    if (!kw) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    memset(kw, 0, sizeof *kw);
    kw->w = *tmpl;
    kw->src = src;
    if (kn_prepare(&kw->w, default_path(&kw->w), err))
        return NULL;
    kw->next = c->kws;
    c->kws = kw;
    return kw;
}

static int is_projection_weight(void *ctx, const mil_function *fn, int j, const char *input)
{
    (void)ctx;
    const char *t = fn->ops[j].type;
    return (!strcmp(t, "conv") || !strcmp(t, "linear")) && !strcmp(input, "weight");
}

int mx_lut_packable(const mx_plan *p, const mx_step *s)
{
    /* every use of the output is the weight of a conv or linear */
    return s->op && strcmp(s->op->type, "constexpr_lut_to_dense") == 0 && s->op->n_outputs == 1 &&
           mx_each_use(p->fn, s->index, s->op->outputs[0], is_projection_weight, NULL) > 0;
}

int mx_lut_pack(mx_plan *p, mx_step *s, an_error *err)
{
    if (!mx_lut_packable(p, s))
        return 0;
    const mx_val *ix = mx_in(s, 0), *lut = mx_in(s, 1);
    mx_val *o = s->out[0];
    if (o->rank < 2 || (lut->dt != MIL_DT_FP16 && lut->dt != MIL_DT_FP32))
        return 0;
    kn_weight w = {.kind = KN_W_LUT, .data = ix->data, .lut = lut->data,
                   .lut_f32 = lut->dt == MIL_DT_FP32, .bits = (int)s->iaux[1]};
    w.N = o->shape[0];
    w.K = o->numel / (w.N ? w.N : 1);
    if (w.N < 1 || w.K < 1)
        return 0;
    if (s->iaux[0] == 16) {
        w.gn = w.N, w.gk = w.K;
    } else {
        int R = ix->rank;
        if (lut->shape[R + 1] != 1) /* vector palettes */
            return 0;
        for (int d = 2; d < R; d++)
            if (lut->shape[d] != 1)
                return 0;
        w.gn = w.N / lut->shape[0];
        w.gk = R > 1 ? w.K / lut->shape[1] : w.K;
        if (R == 1 || ix->shape[1] != w.K) /* [N, K, 1, 1] or [N, K] only */
            return 0;
    }
    mx_kw *kw = kw_new(p->comp, &w, s, err);
    if (!kw)
        return -1;
    o->kind = MX_CONST;
    o->data = NULL;
    o->kw = kw;
    return 1;
}

int mx_materialize(mil_component *c, mx_val *v, an_error *err)
{
    if (v->data || !v->kw)
        return 0;
    c->folded_bytes += v->nbytes;
    if (c->folded_bytes > mx_memory_limit)
        return an_errorf(err, "decoded constants exceed %zu bytes", mx_memory_limit);
    void *buf = an_arena_alloc_aligned(&c->mem, v->nbytes ? v->nbytes : 1, 64);
    if (!buf)
        return an_errorf(err, "out of memory decoding a constant");
    mx_val tmp = *v;
    tmp.data = buf;
    mx_val *outp = &tmp;
    mx_step st = *v->kw->src;
    st.out = &outp;
    mx_ctx ctx = {.comp = c, .err = err, .stats = &c->stats};
    if (st.def->run(&ctx, &st))
        return -1;
    v->data = buf;
    return 0;
}

/* ---- the projection step ---- */

typedef struct proj {
    const kn_weight *w;
    float *bias;          /* fp32 copy, or NULL */
    int64_t B, M, K, N;   /* B independent batches of M rows */
    int64_t sm, sk;       /* activation element strides (row, column) */
    int64_t xb, yb;       /* per-batch element offsets of x and y */
    int64_t ym, yn;       /* output element strides (row, column) */
    int x_f16, y_f16;
} proj;

typedef struct proj_job {
    const proj *pj;
    const kn_act *a;
    void *y;
} proj_job;

static void proj_rows(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const proj_job *j = ctx;
    kn_matmul(j->pj->w, j->a, j->pj->bias, j->y, j->pj->y_f16, j->pj->ym, j->pj->yn,
              (int64_t)begin, (int64_t)end);
}

static int float_io(mil_dtype dt) { return dt == MIL_DT_FP16 || dt == MIL_DT_FP32; }

int mx_proj_infer(mx_plan *p, mx_step *s, int is_conv, an_error *err)
{
    mx_val *x = mx_in(s, 0), *wv = mx_in(s, 1), *b = mx_in(s, 2), *o = s->out[0];
    if (!mx_is_const(wv) || !float_io(x->dt) || !float_io(o->dt))
        return 0;
    if (b && (!mx_is_const(b) || !b->data || mil_dtype_size(b->dt) == 0))
        return 0;
    proj *pj = mx_plan_alloc(p, sizeof *pj);
    if (!pj)
        return an_errorf(err, "out of memory");
    memset(pj, 0, sizeof *pj);
    int64_t N = wv->shape[0], K = N ? wv->numel / N : 0;
    if (is_conv) {
        /* pointwise only: [B, K, spatial...] → [B, N, spatial...], same spatial size */
        int64_t S = 1;
        for (int d = 2; d < x->rank; d++)
            S *= x->shape[d];
        /* (o->numel is not set yet: infer is still running) */
        if (x->shape[1] != K || mil_shape_numel(o->rank, o->shape) != x->shape[0] * N * S)
            return 0;
        pj->B = x->shape[0], pj->M = S, pj->sm = 1, pj->sk = S;
        pj->xb = K * S, pj->yb = N * S, pj->ym = 1, pj->yn = S;
    } else {
        pj->B = 1, pj->M = K ? x->numel / K : 0, pj->sm = K, pj->sk = 1;
        pj->ym = N, pj->yn = 1;
    }
    pj->K = K, pj->N = N;
    pj->x_f16 = x->dt == MIL_DT_FP16;
    pj->y_f16 = o->dt == MIL_DT_FP16;
    if (wv->kw) {
        pj->w = &wv->kw->w;
    } else {
        if (!wv->data || !float_io(wv->dt))
            return 0;
        kn_weight w = {.kind = wv->dt == MIL_DT_FP16 ? KN_W_F16 : KN_W_F32, .N = N, .K = K,
                       .data = wv->data};
        /* one kernel weight per distinct constant (functions and plans share them) */
        for (mx_kw *k = p->comp->kws; k && !pj->w; k = k->next)
            if (k->w.kind == w.kind && k->w.data == w.data && k->w.N == N && k->w.K == K)
                pj->w = &k->w;
        if (!pj->w) {
            mx_kw *kw = kw_new(p->comp, &w, NULL, err);
            if (!kw)
                return -1;
            pj->w = &kw->w;
        }
    }
    if (b) {
        pj->bias = mx_plan_alloc(p, sizeof(float) * (size_t)(N ? N : 1));
        if (!pj->bias)
            return an_errorf(err, "out of memory");
        mil_convert(b->data, b->dt, pj->bias, MIL_DT_FP32, N);
    }
    s->aux = pj;
    s->scratch = kn_act_bytes(pj->M, K) + 64;
    return 1;
}

int mx_proj_run(mx_ctx *c, const mx_step *s)
{
    const proj *pj = s->aux;
    const mx_val *x = s->in[0][0], *o = s->out[0];
    size_t xes = pj->x_f16 ? 2 : 4, yes = pj->y_f16 ? 2 : 4;
    void *buf = (void *)(((uintptr_t)c->scratch + 63) & ~(uintptr_t)63);
    for (int64_t b = 0; b < pj->B; b++) {
        kn_act a;
        kn_act_prepare(&a, (const char *)x->data + (size_t)(b * pj->xb) * xes, pj->x_f16, pj->M,
                       pj->K, pj->sm, pj->sk, pj->w->path, buf);
        proj_job j = {pj, &a, (char *)o->data + (size_t)(b * pj->yb) * yes};
        /* prefill: small pieces, so that no thread waits long for the last one; decode:
         * larger ones (fewer claims, longer streams for the prefetchers) measured faster */
        size_t grain = (size_t)(pj->N / (mil_threads() * (pj->M > 4 ? 32 : 8)));
        grain = grain < 16 ? 16 : (grain + 15) & ~(size_t)15;
        mx_parallel_for((size_t)pj->N, grain, proj_rows, &j);
    }
    if (c->stats) {
        c->stats->kernel_projections++;
        c->stats->kernel_projections_int8 += pj->w->path == KN_I8;
        c->stats->kernel_projections_int16 += pj->w->path == KN_I16;
    }
    return 0;
}
