/*
 * kern.c — preparation of weights and activations, the plain reference, and the choice
 * of implementation (kern_c.c portable, kern_avx2.c, kern_avx512.c, kern_neon.c).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "mil/kern_internal.h"

/* ---- implementation choice ---- */

static int isa_has(const char *isa)
{
    unsigned f = an_cpu_features();
    (void)f;
    if (strcmp(isa, "c") == 0)
        return 1;
#if defined(__x86_64__)
    if (strcmp(isa, "avx2") == 0)
        return (f & AN_CPU_AVX2) && (f & AN_CPU_FMA) && (f & AN_CPU_F16C);
    if (strcmp(isa, "avx512") == 0) {
        /* vpermb / vpmultishiftqb (VBMI) and vpdpbusd (VNNI) are used throughout; cpu.h
         * has no VBMI flag, so ask the compiler's cpuid helper for that one. */
        __builtin_cpu_init();
        return (f & AN_CPU_AVX512F) && (f & AN_CPU_AVX512BW) && (f & AN_CPU_AVX512VNNI) &&
               (f & AN_CPU_F16C) && (f & AN_CPU_FMA) && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vbmi");
    }
#endif
#if defined(__aarch64__)
    if (strcmp(isa, "neon") == 0)
        return 1;
#endif
    return 0;
}

/* 0 = automatic; else 1 + index into ISAS. */
static const char *const ISAS[] = {"c", "avx2", "avx512", "neon"};
static _Atomic int forced;
static _Atomic int auto_isa = -1;

static int isa_index(void)
{
    int f = atomic_load(&forced);
    if (f)
        return f - 1;
    int a = atomic_load(&auto_isa);
    if (a < 0) {
        a = 0;
        for (int i = 3; i > 0; i--)
            if (isa_has(ISAS[i])) {
                a = i;
                break;
            }
        atomic_store(&auto_isa, a);
    }
    return a;
}

const char *kn_isa(void) { return ISAS[isa_index()]; }

int kn_force_isa(const char *isa)
{
    if (!isa) {
        atomic_store(&forced, 0);
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(isa, ISAS[i]) == 0) {
            if (!isa_has(isa))
                return -1;
            atomic_store(&forced, i + 1);
            return 0;
        }
    return -1;
}

kn_path kn_default_path(void) { return isa_index() == 2 ? KN_I16 : KN_F32; }

void kn_matmul(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
               int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    if (n0 >= n1 || a->M <= 0)
        return;
    switch (isa_index()) {
#if defined(__x86_64__)
    case 2:
        if (kn_matmul_avx512(w, a, bias, y, y_f16, ym, yn, n0, n1) == 0)
            return;
        /* shapes the AVX-512 version leaves out may suit AVX2 */
        __attribute__((fallthrough));
    case 1:
        if (kn_matmul_avx2(w, a, bias, y, y_f16, ym, yn, n0, n1) == 0)
            return;
        break;
#endif
#if defined(__aarch64__)
    case 3:
        if (kn_matmul_neon(w, a, bias, y, y_f16, ym, yn, n0, n1) == 0)
            return;
        break;
#endif
    default:
        break;
    }
    kn_matmul_c(w, a, bias, y, y_f16, ym, yn, n0, n1);
}

/* ---- weights ---- */

static float lut_entry(const kn_weight *w, int64_t i)
{
    return w->lut_f32 ? ((const float *)w->lut)[i] : an_fp16_to_fp32(((const uint16_t *)w->lut)[i]);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* A palette's largest magnitude (0 when it is not finite: non-finite entries would poison
 * the integer paths, so they are kept out of it). */
static float pal_amax(const float *pl, int E)
{
    float amax = 0;
    for (int e = 0; e < E; e++)
        if (fabsf(pl[e]) > amax)
            amax = fabsf(pl[e]);
    if (!isfinite(amax))
        amax = 0;
    return amax;
}

/* Entry v on the integer grid that maps amax to qmax. */
static int quant_entry(float v, float amax, int qmax)
{
    if (!(amax > 0) || !isfinite(v))
        return 0;
    float q = nearbyintf(v * ((float)qmax / amax));
    return q > (float)qmax ? qmax : q < -(float)qmax ? -qmax : (int)q;
}

