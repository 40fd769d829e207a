/*
 * ops_const.c — const and the constexpr decompression ops, all folded at load
 * (COREML-FORMAT.md §5.1): constexpr_lut_to_dense (iOS16 per-tensor form and iOS18
 * grouped/vector form, packed uint1..uint8 indices), constexpr_affine_dequantize,
 * constexpr_blockwise_shift_scale and constexpr_cast.
 *
 * Their scratch (unpacked indices) is requested like any op's; at load the planner
 * gives folded ops a temporary buffer, so none of this runs during predict.
 */
#include <string.h>

#include "mil/exec.h"

/* ---- const ---- */

static int infer_const(mx_plan *p, mx_step *s, an_error *err)
{
    const mil_literal *lit = mx_op_attr(s->op, "val");
    mx_val *o = s->out[0];
    if (!lit || (lit->kind != MIL_LIT_TENSOR && lit->kind != MIL_LIT_BLOB))
        return mx_op_error(s, err, "needs a tensor attribute 'val'");
    const void *data;
    size_t nbytes;
    if (mx_literal_data(p->comp, lit, &data, &nbytes, err))
        return -1;
    o->dt = lit->type.dtype;
    o->rank = lit->type.rank < 0 ? 0 : lit->type.rank;
    memcpy(o->shape, lit->type.dims, sizeof o->shape);
    int64_t n = mil_shape_numel(o->rank, o->shape);
    size_t need = o->dt == MIL_DT_STRING ? (size_t)n * sizeof(char *)
                                         : (size_t)(((uint64_t)n * (uint64_t)mx_dtype_bits(o->dt) + 7) / 8);
    if (n < 0 || nbytes < need)
        return mx_op_error(s, err, "value holds %zu bytes, its type needs %zu", nbytes, need);
    o->kind = MX_CONST;
    o->data = (void *)data;
    return 0;
}

static int run_nothing(mx_ctx *c, const mx_step *s)
{
    (void)c, (void)s;
    return 0;
}

/* Element i of a constant that may be packed sub-byte, as int64 (int4 sign-extended). */
static int64_t q_at(const mx_val *v, int64_t i)
{
    int bits = mx_dtype_bits(v->dt);
    if (bits >= 8)
        return mil_ld_i64(v->data, v->dt, i);
    uint8_t u;
    uint64_t bit = (uint64_t)i * (uint64_t)bits;
    const uint8_t *b = v->data;
    unsigned x = b[bit >> 3] >> (bit & 7);
    if ((bit & 7) + (uint64_t)bits > 8)
        x |= (unsigned)b[(bit >> 3) + 1] << (8 - (bit & 7));
    u = (uint8_t)(x & ((1u << bits) - 1u));
    if (v->dt == MIL_DT_INT4)
        return (int8_t)(uint8_t)(u << 4) >> 4;
    return u;
}

/* ---- constexpr_lut_to_dense ---- */

static int infer_lut(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *ix = mx_in(s, 0), *lut = mx_in(s, 1), *o = s->out[0];
    if (!ix || !lut || !mx_is_const(ix) || !mx_is_const(lut))
        return mx_op_error(s, err, "needs constant indices and lut");
    if (mil_dtype_size(lut->dt) == 0)
        return mx_op_error(s, err, "lut must be a numeric tensor");
    o->dt = lut->dt;
    if (mx_in(s, 3)) { /* iOS16: indices uint8[M] packed, lut T[P], shape uint32[K] */
        int64_t shp[MIL_MAX_RANK];
        int n;
        if (mx_const_ints(s, 3, shp, MIL_MAX_RANK, &n, err))
            return -1;
        int64_t P = lut->numel, nbits = 0;
        while ((1ll << nbits) < P)
            nbits++;
        if ((1ll << nbits) != P || nbits < 1 || nbits > 8 || lut->rank != 1)
            return mx_op_error(s, err, "lut size %lld is not 2^1..2^8", (long long)P);
        if (ix->dt != MIL_DT_UINT8)
            return mx_op_error(s, err, "iOS16 indices must be uint8");
        o->rank = n;
        for (int d = 0; d < n; d++) {
            if (shp[d] < 0)
                return mx_op_error(s, err, "negative dim in shape");
            o->shape[d] = shp[d];
        }
        int64_t numel = mil_shape_numel(n, o->shape);
        if (ix->numel * 8 < numel * nbits)
            return mx_op_error(s, err, "indices hold too few bits for shape");
        s->iaux[0] = 16;
        s->iaux[1] = nbits;
        return 0;
    }
    /* iOS18 */
    int K = ix->rank, bits = mx_dtype_bits(ix->dt);
    if (bits < 1 || bits > 8 || mil_dtype_is_float(ix->dt) || ix->dt == MIL_DT_INT8 || ix->dt == MIL_DT_INT4)
        return mx_op_error(s, err, "indices must be uint1..uint8");
    if (K < 1 || lut->rank != K + 2)
        return mx_op_error(s, err, "lut rank must be indices rank + 2");
    if (lut->shape[K] != (1ll << bits))
        return mx_op_error(s, err, "lut has %lld palette entries, indices need %d",
                           (long long)lut->shape[K], 1 << bits);
    int64_t V = lut->shape[K + 1];
    for (int k = 0; k < K; k++)
        if (lut->shape[k] < 1 || ix->shape[k] % lut->shape[k])
            return mx_op_error(s, err, "indices dim %d (%lld) not divisible by lut dim %lld", k,
                               (long long)ix->shape[k], (long long)lut->shape[k]);
    int64_t va = 0;
    if (V > 1) {
        if (mx_param_int(s, 2, 0, &va, err))
            return -1;
        int a;
        if (mx_norm_axis(s, va, K, &a, err))
            return -1;
        va = a;
    }
    o->rank = K;
    memcpy(o->shape, ix->shape, sizeof o->shape);
    o->shape[va] *= V;
    s->iaux[0] = 18;
    s->iaux[1] = bits;
    s->iaux[2] = va;
    return 0;
}

