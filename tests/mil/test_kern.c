/*
 * test_kern.c — the matrix kernels (src/mil/kern.h).
 *
 * Every implementation this CPU has (c, avx2, avx512, neon) and both paths run on random
 * shapes (N, K off the SIMD widths, palette groups gn x gk, M = 1, 2, 3, 7, 64, 65) with
 * random weights from a seeded generator, against kn_matmul_ref. The reference itself is
 * checked against the engine's constexpr_lut_to_dense (a MIL program decoding the same
 * indices and palettes), so it is not its own judge.
 *
 * Tolerances: the fp32 path differs from the double reference by summation order only:
 * |y - ref| <= 1e-5 * sum_k |x_k w_k| (plus fp16 rounding of the result when asked).
 * The int8 path's error is bounded by its two quantization steps: with sx = max|x|/127
 * per activation row and sw = max|palette|/127 per palette, |x - sx qx| <= sx/2 and
 * |w - sw qw| <= sw/2, so |x w - sx qx sw qw| <= |x| sw/2 + |w| sx/2 + sx sw/4 per term;
 * the test checks the sum of that bound over k (plus the same 1e-5 rounding slack).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "mil/kern.h"
#include "test.h"
/* KERN_TEST_STANDALONE builds this test from the kernel sources alone (for a cross build
 * run under qemu, e.g. the NEON kernels on an x86 machine); the engine check is left out. */