int kn_prepare(kn_weight *w, kn_path path, an_error *err)
{
    w->prep = NULL;
    w->prep_bytes = 0;
    w->path = KN_F32;
    if (w->N < 1 || w->K < 1 || !w->data)
        return an_errorf(err, "kern: weight of %lld x %lld with data %p", (long long)w->N,
                         (long long)w->K, w->data);
    if (w->wt && w->kind == KN_W_LUT)
        return an_errorf(err, "kern: transposed LUT weights are not supported");
    if (w->kind != KN_W_LUT) {
        if (w->kind != KN_W_F32 && w->kind != KN_W_F16)
            return an_errorf(err, "kern: unknown weight kind %d", (int)w->kind);
        /* No int8 path for dense weights: fp16 weights keep fp32 arithmetic. */
        return 0;
    }
    int b = w->bits;
    if (!(b == 1 || b == 2 || b == 3 || b == 4 || b == 6 || b == 8) || !w->lut)
        return an_errorf(err, "kern: LUT weights with %d-bit indices are not supported", b);
    if (w->gn < 1 || w->gk < 1 || w->N % w->gn || w->K % w->gk)
        return an_errorf(err, "kern: palette groups %lld x %lld do not divide %lld x %lld",
                         (long long)w->gn, (long long)w->gk, (long long)w->N, (long long)w->K);
    int64_t kp = w->K / w->gk, P = (w->N / w->gn) * kp;
    int E = 1 << b;
    int i8 = path == KN_I8, i16 = path == KN_I16;
    int ES = E < 32 ? 32 : E;
    if (P > ((int64_t)1 << 40) / E)
        return an_errorf(err, "kern: %lld palettes is too many", (long long)P);
    size_t npe = (size_t)P * (size_t)E;
    /* the 16-bit path keeps only its integer tables (fp32 palettes would add 4 bytes per
     * entry of resident memory that no kernel of the path reads) */
    size_t o_pal = 0, o_qpal = i16 ? 0 : align64(npe * sizeof(float));
    size_t o_upal = o_qpal + (i8 ? align64(npe) : 0);
    size_t o_qs = o_upal + (i8 ? align64(npe) : 0);
    size_t o_w8 = o_qs + (i8 || i16 ? align64((size_t)P * sizeof(float)) : 0);
    size_t o_p16 = o_w8;
    int p16 = path == KN_F32 && (b == 8 || b == 6) && !w->lut_f32;
    if (p16)
        o_w8 += align64(npe * sizeof(uint16_t));
    size_t o_wpal = o_w8, o_wlo = o_wpal, o_whi = o_wpal;
    if (i16) {
        o_wlo = o_wpal + (E < 64 ? align64((size_t)P * (size_t)ES * sizeof(int16_t)) : 0);
        o_whi = o_wlo + (E >= 64 ? align64(npe) : 0);
        o_w8 = o_whi + (E >= 64 ? align64(npe) : 0);
    }
    size_t total = o_w8;
    if (i8 && b == 8) {
        if ((uint64_t)w->N > ((uint64_t)1 << 40) / (uint64_t)w->K)
            return an_errorf(err, "kern: weight too large");
        total += align64((size_t)w->N * (size_t)w->K);
    }
    size_t hdr = align64(sizeof(kn_prep));
    char *mem = NULL;
    if (posix_memalign((void **)&mem, 64, hdr + total))
        return an_errorf(err, "kern: out of memory preparing a %lld x %lld weight", (long long)w->N,
                         (long long)w->K);
    kn_prep *pr = (kn_prep *)mem;
    char *base = mem + hdr;
    memset(pr, 0, sizeof *pr);
    pr->P = P;
    pr->kp = kp;
    pr->E = E;
    if (!i16) {
        pr->pal = (float *)(base + o_pal);
        for (size_t i = 0; i < npe; i++)
            pr->pal[i] = lut_entry(w, (int64_t)i);
    }
    if (p16) {
        pr->pal16 = (uint16_t *)(base + o_p16);
        memcpy(pr->pal16, w->lut, npe * sizeof(uint16_t));
    }
    int qmax = i8 ? 127 : KN_I16_QW;
    float *amax = NULL;
    if (i8 || i16) {
        pr->qscale = (float *)(base + o_qs);
        /* the scales' slot holds the magnitudes until the entries are quantized */
        amax = pr->qscale;
        for (int64_t p = 0; p < P && i8; p++)
            amax[p] = pal_amax(pr->pal + p * E, E);
    }
    if (i16) {
        pr->ES = ES;
        pr->wscale = pr->qscale;
        if (E < 64)
            pr->wpal = (int16_t *)(base + o_wpal);
        else
            pr->wlo = (uint8_t *)(base + o_wlo), pr->whi = (uint8_t *)(base + o_whi);
        float pl[256];
        for (int64_t p = 0; p < P; p++) {
            for (int e = 0; e < E; e++)
                pl[e] = lut_entry(w, p * E + e);
            amax[p] = pal_amax(pl, E);
            for (int e = 0; e < ES; e++) {
                int16_t q = (int16_t)quant_entry(pl[e % E], amax[p], qmax);
                if (E < 64) {
                    pr->wpal[p * ES + e] = q;
                } else {
                    pr->wlo[p * E + e] = (uint8_t)((uint16_t)q & 0xff);
                    pr->whi[p * E + e] = (uint8_t)((uint16_t)q >> 8);
                }
            }
        }
    }
    if (i8) {
        pr->qpal = (int8_t *)(base + o_qpal);
        pr->upal = (uint8_t *)(base + o_upal);
        for (int64_t p = 0; p < P; p++)
            for (int e = 0; e < E; e++) {
                int q = quant_entry(pr->pal[p * E + e], amax[p], qmax);
                pr->qpal[p * E + e] = (int8_t)q;
                pr->upal[p * E + e] = (uint8_t)(q + 128);
            }
        if (b == 8) {
            pr->w8 = (int8_t *)(base + o_w8);
            const uint8_t *ix = w->data;
            for (int64_t n = 0; n < w->N; n++)
                for (int64_t k = 0; k < w->K; k++)
                    pr->w8[n * w->K + k] = pr->qpal[kn_pal_of(w, pr, n, k) * E + ix[n * w->K + k]];
        }
    }
    for (int64_t p = 0; amax && p < P; p++)
        pr->qscale[p] = amax[p] / (float)qmax;
    w->prep = pr;
    w->prep_bytes = hdr + total;
    w->path = path == KN_I8 || path == KN_I16 ? path : KN_F32;
    return 0;
}