static int run_lut(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *ix = s->in[0][0], *lut = s->in[1][0], *o = s->out[0];
    size_t es = mil_dtype_size(o->dt);
    int bits = (int)s->iaux[1];
    const char *L = lut->data;
    char *od = o->data;
    if (s->iaux[0] == 16) {
        for (int64_t i = 0; i < o->numel; i++) {
            uint64_t bit = (uint64_t)i * (uint64_t)bits;
            const uint8_t *b = ix->data;
            unsigned v = b[bit >> 3] >> (bit & 7);
            if ((bit & 7) + (uint64_t)bits > 8)
                v |= (unsigned)b[(bit >> 3) + 1] << (8 - (bit & 7));
            v &= (1u << bits) - 1u;
            memcpy(od + (size_t)i * es, L + (size_t)v * es, es);
        }
        return 0;
    }
    int K = ix->rank, va = (int)s->iaux[2];
    int64_t V = lut->shape[K + 1], P = lut->shape[K];
    int64_t B[MIL_MAX_RANK], lst[MIL_MAX_RANK + 2], ost[MIL_MAX_RANK], idx[MIL_MAX_RANK] = {0};
    mx_strides(K + 2, lut->shape, lst);
    mx_strides(K, o->shape, ost);
    for (int k = 0; k < K; k++)
        B[k] = ix->shape[k] / lut->shape[k];
    (void)P;
    for (int64_t i = 0; i < ix->numel; i++) {
        int64_t q = q_at(ix, i);
        int64_t loff = q * lst[K], ooff = 0;
        for (int k = 0; k < K; k++) {
            loff += (idx[k] / B[k]) * lst[k];
            ooff += (k == va ? idx[k] * V : idx[k]) * ost[k];
        }
        for (int64_t v = 0; v < V; v++)
            memcpy(od + (size_t)(ooff + v * ost[va]) * es, L + (size_t)(loff + v) * es, es);
        for (int k = K - 1; k >= 0; k--) {
            if (++idx[k] < ix->shape[k])
                break;
            idx[k] = 0;
        }
    }
    return 0;
}

/* ---- constexpr_affine_dequantize ---- */

static int infer_affine(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *q = mx_in(s, 0), *zp = mx_in(s, 1), *sc = mx_in(s, 2), *o = s->out[0];
    if (!q || !zp || !sc || !mx_is_const(q) || !mx_is_const(zp) || !mx_is_const(sc))
        return mx_op_error(s, err, "needs constant quantized_data, zero_point and scale");
    int64_t axis;
    if (mx_param_int(s, 3, 0, &axis, err))
        return -1;
    int a;
    if (mx_norm_axis(s, axis, q->rank, &a, err))
        return -1;
    if ((sc->numel != 1 && sc->numel != q->shape[a]) || (zp->numel != 1 && zp->numel != q->shape[a]))
        return mx_op_error(s, err, "scale/zero_point must be scalars or have %lld elements",
                           (long long)q->shape[a]);
    o->rank = q->rank;
    memcpy(o->shape, q->shape, sizeof o->shape);
    o->dt = sc->dt;
    s->iaux[0] = a;
    return 0;
}