#ifndef KERN_TEST_STANDALONE
#include "mil/engine.h"
#include "mil/ir.h"
#include "mil/loaders.h"
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static float gauss(void)
{
    double u = unif() + 1e-12, v = unif();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

/* A random weight: owns data and lut (free with free_weight). */
typedef struct tw {
    kn_weight w;
    void *data, *lut;
} tw;

static void pack(const uint8_t *v, int64_t n, int bits, uint8_t *out)
{
    memset(out, 0, (size_t)((n * bits + 7) / 8));
    for (int64_t i = 0; i < n; i++)
        for (int b = 0; b < bits; b++)
            if (v[i] >> b & 1) {
                int64_t bit = i * bits + b;
                out[bit >> 3] |= (uint8_t)(1u << (bit & 7));
            }
}

static void make_weight(tw *t, kn_wkind kind, int bits, int64_t N, int64_t K, int64_t gn, int64_t gk,
                        int lut_f32)
{
    memset(t, 0, sizeof *t);
    t->w.kind = kind;
    t->w.N = N;
    t->w.K = K;
    if (kind == KN_W_F32) {
        float *d = malloc((size_t)(N * K) * sizeof(float));
        for (int64_t i = 0; i < N * K; i++)
            d[i] = gauss() * 0.05f;
        t->data = d;
    } else if (kind == KN_W_F16) {
        uint16_t *d = malloc((size_t)(N * K) * sizeof(uint16_t));
        for (int64_t i = 0; i < N * K; i++)
            d[i] = an_fp32_to_fp16(gauss() * 0.05f);
        t->data = d;
    } else {
        int64_t P = (N / gn) * (K / gk), E = 1 << bits;
        uint8_t *v = malloc((size_t)(N * K));
        for (int64_t i = 0; i < N * K; i++)
            v[i] = (uint8_t)(rnd() & (uint64_t)(E - 1));
        uint8_t *d = malloc((size_t)((N * K * bits + 7) / 8) + 1);
        pack(v, N * K, bits, d);
        free(v);
        t->data = d;
        if (lut_f32) {
            float *l = malloc((size_t)(P * E) * sizeof(float));
            for (int64_t i = 0; i < P * E; i++)
                l[i] = gauss() * 0.05f;
            t->lut = l;
        } else {
            uint16_t *l = malloc((size_t)(P * E) * sizeof(uint16_t));
            for (int64_t i = 0; i < P * E; i++)
                l[i] = an_fp32_to_fp16(gauss() * 0.05f);
            t->lut = l;
        }
        t->w.bits = bits;
        t->w.lut = t->lut;
        t->w.lut_f32 = lut_f32;
        t->w.gn = gn;
        t->w.gk = gk;
    }
    t->w.data = t->data;
}

static void free_weight(tw *t)
{
    kn_release(&t->w);
    free(t->data);
    free(t->lut);
}

/* W(n, k) decoded here bit by bit (the tolerance needs |W|; not the code under test). */
static float *dense_direct(const tw *t)
{
    const kn_weight *w = &t->w;
    float *y = malloc((size_t)(w->K * w->N) * sizeof(float));
    for (int64_t n = 0; n < w->N; n++)
        for (int64_t k = 0; k < w->K; k++) {
            int64_t i = n * w->K + k;
            float v;
            if (w->kind == KN_W_F32) {
                v = ((float *)t->data)[i];
            } else if (w->kind == KN_W_F16) {
                v = an_fp16_to_fp32(((uint16_t *)t->data)[i]);
            } else {
                unsigned ix = 0;
                for (int j = 0; j < w->bits; j++) {
                    uint64_t bit = (uint64_t)i * (uint64_t)w->bits + (uint64_t)j;
                    ix |= (unsigned)(((const uint8_t *)t->data)[bit >> 3] >> (bit & 7) & 1) << j;
                }
                int64_t e = (((n / w->gn) * (w->K / w->gk) + k / w->gk) << w->bits) + ix;
                v = w->lut_f32 ? ((float *)t->lut)[e] : an_fp16_to_fp32(((uint16_t *)t->lut)[e]);
            }
            y[k * w->N + n] = v;
        }
    return y;
}

static void *act_buf(int64_t M, int64_t K)
{
    void *b = NULL;
    if (posix_memalign(&b, 64, kn_act_bytes(M, K) + 64))
        return NULL;
    return b;
}

static int n_cases;

/* One random case on the current ISA: kn_matmul vs kn_matmul_ref, with bias, fp32 and
 * fp16 output, transposed output strides and a split of the rows. */
static void run_case(kn_wkind kind, int bits, kn_path path, int64_t M, int64_t N, int64_t K, int64_t gn,
                     int64_t gk, int lut_f32, int wt)
{
    tw t;
    make_weight(&t, kind, bits, N, K, gn, gk, lut_f32);
    /* a transposed dense weight: the same W stored [K][N]; the reference reads the [N][K] one */
    kn_weight orig = t.w;
    void *tdata = NULL;
    if (wt) {
        size_t es = kind == KN_W_F32 ? 4 : 2;
        tdata = malloc((size_t)(N * K) * es);
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++)
                memcpy((char *)tdata + (size_t)(k * N + n) * es, (const char *)t.data + (size_t)(n * K + k) * es, es);
        t.w.data = tdata;
        t.w.wt = 1;
    }
    an_error err = {{0}};
    if (kn_prepare(&t.w, path, &err)) {
        T_FAIL("prepare: %s", err.msg);
        free_weight(&t);
        return;
    }
    kn_path eff = t.w.path;
    float *x = malloc((size_t)(M * K) * sizeof(float)), *bias = malloc((size_t)N * sizeof(float));
    for (int64_t i = 0; i < M * K; i++)
        x[i] = gauss() * (i % 17 == 3 ? 4.0f : 1.0f);
    for (int64_t n = 0; n < N; n++)
        bias[n] = gauss();
    float *ref = malloc((size_t)(M * N) * sizeof(float));
    kn_matmul_ref(&orig, x, M, bias, ref);
    float *W = dense_direct(&t);
    /* each palette's integer step: max |entry| / 127 (int8) or / KN_I16_QW */
    double qw = eff == KN_I16 ? KN_I16_QW : 127, qx = eff == KN_I16 ? KN_I16_QX : 127;
    int64_t P = kind == KN_W_LUT ? (N / gn) * (K / gk) : 0, E = (int64_t)1 << bits;
    double *swp = calloc((size_t)P + 1, sizeof(double));
    for (int64_t p = 0; p < P; p++) {
        double amax = 0;
        for (int64_t e = 0; e < E; e++)
            amax = fmax(amax, fabs(lut_f32 ? ((float *)t.lut)[p * E + e]
                                           : an_fp16_to_fp32(((uint16_t *)t.lut)[p * E + e])));
        swp[p] = amax / qw;
    }

    void *buf = act_buf(M, K);
    kn_act a;
    kn_act_prepare(&a, x, 0, M, K, K, 1, eff, buf);
    float *y = malloc((size_t)(M * N) * sizeof(float)), *yt = malloc((size_t)(M * N) * sizeof(float));
    uint16_t *yh = malloc((size_t)(M * N) * sizeof(uint16_t));
    kn_matmul(&t.w, &a, bias, y, 0, N, 1, 0, N);
    /* the same rows computed in three pieces, into a transposed [N][M] output */
    int64_t s1 = N / 3, s2 = N - N / 4;
    kn_matmul(&t.w, &a, bias, yt, 0, 1, M, 0, s1);
    kn_matmul(&t.w, &a, bias, yt, 0, 1, M, s1, s2);
    kn_matmul(&t.w, &a, bias, yt, 0, 1, M, s2, N);
    kn_matmul(&t.w, &a, bias, yh, 1, N, 1, 0, N);
    /* no bias is a zero bias */
    float *zb = calloc((size_t)N, sizeof(float)), *y0 = malloc((size_t)(M * N) * sizeof(float)),
          *y0z = malloc((size_t)(M * N) * sizeof(float));
    kn_matmul(&t.w, &a, NULL, y0, 0, N, 1, 0, N);
    kn_matmul(&t.w, &a, zb, y0z, 0, N, 1, 0, N);
    for (int64_t i = 0; i < M * N; i++)
        if (!(y0[i] == y0z[i])) {
            T_FAIL("%s: without bias y[%lld] = %.9g, with a zero bias %.9g", kn_isa(), (long long)i, y0[i], y0z[i]);
            break;
        }
    free(zb), free(y0), free(y0z);

    int bad = 0;
    for (int64_t m = 0; m < M && !bad; m++) {
        float sx = 0;
        for (int64_t k = 0; k < K; k++)
            sx = fmaxf(sx, fabsf(x[m * K + k]));
        sx /= qx;
        for (int64_t n = 0; n < N && !bad; n++) {
            double mag = 0, qb = 0;
            for (int64_t k = 0; k < K; k++) {
                double xv = x[m * K + k], wv = W[k * N + n];
                mag += fabs(xv * wv);
                if (eff == KN_I8 || eff == KN_I16) {
                    double sw = swp[(n / gn) * (K / gk) + k / gk];
                    qb += fabs(xv) * sw / 2 + fabs(wv) * sx / 2 + sx * sw / 4;
                }
            }
            double tol = 1e-5 * mag + 1e-6 * fabs(bias[n]) + qb * (1 + 1e-5) + 1e-30;
            double r = ref[m * N + n], v = y[m * N + n];
            if (!(fabs(v - r) <= tol)) {
                T_FAIL("%s path %d kind %d bits %d M %lld N %lld K %lld gn %lld gk %lld: y(%lld,%lld) = %.9g, "
                       "ref %.9g, tol %.3g",
                       kn_isa(), (int)eff, (int)kind, bits, (long long)M, (long long)N, (long long)K,
                       (long long)gn, (long long)gk, (long long)m, (long long)n, v, r, tol);
                bad = 1;
            }
            float vt = yt[n * M + m];
            if (memcmp(&vt, &y[m * N + n], sizeof vt) != 0) {
                T_FAIL("%s: split/strided output differs at (%lld,%lld): %.9g vs %.9g", kn_isa(),
                       (long long)m, (long long)n, vt, v);
                bad = 1;
            }
            if (yh[m * N + n] != an_fp32_to_fp16(y[m * N + n])) {
                T_FAIL("%s: fp16 output at (%lld,%lld) is %04x, fp32 output rounds to %04x", kn_isa(),
                       (long long)m, (long long)n, yh[m * N + n], an_fp32_to_fp16(y[m * N + n]));
                bad = 1;
            }
        }
    }
    n_cases++;
    free(x), free(bias), free(ref), free(W), free(swp), free(buf), free(y), free(yt), free(yh), free(tdata);
    free_weight(&t);
}