void kn_release(kn_weight *w)
{
    free(w->prep);
    w->prep = NULL;
    w->prep_bytes = 0;
}

/* ---- activations ---- */

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* buf layout: x [M][K] fp32 | xd [M][K] | q [M][Kp] int8 | qscale [M] | qsum [M][Kp/64 + 1]
 * | q16 [M][Kp] int16 | two reorderings of q16, [Mp][Kp] each (q16e/q16u or p16e/p16u)
 * | xt [K][Mp] fp32. */
size_t kn_act_bytes(int64_t M, int64_t K)
{
    int64_t Kp = round_up(K, KN_QBLK), Mp = round_up(M, 16);
    return 2 * align64((size_t)(M * K) * sizeof(float)) + align64((size_t)(M * Kp)) +
           align64((size_t)M * sizeof(float)) + align64((size_t)(M * (Kp / KN_QBLK + 1)) * sizeof(int32_t)) +
           align64((size_t)(M * Kp) * sizeof(int16_t)) + 2 * align64((size_t)(Mp * Kp) * sizeof(int16_t)) +
           align64((size_t)(Mp * K) * sizeof(float));
}

/* Column of position i (0..63) of a 64-column block in the LUT4 word order (even columns,
 * then odd) and in the byte-unpack order (see kn_act). */
static int order_e(int i) { return i < 32 ? 2 * i : 2 * (i - 32) + 1; }
static int order_u(int i) { return i < 32 ? 16 * (i / 8) + i % 8 : 16 * ((i - 32) / 8) + 8 + (i - 32) % 8; }

/* A row's largest magnitude, 0 when it is not finite (the integer paths' scales). */
static float row_amax(const float *xr, int64_t K)
{
    float amax = 0;
    for (int64_t k = 0; k < K; k++) {
        float v = fabsf(xr[k]);
        amax = v > amax ? v : amax;
    }
    if (!isfinite(amax))
        amax = 0; /* as for palettes: the integer paths cannot carry inf/NaN */
    return amax;
}

/* round half away from zero by hand: nearbyintf is a library call on baseline x86-64, and
 * these loops run on every call (the compiler vectorizes them) */
static inline float quant_one(float v, float inv, float qmax)
{
    v *= inv;
    v = v == v ? v : 0.0f; /* NaN (and inf * 0) */
    v = v > qmax ? qmax : v < -qmax ? -qmax : v;
    return v + (v >= 0 ? 0.5f : -0.5f);
}

