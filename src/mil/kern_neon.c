/*
 * kern_neon.c — the aarch64 NEON kernels (baseline Armv8-A: no dotprod needed).
 *
 * fp32 path: 16 weights at a time.
 *   LUT4  nibbles split and zipped into 16 byte indices; the 16 fp32 entries are one
 *         64-byte table, so each group of 4 weights is one tbl4 with byte indices
 *         4*i + {0,1,2,3};
 *   LUT6, LUT8  indices unpacked by vector ops, entries fetched by scalar loads (the
 *         palettes do not fit a tbl);
 *   fp16 fcvtl; fp32 loads (any K: scalar tail).
 * int8 path: 16 weights at a time as signed bytes looked up by tbl1 (LUT4, 16 entries)
 *   or tbl4 (LUT6, 64 entries), or the int8 weights precomputed for LUT8; products by
 *   smull (int16, |w x| <= 127^2) and sadalp into int32.
 * Each decoded block serves up to 4 rows of X.
 *
 * Covered: fp32/fp16 weights with any K; LUT 4/6/8 with K and gk multiples of 16. The
 * rest returns -1 (the portable kernels run).
 */
#include "mil/kern_internal.h"

#if defined(__aarch64__)
#include <arm_neon.h>

enum { D32, D16, L4, L6, L8 };

static int code_of(const kn_weight *w)
{
    if (w->kind == KN_W_F32)
        return D32;
    if (w->kind == KN_W_F16)
        return D16;
    return w->bits == 4 ? L4 : w->bits == 6 ? L6 : w->bits == 8 ? L8 : -1;
}

static inline int blk16(int code) { return code == D32 ? 64 : code == D16 ? 32 : code == L4 ? 8 : code == L6 ? 12 : 16; }

static const void *row_of(int code, const kn_weight *w, int64_t n)
{
    if (code == D32)
        return (const float *)w->data + n * w->K;
    if (code == D16)
        return (const uint16_t *)w->data + n * w->K;
    return (const uint8_t *)w->data + n * w->K * w->bits / 8;
}

/* 16 indices of the block at b, one per byte, in order. */
static inline __attribute__((always_inline)) uint8x16_t idx16(int code, const uint8_t *b)
{
    if (code == L4) {
        uint8x8_t v = vld1_u8(b);
        uint8x8_t lo = vand_u8(v, vdup_n_u8(15)), hi = vshr_n_u8(v, 4);
        return vcombine_u8(vzip1_u8(lo, hi), vzip2_u8(lo, hi));
    }
    if (code == L6) {
        /* 12 bytes (no over-read): 3 bytes per 32-bit lane, then 4 six-bit fields to bytes */
        uint8x16_t z = vcombine_u8(vld1_u8(b), vreinterpret_u8_u32(vld1_lane_u32((const uint32_t *)(const void *)(b + 8),
                                                                                  vdup_n_u32(0), 0)));
        static const uint8_t SP[16] = {0, 1, 2, 255, 3, 4, 5, 255, 6, 7, 8, 255, 9, 10, 11, 255};
        uint32x4_t d = vreinterpretq_u32_u8(vqtbl1q_u8(z, vld1q_u8(SP)));
        uint32x4_t r = vandq_u32(d, vdupq_n_u32(0x3f));
        r = vorrq_u32(r, vandq_u32(vshlq_n_u32(d, 2), vdupq_n_u32(0x3f00)));
        r = vorrq_u32(r, vandq_u32(vshlq_n_u32(d, 4), vdupq_n_u32(0x3f0000)));
        r = vorrq_u32(r, vandq_u32(vshlq_n_u32(d, 6), vdupq_n_u32(0x3f000000)));
        return vreinterpretq_u8_u32(r);
    }
    return vld1q_u8(b);
}

/* ---- fp32 path ---- */

typedef struct pal {
    uint8x16x4_t t; /* LUT4: the 16 fp32 entries as bytes */
    const float *f;
} pal;

static const uint8_t REP[4][16] = {
    {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
    {4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7},
    {8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11},
    {12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15},
};
static const uint8_t OFS[16] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};