typedef struct shape {
    int64_t N, K, gn, gk;
} shape;

static const shape SHAPES[] = {
    {1, 16, 1, 16},     {5, 48, 5, 48},      {9, 64, 1, 64},   {16, 128, 8, 128}, {33, 256, 11, 256},
    {24, 192, 8, 64},   {40, 320, 8, 160},   {7, 37, 7, 37},   {3, 100, 1, 50},   {12, 96, 4, 32},
    {17, 1024, 17, 1024}, {8, 512, 2, 128},  {6, 40, 3, 8},    {2, 24, 2, 24},
    {2, 8192, 2, 8192}, /* the 16-bit path's decode kernels move sums to fp32 mid-row */
};
static const int64_t MS[] = {1, 2, 3, 7, 64, 65};

static void run_isa(const char *isa, kn_path path)
{
    if (kn_force_isa(isa)) {
        SKIP("this CPU has no %s", isa);
    }
    rng_state = 0x243f6a8885a308d3ull ^ (uint64_t)path;
    n_cases = 0;
    static const int BITS[] = {1, 2, 3, 4, 6, 8};
    for (size_t si = 0; si < sizeof SHAPES / sizeof SHAPES[0] && !t_case_failed; si++) {
        const shape *s = &SHAPES[si];
        for (size_t mi = 0; mi < sizeof MS / sizeof MS[0] && !t_case_failed; mi++) {
            int64_t M = MS[mi];
            if (s->K > 4096 && path != KN_I16)
                continue;
            /* keep the double-precision reference cheap on the large shapes */
            if (s->K * s->N > 20000 && M > 7 && mi % 2)
                continue;
            if (path == KN_F32) {
                for (int wt = 0; wt < 2; wt++) {
                    run_case(KN_W_F32, 0, path, M, s->N, s->K, 1, s->K, 0, wt);
                    run_case(KN_W_F16, 0, path, M, s->N, s->K, 1, s->K, 0, wt);
                }
            }
            for (int bi = 0; bi < 6; bi++)
                run_case(KN_W_LUT, BITS[bi], path, M, s->N, s->K, s->gn, s->gk, (int)(si % 5 == 4), 0);
        }
    }
    kn_force_isa(NULL);
    if (!t_case_failed && n_cases < 100)
        T_FAIL("only %d cases ran", n_cases);
}