static int run_affine(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *q = s->in[0][0], *zp = s->in[1][0], *sc = s->in[2][0], *o = s->out[0];
    int a = (int)s->iaux[0];
    int64_t D = q->shape[a], inner = mil_shape_numel(q->rank - a - 1, q->shape + a + 1);
    for (int64_t i = 0; i < o->numel; i++) {
        int64_t ch = (i / inner) % D;
        float z = mil_ld_f32(zp->data, zp->dt, zp->numel == 1 ? 0 : ch);
        float f = mil_ld_f32(sc->data, sc->dt, sc->numel == 1 ? 0 : ch);
        mil_st_f32(o->data, o->dt, i, f * ((float)q_at(q, i) - z));
    }
    return 0;
}

/* ---- constexpr_blockwise_shift_scale ---- */

static int infer_bss(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *d = mx_in(s, 0), *sc = mx_in(s, 1), *off = mx_in(s, 2), *o = s->out[0];
    if (!d || !sc || !mx_is_const(d) || !mx_is_const(sc) || (off && !mx_is_const(off)))
        return mx_op_error(s, err, "needs constant data and scale");
    if (sc->rank != d->rank || (off && (off->rank != sc->rank ||
                                        memcmp(off->shape, sc->shape, sizeof(int64_t) * (size_t)sc->rank))))
        return mx_op_error(s, err, "scale/offset rank must equal data rank");
    for (int k = 0; k < d->rank; k++)
        if (sc->shape[k] < 1 || d->shape[k] % sc->shape[k])
            return mx_op_error(s, err, "data dim %d not divisible by scale dim", k);
    o->rank = d->rank;
    memcpy(o->shape, d->shape, sizeof o->shape);
    o->dt = sc->dt;
    return 0;
}

static int run_bss(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *d = s->in[0][0], *sc = s->in[1][0], *off = mx_in(s, 2), *o = s->out[0];
    int r = d->rank;
    int64_t idx[MIL_MAX_RANK] = {0}, sst[MIL_MAX_RANK], B[MIL_MAX_RANK];
    mx_strides(r, sc->shape, sst);
    for (int k = 0; k < r; k++)
        B[k] = d->shape[k] / sc->shape[k];
    int dfl = mil_dtype_is_float(d->dt);
    for (int64_t i = 0; i < d->numel; i++) {
        int64_t so = 0;
        for (int k = 0; k < r; k++)
            so += (idx[k] / B[k]) * sst[k];
        float x = dfl ? mil_ld_f32(d->data, d->dt, i) : (float)q_at(d, i);
        float z = !off ? 0.0f
                  : mil_dtype_is_float(off->dt) ? mil_ld_f32(off->data, off->dt, so)
                                                : (float)q_at(off, so);
        mil_st_f32(o->data, o->dt, i, mil_ld_f32(sc->data, sc->dt, so) * (x - z));
        for (int k = r - 1; k >= 0; k--) {
            if (++idx[k] < d->shape[k])
                break;
            idx[k] = 0;
        }
    }
    return 0;
}

/* ---- constexpr_cast ---- */

static int infer_ccast(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x || !mx_is_const(x) || mil_dtype_size(x->dt) == 0)
        return mx_op_error(s, err, "needs a constant source_val");
    const char *dt = mx_param_str(s, 1, NULL);
    if (dt && strcmp(dt, "fp32") == 0)
        o->dt = MIL_DT_FP32;
    else if (dt && strcmp(dt, "fp16") == 0)
        o->dt = MIL_DT_FP16;
    else if (o->dt == MIL_DT_INVALID)
        return mx_op_error(s, err, "needs output_dtype fp16 or fp32");
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
    return 0;
}

static int run_ccast(mx_ctx *c, const mx_step *s)
{
    (void)c;
    mil_convert(s->in[0][0]->data, s->in[0][0]->dt, s->out[0]->data, s->out[0]->dt, s->out[0]->numel);
    return 0;
}

const mx_opdef mx_ops_const[] = {
    {"const", {NULL}, infer_const, run_nothing, MX_F_LITERAL},
    {"constexpr_lut_to_dense", {"indices", "lut", "vector_axis", "shape", NULL}, infer_lut, run_lut,
     MX_F_PURE},
    {"constexpr_affine_dequantize", {"quantized_data", "zero_point", "scale", "axis", NULL},
     infer_affine, run_affine, MX_F_PURE},
    {"constexpr_blockwise_shift_scale", {"data", "scale", "offset", NULL}, infer_bss, run_bss,
     MX_F_PURE},
    {"constexpr_cast", {"source_val", "output_dtype", NULL}, infer_ccast, run_ccast, MX_F_PURE},
    {NULL, {NULL}, NULL, NULL, 0},
};