/* The 16 weights of the block at b, as 4 vectors. */
static inline __attribute__((always_inline)) void dec16(int code, const uint8_t *b, const pal *P, float32x4_t *w)
{
    if (code == D32) {
        for (int j = 0; j < 4; j++)
            w[j] = vld1q_f32((const float *)(const void *)b + 4 * j);
        return;
    }
    if (code == D16) {
        const float16_t *h = (const float16_t *)(const void *)b;
        for (int j = 0; j < 2; j++) {
            float16x8_t v = vld1q_f16(h + 8 * j);
            w[2 * j] = vcvt_f32_f16(vget_low_f16(v));
            w[2 * j + 1] = vcvt_high_f32_f16(v);
        }
        return;
    }
    uint8x16_t ix = idx16(code, b);
    if (code == L4) {
        uint8x16_t ofs = vld1q_u8(OFS);
        for (int j = 0; j < 4; j++) {
            uint8x16_t bi = vaddq_u8(vshlq_n_u8(vqtbl1q_u8(ix, vld1q_u8(REP[j])), 2), ofs);
            w[j] = vreinterpretq_f32_u8(vqtbl4q_u8(P->t, bi));
        }
        return;
    }
    uint8_t t[16];
    vst1q_u8(t, ix);
    for (int j = 0; j < 4; j++) {
        float v[4] = {P->f[t[4 * j]], P->f[t[4 * j + 1]], P->f[t[4 * j + 2]], P->f[t[4 * j + 3]]};
        w[j] = vld1q_f32(v);
    }
}

static inline __attribute__((always_inline)) void f32_rows(int code, int MB, const kn_weight *w, const kn_prep *pr,
                                                           const float *const *xr, int64_t n, float *out)
{
    int64_t K = w->K, gk = code >= L4 ? w->gk : K, kp = K / gk;
    const uint8_t *row = row_of(code, w, n);
    const int bb = blk16(code);
    float32x4_t acc[4][4];
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < 4; j++)
            acc[m][j] = vdupq_n_f32(0);
    float tail[4] = {0, 0, 0, 0};
    for (int64_t s = 0; s < kp; s++) {
        pal P;
        P.f = NULL;
        if (code >= L4) {
            P.f = pr->pal + ((n / w->gn) * kp + s) * pr->E;
            if (code == L4)
                P.t = vld1q_u8_x4((const uint8_t *)P.f);
        }
        int64_t k = s * gk, ke = k + gk, kf = k + (gk & ~(int64_t)15);
        const uint8_t *bp = row + k / 16 * bb;
        for (; k < kf; k += 16, bp += bb) {
            float32x4_t wv[4];
            dec16(code, bp, &P, wv);
            for (int m = 0; m < MB; m++)
                for (int j = 0; j < 4; j++)
                    acc[m][j] = vfmaq_f32(acc[m][j], wv[j], vld1q_f32(xr[m] + k + 4 * j));
        }
        for (; k < ke; k++) { /* dense tail */
            float wv = code == D32 ? ((const float *)(const void *)row)[k]
                                   : an_fp16_to_fp32(((const uint16_t *)(const void *)row)[k]);
            for (int m = 0; m < MB; m++)
                tail[m] += wv * xr[m][k];
        }
    }
    for (int m = 0; m < MB; m++)
        out[m] = vaddvq_f32(vaddq_f32(vaddq_f32(acc[m][0], acc[m][1]), vaddq_f32(acc[m][2], acc[m][3]))) + tail[m];
}

static inline __attribute__((always_inline)) void f32_all(int code, const kn_weight *w, const kn_act *a,
                                                          const float *bias, void *y, int y_f16, int64_t ym,
                                                          int64_t yn, int64_t n0, int64_t n1)
{
    for (int64_t n = n0; n < n1; n++) {
        float bn = bias ? bias[n] : 0.0f;
        for (int64_t m0 = 0; m0 < a->M; m0 += 4) {
            int mb = a->M - m0 < 4 ? (int)(a->M - m0) : 4;
            const float *xr[4];
            for (int m = 0; m < 4; m++)
                xr[m] = a->x + (m0 + (m < mb ? m : 0)) * a->K;
            float out[4];
            switch (mb) {
            case 1: f32_rows(code, 1, w, w->prep, xr, n, out); break;
            case 2: f32_rows(code, 2, w, w->prep, xr, n, out); break;
            case 3: f32_rows(code, 3, w, w->prep, xr, n, out); break;
            default: f32_rows(code, 4, w, w->prep, xr, n, out); break;
            }
            for (int m = 0; m < mb; m++)
                kn_store(y, y_f16, (m0 + m) * ym + n * yn, out[m] + bn);
        }
    }
}

/* ---- int8 path ---- */

static inline __attribute__((always_inline)) int8x16_t dec16_i8(int code, const uint8_t *row, const int8_t *w8row,
                                                                int64_t k, const int8x16x4_t *T)
{
    if (code == L4)
        return vqtbl1q_s8(T->val[0], idx16(L4, row + k / 2));
    if (code == L6)
        return vqtbl4q_s8(*T, idx16(L6, row + k / 4 * 3));
    return vld1q_s8(w8row + k);
}

static inline __attribute__((always_inline)) int32x4_t dot16(int32x4_t acc, int8x16_t w, int8x16_t x)
{
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    return vpadalq_s16(acc, vmull_high_s8(w, x));
}