TEST(kern_c_f32) { run_isa("c", KN_F32); }
TEST(kern_c_i8) { run_isa("c", KN_I8); }
TEST(kern_avx2_f32) { run_isa("avx2", KN_F32); }
TEST(kern_avx2_i8) { run_isa("avx2", KN_I8); }
TEST(kern_avx512_f32) { run_isa("avx512", KN_F32); }
TEST(kern_avx512_i8) { run_isa("avx512", KN_I8); }
TEST(kern_neon_f32) { run_isa("neon", KN_F32); }
TEST(kern_neon_i8) { run_isa("neon", KN_I8); }
TEST(kern_c_i16) { run_isa("c", KN_I16); }
TEST(kern_avx512_i16) { run_isa("avx512", KN_I16); }

/* The 16-bit path's worst case: every activation and every weight at the largest integer,
 * so that unflushed int32 sums would overflow many times over; y must be exactly K. */
static void i16_worst_case(const char *isa, int bits, int64_t M, int64_t K)
{
    if (kn_force_isa(isa)) {
        SKIP("this CPU has no %s", isa);
    }
    int64_t N = 16;
    size_t nb = (size_t)(N * K * bits / 8);
    uint8_t *ix = malloc(nb);
    memset(ix, 0xff, nb); /* every index is the last entry */
    int E = 1 << bits;
    uint16_t *lut = malloc((size_t)E * sizeof(uint16_t));
    for (int e = 0; e < E; e++)
        lut[e] = an_fp32_to_fp16(e == E - 1 ? 1.0f : -0.5f);
    kn_weight w = {.kind = KN_W_LUT, .N = N, .K = K, .data = ix, .bits = bits, .lut = lut, .gn = N, .gk = K};
    an_error err = {{0}};
    CHECK(kn_prepare(&w, KN_I16, &err) == 0);
    float *x = malloc((size_t)(M * K) * sizeof(float)), *y = malloc((size_t)(M * N) * sizeof(float));
    for (int64_t i = 0; i < M * K; i++)
        x[i] = 1.0f;
    void *buf = act_buf(M, K);
    kn_act a;
    kn_act_prepare(&a, x, 0, M, K, K, 1, KN_I16, buf);
    kn_matmul(&w, &a, NULL, y, 0, N, 1, 0, N);
    for (int64_t i = 0; i < M * N; i++)
        if (!(y[i] == (float)K)) {
            T_FAIL("%s %d bits M %lld: y[%lld] = %.9g, expected %lld", kn_isa(), bits, (long long)M,
                   (long long)i, y[i], (long long)K);
            break;
        }
    kn_release(&w);
    kn_force_isa(NULL);
    free(ix), free(lut), free(x), free(y), free(buf);
}