static void act_prepare_i16(kn_act *a, const float *x, int64_t M, int64_t K, int64_t Kp, char *b)
{
    int64_t Mp = round_up(M, 16);
    int16_t *q = (int16_t *)b;
    b += align64((size_t)(M * Kp) * sizeof(int16_t));
    int16_t *re = (int16_t *)b;
    b += align64((size_t)(Mp * Kp) * sizeof(int16_t));
    int16_t *ru = (int16_t *)b;
    float *qs = (float *)a->qscale;
    a->q16 = q;
    a->Mp = Mp;
#if defined(__x86_64__)
    if (isa_index() == 2) {
        kn_act_i16_avx512(x, M, K, Kp, qs, q, re, ru, Mp);
        if (M <= 4)
            a->q16e = re, a->q16u = ru;
        else
            a->p16e = re, a->p16u = ru;
        return;
    }
#endif
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        int16_t *qr = q + m * Kp;
        float amax = row_amax(xr, K);
        float inv = amax > 0 ? (float)KN_I16_QX / amax : 0.0f;
        qs[m] = amax / (float)KN_I16_QX;
        for (int64_t k = 0; k < K; k++)
            qr[k] = (int16_t)(int)quant_one(xr[k], inv, (float)KN_I16_QX);
        memset(qr + K, 0, (size_t)(Kp - K) * sizeof(int16_t));
    }
    if (M <= 4) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t k0 = 0; k0 < Kp; k0 += 64)
                for (int i = 0; i < 64; i++) {
                    re[m * Kp + k0 + i] = q[m * Kp + k0 + order_e(i)];
                    ru[m * Kp + k0 + i] = q[m * Kp + k0 + order_u(i)];
                }
        a->q16e = re;
        a->q16u = ru;
        return;
    }
    /* panels: pair j of block k0 holds positions 2j, 2j+1 of the block's order */
    for (int64_t k0 = 0; k0 < Kp; k0 += 64)
        for (int j = 0; j < 32; j++) {
            int16_t *pe = re + ((k0 / 2 + j) * Mp) * 2, *pu = ru + ((k0 / 2 + j) * Mp) * 2;
            int e0 = order_e(2 * j), e1 = order_e(2 * j + 1), u0 = order_u(2 * j), u1 = order_u(2 * j + 1);
            for (int64_t m = 0; m < M; m++) {
                const int16_t *qr = q + m * Kp + k0;
                pe[2 * m] = qr[e0];
                pe[2 * m + 1] = qr[e1];
                pu[2 * m] = qr[u0];
                pu[2 * m + 1] = qr[u1];
            }
            memset(pe + 2 * M, 0, (size_t)(Mp - M) * 2 * sizeof(int16_t));
            memset(pu + 2 * M, 0, (size_t)(Mp - M) * 2 * sizeof(int16_t));
        }
    a->p16e = re;
    a->p16u = ru;
}