static inline __attribute__((always_inline)) void i8_rows(int code, int MB, const kn_weight *w, const kn_prep *pr,
                                                          const kn_act *a, int64_t m0, int64_t n, float *out)
{
    int64_t K = w->K, gk = w->gk, kp = K / gk;
    const uint8_t *row = row_of(code, w, n);
    const int8_t *w8row = pr->w8 ? pr->w8 + n * K : NULL;
    const int8_t *q[4];
    for (int m = 0; m < 4; m++)
        q[m] = a->q + (m0 + (m < MB ? m : 0)) * a->Kp;
    float f[4] = {0, 0, 0, 0};
    for (int64_t s = 0; s < kp; s++) {
        int64_t p = (n / w->gn) * kp + s;
        int8x16x4_t T;
        for (int j = 0; j < 4; j++)
            T.val[j] = vdupq_n_s8(0);
        if (code == L4)
            T.val[0] = vld1q_s8(pr->qpal + p * 16);
        else if (code == L6)
            T = vld1q_s8_x4(pr->qpal + p * 64);
        int32x4_t acc[4][2];
        for (int m = 0; m < 4; m++)
            acc[m][0] = acc[m][1] = vdupq_n_s32(0);
        int64_t k = s * gk, ke = k + gk;
        for (; k + 32 <= ke; k += 32) {
            int8x16_t w0 = dec16_i8(code, row, w8row, k, &T), w1 = dec16_i8(code, row, w8row, k + 16, &T);
            for (int m = 0; m < MB; m++) {
                acc[m][0] = dot16(acc[m][0], w0, vld1q_s8(q[m] + k));
                acc[m][1] = dot16(acc[m][1], w1, vld1q_s8(q[m] + k + 16));
            }
        }
        if (k < ke) {
            int8x16_t w0 = dec16_i8(code, row, w8row, k, &T);
            for (int m = 0; m < MB; m++)
                acc[m][0] = dot16(acc[m][0], w0, vld1q_s8(q[m] + k));
        }
        for (int m = 0; m < MB; m++)
            f[m] += pr->qscale[p] * (float)vaddvq_s32(vaddq_s32(acc[m][0], acc[m][1]));
    }
    for (int m = 0; m < MB; m++)
        out[m] = f[m];
}

static inline __attribute__((always_inline)) void i8_all(int code, const kn_weight *w, const kn_act *a,
                                                         const float *bias, void *y, int y_f16, int64_t ym,
                                                         int64_t yn, int64_t n0, int64_t n1)
{
    for (int64_t n = n0; n < n1; n++) {
        float bn = bias ? bias[n] : 0.0f;
        for (int64_t m0 = 0; m0 < a->M; m0 += 4) {
            int mb = a->M - m0 < 4 ? (int)(a->M - m0) : 4;
            float out[4];
            switch (mb) {
            case 1: i8_rows(code, 1, w, w->prep, a, m0, n, out); break;
            case 2: i8_rows(code, 2, w, w->prep, a, m0, n, out); break;
            case 3: i8_rows(code, 3, w, w->prep, a, m0, n, out); break;
            default: i8_rows(code, 4, w, w->prep, a, m0, n, out); break;
            }
            for (int m = 0; m < mb; m++)
                kn_store(y, y_f16, (m0 + m) * ym + n * yn, out[m] * a->qscale[m0 + m] + bn);
        }
    }
}

#define ARGS const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym, int64_t yn, \
             int64_t n0, int64_t n1
#define PASS w, a, bias, y, y_f16, ym, yn, n0, n1
#define INST(name, code) \
    static void name##_##code(ARGS) { name##_all(code, PASS); }
INST(f32, D32)
INST(f32, D16)
INST(f32, L4)
INST(f32, L6)
INST(f32, L8)
INST(i8, L4)
INST(i8, L6)
INST(i8, L8)

int kn_matmul_neon(ARGS)
{
    int code = code_of(w);
    if (code < 0)
        return -1;
    if (w->path == KN_I16 || w->wt)
        return -1;
    if (w->path == KN_I8) {
        /* int32 lanes: 8 pairwise sums of 127^2 per 16 columns */
        if (w->K % 16 || w->gk % 16 || w->gk > 65536)
            return -1;
        if (code == L4)
            i8_L4(PASS);
        else if (code == L6)
            i8_L6(PASS);
        else
            i8_L8(PASS);
        return 0;
    }
    if (code >= L4 && (w->K % 16 || w->gk % 16))
        return -1;
    switch (code) {
    case D32: f32_D32(PASS); break;
    case D16: f32_D16(PASS); break;
    case L4: f32_L4(PASS); break;
    case L6: f32_L6(PASS); break;
    default: f32_L8(PASS); break;
    }
    return 0;
}

#endif