TEST(i16_sums_do_not_overflow)
{
    static const char *const ISA[] = {"c", "avx512"};
    for (int i = 0; i < 2; i++)
        for (int b = 4; b <= 8; b += 2) {
            i16_worst_case(ISA[i], b, 1, 8192);
            i16_worst_case(ISA[i], b, 64, 1024);
        }
}

/* Strided fp16 input is gathered exactly; int8 rows obey the quantization bound. */
TEST(act_prepare_gathers_and_quantizes)
{
    int64_t M = 5, K = 70;
    uint16_t *src = malloc((size_t)(M * K) * sizeof(uint16_t)); /* stored [K][M] */
    for (int64_t i = 0; i < M * K; i++)
        src[i] = an_fp32_to_fp16(gauss());
    void *buf = act_buf(M, K);
    kn_act a;
    kn_act_prepare(&a, src, 1, M, K, 1, M, KN_I8, buf);
    CHECK_EQ_INT(a.Kp, 128);
    for (int64_t m = 0; m < M; m++) {
        float amax = 0;
        for (int64_t k = 0; k < K; k++) {
            float v = an_fp16_to_fp32(src[k * M + m]);
            CHECK(a.x[m * K + k] == v);
            amax = fmaxf(amax, fabsf(v));
        }
        CHECK_NEAR(a.qscale[m], amax / 127, 1e-7);
        int32_t s = 0;
        for (int64_t k = 0; k < a.Kp; k++) {
            if (k < K)
                CHECK(fabsf(a.x[m * K + k] - a.qscale[m] * a.q[m * a.Kp + k]) <= a.qscale[m] * 0.5001f);
            else
                CHECK_EQ_INT(a.q[m * a.Kp + k], 0);
            s += a.q[m * a.Kp + k];
        }
        CHECK_EQ_INT(a.qsum[m * (a.Kp / 64 + 1) + a.Kp / 64], s);
    }
    /* the fp32 path's second copy: 32-column blocks even columns first, the tail as is */
    kn_act_prepare(&a, src, 1, 4, K, 1, M, KN_F32, buf); /* filled for M <= 4 */
    for (int64_t m = 0; m < 4; m++)
        for (int64_t k = 0; k < K; k++) {
            int64_t b = k / 32 * 32, j = k - b;
            int64_t from = k >= K / 32 * 32 ? k : b + (j < 16 ? 2 * j : 2 * (j - 16) + 1);
            CHECK(a.xd[m * K + k] == a.x[m * K + from]);
        }
    /* 16-bit rows: the bound, zero padding, both reorderings and (M > 4) the panels, as
     * the portable code and (when the CPU has it) the AVX-512 code prepare them */
    for (int pass = 0; pass < 4; pass++) {
        int64_t Mq = pass % 2 ? M : 3;
        if (kn_force_isa(pass < 2 ? "c" : "avx512"))
            continue;
        kn_act_prepare(&a, src, 1, Mq, K, 1, M, KN_I16, buf);
        kn_force_isa(NULL);
        CHECK_EQ_INT(a.Mp, 16);
        int bad = 0;
        for (int64_t m = 0; m < Mq && !bad; m++) {
            /* x(m, k) straight from the source (a.x is not filled on every preparation) */
            float amax = 0;
            for (int64_t k = 0; k < K; k++)
                amax = fmaxf(amax, fabsf(an_fp16_to_fp32(src[k * M + m])));
            CHECK_NEAR(a.qscale[m], amax / KN_I16_QX, 1e-9);
            float sc = a.qscale[m];
            for (int64_t k = 0; k < a.Kp && !bad; k++) {
                int64_t b = k / 64 * 64, i = k - b;
                int64_t e = b + (i < 32 ? 2 * i : 2 * (i - 32) + 1);
                int64_t u = b + (i < 32 ? 16 * (i / 8) + i % 8 : 16 * ((i - 32) / 8) + 8 + (i - 32) % 8);
                int16_t ge = Mq > 4 ? a.p16e[((k / 2) * a.Mp + m) * 2 + k % 2] : a.q16e[m * a.Kp + k];
                int16_t gu = Mq > 4 ? a.p16u[((k / 2) * a.Mp + m) * 2 + k % 2] : a.q16u[m * a.Kp + k];
                /* position k of the reordered block holds column e (u) quantized: within half
                 * a step of x, or 0 in the padding */
                float xe = e < K ? an_fp16_to_fp32(src[e * M + m]) : 0.0f;
                float xu = u < K ? an_fp16_to_fp32(src[u * M + m]) : 0.0f;
                if (!(fabsf(xe - sc * ge) <= sc * 0.5001f) || !(fabsf(xu - sc * gu) <= sc * 0.5001f) ||
                    (e >= K && ge != 0) || (u >= K && gu != 0)) {
                    T_FAIL("pass %d M %lld: row %lld position %lld: %d (x %g) / %d (x %g), step %g", pass,
                           (long long)Mq, (long long)m, (long long)k, ge, xe, gu, xu, sc);
                    bad = 1;
                }
                if (a.q16 && k < K)
                    CHECK(fabsf(an_fp16_to_fp32(src[k * M + m]) - sc * a.q16[m * a.Kp + k]) <= sc * 0.5001f);
            }
        }
        for (int64_t m = Mq; Mq > 4 && m < a.Mp; m++)
            CHECK(a.p16e[m * 2] == 0 && a.p16u[(a.Kp / 2 - 1) * a.Mp * 2 + m * 2 + 1] == 0);
    }
    free(src);
    free(buf);
}