void kn_act_prepare(kn_act *a, const void *src, int src_f16, int64_t M, int64_t K, int64_t sm,
                    int64_t sk, kn_path path, void *buf)
{
    int64_t Kp = round_up(K, KN_QBLK);
    char *b = buf;
    float *x = (float *)b;
    b += align64((size_t)(M * K) * sizeof(float));
    float *xd = (float *)b;
    b += align64((size_t)(M * K) * sizeof(float));
    int8_t *q = (int8_t *)b;
    b += align64((size_t)(M * Kp));
    float *qs = (float *)b;
    b += align64((size_t)M * sizeof(float));
    int32_t *qsum = (int32_t *)b;
    a->M = M;
    a->K = K;
    a->Kp = Kp;
    a->x = x;
    a->xd = xd;
    a->q = q;
    a->qscale = qs;
    a->qsum = qsum;
    a->q16 = a->q16e = a->q16u = a->p16e = a->p16u = NULL;
    a->xt = NULL;
    a->Mp = 0;
#if defined(__x86_64__)
    if (path == KN_I16 && src_f16 && sm == 1 && sk != 1 && M > 4 && isa_index() == 2) {
        int64_t Mp = round_up(M, 16);
        char *r = (char *)qsum + align64((size_t)(M * (Kp / KN_QBLK + 1)) * sizeof(int32_t)) +
                  align64((size_t)(M * Kp) * sizeof(int16_t));
        int16_t *re = (int16_t *)r, *ru = (int16_t *)(r + align64((size_t)(Mp * Kp) * sizeof(int16_t)));
        kn_act_i16_conv_avx512(src, sk, M, K, Kp, Mp, qs, re, ru);
        a->p16e = re, a->p16u = ru, a->Mp = Mp;
        return;
    }
#endif
    if (src_f16 && sk != 1 && sm == 1) {
        /* a conv's [C, S] input: each column k is a contiguous run of the M rows */
        float run[256];
        for (int64_t m0 = 0; m0 < M; m0 += 256) {
            int64_t mn = M - m0 < 256 ? M - m0 : 256;
            for (int64_t k = 0; k < K; k++) {
                an_fp16_to_fp32_n((const uint16_t *)src + k * sk + m0, run, (size_t)mn);
                for (int64_t i = 0; i < mn; i++)
                    x[(m0 + i) * K + k] = run[i];
            }
        }
    } else {
        for (int64_t m = 0; m < M; m++) {
            float *xr = x + m * K;
            if (src_f16) {
                const uint16_t *s = (const uint16_t *)src + m * sm;
                if (sk == 1)
                    an_fp16_to_fp32_n(s, xr, (size_t)K);
                else
                    for (int64_t k = 0; k < K; k++)
                        xr[k] = an_fp16_to_fp32(s[k * sk]);
            } else {
                const float *s = (const float *)src + m * sm;
                if (sk == 1)
                    memcpy(xr, s, (size_t)K * sizeof(float));
                else
                    for (int64_t k = 0; k < K; k++)
                        xr[k] = s[k * sk];
            }
        }
    }
    if (path == KN_F32 && M > 4) {
        int64_t Mp = round_up(M, 16);
        float *xt = (float *)(b + 2 * align64((size_t)(Mp * Kp) * sizeof(int16_t)) +
                              align64((size_t)(M * Kp) * sizeof(int16_t)) +
                              align64((size_t)(M * (Kp / KN_QBLK + 1)) * sizeof(int32_t)));
        for (int64_t k = 0; k < K; k++) {
            for (int64_t m = 0; m < M; m++)
                xt[k * Mp + m] = x[m * K + k];
            for (int64_t m = M; m < Mp; m++)
                xt[k * Mp + m] = 0;
        }
        a->xt = xt;
        a->Mp = Mp;
        return;
    }
    if (path == KN_F32) {
        /* only the decode kernels (M <= 4) read xd; prefill decodes tiles in column order */
        for (int64_t m = 0; m < (M <= 4 ? M : 0); m++) {
            const float *xr = x + m * K;
            float *dr = xd + m * K;
            int64_t k = 0;
            for (; k + 32 <= K; k += 32)
                for (int j = 0; j < 16; j++) {
                    dr[k + j] = xr[k + 2 * j];
                    dr[k + 16 + j] = xr[k + 2 * j + 1];
                }
            memcpy(dr + k, xr + k, (size_t)(K - k) * sizeof(float));
        }
        return;
    }
    if (path == KN_I16) {
        act_prepare_i16(a, x, M, K, Kp, (char *)qsum + align64((size_t)(M * (Kp / KN_QBLK + 1)) * sizeof(int32_t)));
        return;
    }
    int64_t nb = Kp / KN_QBLK;
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        int8_t *qr = q + m * Kp;
        float amax = row_amax(xr, K);
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        qs[m] = amax / 127.0f;
        for (int64_t k = 0; k < K; k++)
            qr[k] = (int8_t)(int)quant_one(xr[k], inv, 127.0f);
        memset(qr + K, 0, (size_t)(Kp - K));
        int32_t *ps = qsum + m * (nb + 1), acc = 0;
        ps[0] = 0;
        for (int64_t j = 0; j < nb; j++) {
            for (int64_t k = j * KN_QBLK; k < (j + 1) * KN_QBLK; k++)
                acc += qr[k];
            ps[j + 1] = acc;
        }
    }
}

/* ---- the reference ---- */

static double ref_weight(const kn_weight *w, int64_t n, int64_t k)
{
    switch (w->kind) {
    case KN_W_F32:
        return ((const float *)w->data)[w->wt ? k * w->N + n : n * w->K + k];
    case KN_W_F16:
        return an_fp16_to_fp32(((const uint16_t *)w->data)[w->wt ? k * w->N + n : n * w->K + k]);
    case KN_W_LUT: {
        unsigned v = kn_index_at(w->data, n * w->K + k, w->bits);
        int64_t p = (n / w->gn) * (w->K / w->gk) + k / w->gk;
        return lut_entry(w, (p << w->bits) + v);
    }
    }
    return 0;
}

void kn_matmul_ref(const kn_weight *w, const float *x, int64_t M, const float *bias, float *y)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < w->N; n++) {
            double s = bias ? bias[n] : 0.0;
            for (int64_t k = 0; k < w->K; k++)
                s += (double)x[m * w->K + k] * ref_weight(w, n, k);
            y[m * w->N + n] = (float)s;
        }
}
