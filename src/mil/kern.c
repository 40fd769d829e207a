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

int kn_prepare(kn_weight *w, kn_path path, an_error *err)
{
    w->prep = NULL;
    w->prep_bytes = 0;
    w->path = KN_F32;
    if (w->N < 1 || w->K < 1 || !w->data)
        return an_errorf(err, "kern: weight of %lld x %lld with data %p", (long long)w->N,
                         (long long)w->K, w->data);
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
    int i8 = path == KN_I8;
    if (P > ((int64_t)1 << 40) / E)
        return an_errorf(err, "kern: %lld palettes is too many", (long long)P);
    size_t npe = (size_t)P * (size_t)E;
    size_t o_pal = 0, o_qpal = align64(npe * sizeof(float));
    size_t o_upal = o_qpal + (i8 ? align64(npe) : 0);
    size_t o_qs = o_upal + (i8 ? align64(npe) : 0);
    size_t o_w8 = o_qs + (i8 ? align64((size_t)P * sizeof(float)) : 0);
    size_t o_p16 = o_w8;
    int p16 = !i8 && (b == 8 || b == 6) && !w->lut_f32;
    if (p16)
        o_w8 += align64(npe * sizeof(uint16_t));
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
    pr->pal = (float *)(base + o_pal);
    for (size_t i = 0; i < npe; i++)
        pr->pal[i] = lut_entry(w, (int64_t)i);
    if (p16) {
        pr->pal16 = (uint16_t *)(base + o_p16);
        memcpy(pr->pal16, w->lut, npe * sizeof(uint16_t));
    }
    if (i8) {
        pr->qpal = (int8_t *)(base + o_qpal);
        pr->upal = (uint8_t *)(base + o_upal);
        pr->qscale = (float *)(base + o_qs);
        for (int64_t p = 0; p < P; p++) {
            const float *pl = pr->pal + p * E;
            float amax = 0;
            for (int e = 0; e < E; e++)
                if (fabsf(pl[e]) > amax)
                    amax = fabsf(pl[e]);
            /* non-finite entries would poison the integer path: keep them out of it */
            if (!isfinite(amax))
                amax = 0;
            float s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
            pr->qscale[p] = s;
            for (int e = 0; e < E; e++) {
                float q = isfinite(pl[e]) ? nearbyintf(pl[e] * inv) : 0.0f;
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                pr->qpal[p * E + e] = (int8_t)q;
                pr->upal[p * E + e] = (uint8_t)((int)q + 128);
            }
        }
        if (b == 8) {
            pr->w8 = (int8_t *)(base + o_w8);
            const uint8_t *ix = w->data;
            for (int64_t n = 0; n < w->N; n++)
                for (int64_t k = 0; k < w->K; k++)
                    pr->w8[n * w->K + k] = pr->qpal[kn_pal_of(w, pr, n, k) * E + ix[n * w->K + k]];
        }
    }
    w->prep = pr;
    w->prep_bytes = hdr + total;
    w->path = i8 ? KN_I8 : KN_F32;
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

/* buf layout: x [M][K] fp32 | xd [M][K] | q [M][Kp] int8 | qscale [M] | qsum [M][Kp/64 + 1]. */
size_t kn_act_bytes(int64_t M, int64_t K)
{
    int64_t Kp = round_up(K, KN_QBLK);
    return 2 * align64((size_t)(M * K) * sizeof(float)) + align64((size_t)(M * Kp)) +
           align64((size_t)M * sizeof(float)) + align64((size_t)(M * (Kp / KN_QBLK + 1)) * sizeof(int32_t));
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
    if (path != KN_I8) {
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
    int64_t nb = Kp / KN_QBLK;
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        int8_t *qr = q + m * Kp;
        float amax = 0;
        for (int64_t k = 0; k < K; k++) {
            float v = fabsf(xr[k]);
            amax = v > amax ? v : amax;
        }
        if (!isfinite(amax))
            amax = 0; /* as for palettes: the int8 path cannot carry inf/NaN */
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        qs[m] = amax / 127.0f;
        /* round half away from zero by hand: nearbyintf is a library call on baseline
         * x86-64, and this loop runs on every call (the compiler vectorizes this one) */
        for (int64_t k = 0; k < K; k++) {
            float v = xr[k] * inv;
            v = v == v ? v : 0.0f; /* NaN (and inf * 0) */
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            qr[k] = (int8_t)(int)(v + (v >= 0 ? 0.5f : -0.5f));
        }
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
        return ((const float *)w->data)[n * w->K + k];
    case KN_W_F16:
        return an_fp16_to_fp32(((const uint16_t *)w->data)[n * w->K + k]);
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