TEST(prepare_refuses_bad_weights)
{
    uint8_t d[64] = {0};
    uint16_t l[512] = {0};
    kn_weight w = {.kind = KN_W_LUT, .N = 4, .K = 16, .data = d, .bits = 5, .lut = l, .gn = 4, .gk = 16};
    an_error err = {{0}};
    CHECK(kn_prepare(&w, KN_F32, &err) == -1);
    CHECK(strstr(err.msg, "5-bit") != NULL);
    w.bits = 4;
    w.gn = 3;
    CHECK(kn_prepare(&w, KN_F32, &err) == -1);
    w.gn = 2;
    CHECK(kn_prepare(&w, KN_I8, &err) == 0);
    CHECK(w.path == KN_I8);
    kn_release(&w);
    /* dense weights always take the fp32 path */
    kn_weight f = {.kind = KN_W_F16, .N = 4, .K = 16, .data = d};
    CHECK(kn_prepare(&f, KN_I8, &err) == 0);
    CHECK(f.path == KN_F32);
    kn_release(&f);
    CHECK(kn_force_isa("no-such-isa") == -1);
    CHECK(kn_force_isa("c") == 0);
    CHECK_EQ_STR(kn_isa(), "c");
    CHECK(kn_force_isa(NULL) == 0);
}

#ifndef KERN_TEST_STANDALONE
/* Exact W(n, k) as the reference sees it: from kn_matmul_ref with unit vectors. */
static float *dense_of(const kn_weight *w)
{
    float *eye = calloc((size_t)(w->K * w->K), sizeof(float));
    float *y = malloc((size_t)(w->K * w->N) * sizeof(float));
    for (int64_t k = 0; k < w->K; k++)
        eye[k * w->K + k] = 1;
    kn_matmul_ref(w, eye, w->K, NULL, y); /* y[k][n] = W(n, k) */
    free(eye);
    return y;
}

/* kn_matmul_ref decodes LUT weights as the engine's constexpr_lut_to_dense does: a MIL
 * program with the same packed indices and palettes, run through mil_predict. */
static void check_ref_against_engine(int bits, int64_t N, int64_t K, int64_t gn, int64_t gk)
{
    tw t;
    make_weight(&t, KN_W_LUT, bits, N, K, gn, gk, 0);
    int64_t E = 1 << bits, P = (N / gn) * (K / gk);
    size_t cap = (size_t)(N * K * 4 + P * E * 24 + 4096);
    char *txt = malloc(cap);
    size_t o = 0;
    o += (size_t)snprintf(txt + o, cap - o,
                          "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [%lld, %lld]> x) {\n"
                          "            tensor<fp16, [%lld, %lld]> w = constexpr_lut_to_dense("
                          "indices = tensor<uint%d, [%lld, %lld]>([",
                          (long long)N, (long long)K, (long long)N, (long long)K, bits, (long long)N,
                          (long long)K);
    for (int64_t i = 0; i < N * K; i++) {
        /* the indices written as values; the parser packs them LSB first */
        uint64_t bit = (uint64_t)i * (uint64_t)bits;
        const uint8_t *b = t.data;
        unsigned v = 0;
        for (int j = 0; j < bits; j++)
            v |= (unsigned)(b[(bit + (uint64_t)j) >> 3] >> ((bit + (uint64_t)j) & 7) & 1) << j;
        o += (size_t)snprintf(txt + o, cap - o, "%s%u", i ? ", " : "", v);
    }
    o += (size_t)snprintf(txt + o, cap - o, "]), lut = tensor<fp16, [%lld, %lld, %lld, 1]>([",
                          (long long)(N / gn), (long long)(K / gk), (long long)E);
    for (int64_t i = 0; i < P * E; i++)
        o += (size_t)snprintf(txt + o, cap - o, "%s%a", i ? ", " : "",
                              (double)an_fp16_to_fp32(((uint16_t *)t.lut)[i]));
    o += (size_t)snprintf(txt + o, cap - o,
                          "]))[name = string(\"w\")];\n"
                          "            tensor<fp16, [%lld, %lld]> y = add(x = x, y = w)[name = string(\"y\")];\n"
                          "        } -> (y);\n}\n",
                          (long long)N, (long long)K);
    REQUIRE(o < cap);
    mil_program *p = mil_program_new();
    an_error err = {{0}};
    if (mil_parse_text(p, txt, strlen(txt), "kern.mil", &err)) {
        T_FAIL("parse: %.300s", err.msg);
        mil_program_free(p);
        free(txt);
        free_weight(&t);
        return;
    }
    free(txt);
    mil_component *c = mil_component_from_program(p, &err);
    if (!c) {
        T_FAIL("plan: %.300s", err.msg);
        free_weight(&t);
        return;
    }
    uint16_t *zero = calloc((size_t)(N * K), sizeof(uint16_t));
    mil_named_tensor in = {"x", {MIL_DT_FP16, 2, {N, K}, zero}};
    const mil_named_tensor *out;
    int n_out;
    if (mil_predict(c, NULL, 1, &in, NULL, &out, &n_out, &err)) {
        T_FAIL("predict: %.300s", err.msg);
    } else {
        float *W = dense_of(&t.w);
        const uint16_t *e = out[0].t.data;
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++)
                if (an_fp16_to_fp32(e[n * K + k]) != W[k * N + n]) {
                    T_FAIL("bits %d: W(%lld,%lld) engine %g, reference %g", bits, (long long)n,
                           (long long)k, an_fp16_to_fp32(e[n * K + k]), W[k * N + n]);
                    n = N;
                    break;
                }
        free(W);
    }
    free(zero);
    mil_component_free(c);
    free_weight(&t);
}

TEST(reference_decodes_like_the_engine)
{
    static const int BITS[] = {1, 2, 3, 4, 6, 8};
    for (int i = 0; i < 6; i++) {
        check_ref_against_engine(BITS[i], 8, 40, 4, 40);
        check_ref_against_engine(BITS[i], 6, 21, 2, 7); /* rows not byte-aligned for odd bits */
        check_ref_against_engine(BITS[i], 4, 32, 4, 32);
    }
}

#endif

int main(void)
{
    RUN(prepare_refuses_bad_weights);
    RUN(act_prepare_gathers_and_quantizes);
#ifndef KERN_TEST_STANDALONE
    RUN(reference_decodes_like_the_engine);
#endif
    RUN(kern_c_f32);
    RUN(kern_c_i8);
    RUN(kern_avx2_f32);
    RUN(kern_avx2_i8);
    RUN(kern_avx512_f32);
    RUN(kern_avx512_i8);
    RUN(kern_neon_f32);
    RUN(kern_neon_i8);
    RUN(kern_c_i16);
    RUN(kern_avx512_i16);
    RUN(i16_sums_do_not_overflow);
    return t_finish();
}
