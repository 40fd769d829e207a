/*
 * tool_kernbench.c — single-thread timings of the matrix kernels on Qwen3-0.6B shapes.
 *
 *   tool_kernbench [-i ISA] [-w KIND] [-m M] [-t SECONDS]
 *
 * KIND is f16, lut4, lut6 or lut8 (default all); ISA c, avx2, avx512 or neon (default
 * every one the CPU has); M is 1 (decode) or 64 (prefill) (default both). For every
 * combination it prints the time per call, the weight bytes streamed per second (the
 * stored form: packed indices + palettes, or fp16) and GFLOP/s (2 M N K per call).
 * Enough copies of each weight are cycled through (>= 64 MB) that decode reads them from
 * memory, not cache (KERNBENCH_CACHED=1: one copy, the kernel's own speed). The first
 * line is the machine's streaming read bandwidth.
 *
 *   tool_kernbench -a
 *
 * measures accuracy instead: the fp32, int8 and 16-bit paths against the double reference on
 * LUT4/6/8 weights with gaussian palettes (per-16-row groups, as ANEMLL makes them), for
 * gaussian activations and for activations with a few large outlier channels (as LLM
 * hidden states have): relative L2 error ||y - ref|| / ||ref|| and max |y - ref| / rms(ref).
 * Not run by make test.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fp16.h"
#include "mil/kern.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static double gauss(void)
{
    double u = ((double)(rnd() >> 11) + 1) / 9007199254740993.0, v = (double)(rnd() >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static const char *const PATHS[] = {"f32", "i8", "i16"};

static void accuracy(void)
{
    static const int BITS[] = {4, 6, 8};
    int64_t N = 1024, K = 1024, M = 8, gn = 16;
    printf("accuracy vs the double reference, N=%lld K=%lld, %lld activation rows, palettes per 16 rows\n",
           (long long)N, (long long)K, (long long)M);
    printf("%-5s %-9s %-4s %12s %12s\n", "bits", "x", "path", "rel L2", "max/rms");
    for (int bi = 0; bi < 3; bi++) {
        int bits = BITS[bi];
        int64_t E = (int64_t)1 << bits, P = N / gn;
        uint8_t *d = malloc((size_t)(N * K * bits / 8));
        for (int64_t i = 0; i < N * K * bits / 8; i++)
            d[i] = (uint8_t)rnd();
        uint16_t *l = malloc((size_t)(P * E) * 2);
        for (int64_t i = 0; i < P * E; i++)
            l[i] = an_fp32_to_fp16((float)(gauss() * 0.02));
        for (int outl = 0; outl < 2; outl++) {
            float *x = malloc((size_t)(M * K) * sizeof(float));
            for (int64_t i = 0; i < M * K; i++)
                x[i] = (float)gauss() * (outl && (i % K) % 97 == 5 ? 30.0f : 1.0f);
            float *ref = malloc((size_t)(M * N) * sizeof(float)), *y = malloc((size_t)(M * N) * sizeof(float));
            kn_weight w = {.kind = KN_W_LUT, .N = N, .K = K, .data = d, .bits = bits, .lut = l, .gn = gn, .gk = K};
            kn_matmul_ref(&w, x, M, NULL, ref);
            for (int p = 0; p < 3; p++) {
                an_error err = {{0}};
                if (kn_prepare(&w, (kn_path)p, &err))
                    return;
                void *buf = NULL;
                if (posix_memalign(&buf, 64, kn_act_bytes(M, K)))
                    return;
                kn_act a;
                kn_act_prepare(&a, x, 0, M, K, K, 1, (kn_path)p, buf);
                kn_matmul(&w, &a, NULL, y, 0, N, 1, 0, N);
                double se = 0, sr = 0, mx = 0;
                for (int64_t i = 0; i < M * N; i++) {
                    double e = (double)y[i] - ref[i];
                    se += e * e;
                    sr += (double)ref[i] * ref[i];
                    mx = fmax(mx, fabs(e));
                }
                printf("%-5d %-9s %-4s %12.3e %12.3e\n", bits, outl ? "outliers" : "gaussian", PATHS[p],
                       sqrt(se / sr), mx / sqrt(sr / (double)(M * N)));
                kn_release(&w);
                free(buf);
            }
            free(x), free(ref), free(y);
        }
        free(d), free(l);
    }
}

static double read_bandwidth(void)
{
    size_t n = (size_t)256 << 20;
    uint64_t *b = malloc(n);
    if (!b)
        return 0;
    memset(b, 1, n);
    volatile uint64_t sink = 0;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t = now();
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i < n / 8; i += 4) {
            s0 += b[i];
            s1 += b[i + 1];
            s2 += b[i + 2];
            s3 += b[i + 3];
        }
        sink += s0 + s1 + s2 + s3;
        t = now() - t;
        if ((double)n / t > best)
            best = (double)n / t;
    }
    (void)sink;
    free(b);
    return best / 1e9;
}

typedef struct shp {
    const char *name;
    int64_t N, K;
} shp;

static const shp SHAPES[] = {
    {"q_proj", 2048, 1024}, {"kv_proj", 1024, 1024}, {"o_proj", 1024, 2048},
    {"gate/up", 3072, 1024}, {"down", 1024, 3072},   {"lm_head/16", 9496, 1024},
};

static int bench(const char *isa, const char *kind, kn_path path, int64_t M, const shp *s, double secs)
{
    int bits = 0;
    kn_wkind wk = KN_W_LUT;
    if (strcmp(kind, "f16") == 0)
        wk = KN_W_F16;
    else
        bits = atoi(kind + 3);
    int64_t N = s->N, K = s->K, gn = 16, E = (int64_t)1 << bits;
    if (N % gn)
        gn = 8;
    if (N % gn)
        gn = N;
    size_t ib = wk == KN_W_F16 ? (size_t)(N * K) * 2 : (size_t)(N * K * bits / 8);
    size_t lb = wk == KN_W_F16 ? 0 : (size_t)((N / gn) * E) * 2;
    size_t bytes = ib + lb;
    int copies = (int)(((size_t)64 << 20) / bytes) + 1;
    if (M > 1 || getenv("KERNBENCH_CACHED"))
        copies = 1; /* KERNBENCH_CACHED: the weight stays in cache (kernel speed alone) */
    kn_weight *w = calloc((size_t)copies, sizeof *w);
    an_error err = {{0}};
    for (int c = 0; c < copies; c++) {
        uint8_t *d = malloc(ib + 64);
        for (size_t i = 0; i < ib; i += 8) {
            uint64_t r = rnd();
            memcpy(d + i, &r, ib - i < 8 ? ib - i : 8);
        }
        if (wk == KN_W_F16)
            for (size_t i = 0; i < ib / 2; i++)
                ((uint16_t *)d)[i] = an_fp32_to_fp16((float)((int)(rnd() % 2001) - 1000) * 1e-4f);
        w[c].kind = wk;
        w[c].N = N;
        w[c].K = K;
        w[c].data = d;
        if (wk == KN_W_LUT) {
            uint16_t *l = malloc(lb);
            for (size_t i = 0; i < lb / 2; i++)
                l[i] = an_fp32_to_fp16((float)((int)(rnd() % 2001) - 1000) * 1e-4f);
            w[c].lut = l;
            w[c].bits = bits;
            w[c].gn = gn;
            w[c].gk = K;
        }
        if (kn_prepare(&w[c], path, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
    }
    if (w[0].path != path) {
        for (int c = 0; c < copies; c++) {
            kn_release(&w[c]);
            free((void *)w[c].data);
            free((void *)w[c].lut);
        }
        free(w);
        return 0;
    }
    float *x = malloc((size_t)(M * K) * sizeof(float));
    for (int64_t i = 0; i < M * K; i++)
        x[i] = (float)((int)(rnd() % 2001) - 1000) * 1e-3f;
    void *buf = NULL;
    if (posix_memalign(&buf, 64, kn_act_bytes(M, K)))
        return -1;
    uint16_t *y = malloc((size_t)(M * N) * sizeof(uint16_t));
    kn_act a;
    kn_act_prepare(&a, x, 0, M, K, K, 1, path, buf);
    long calls = 0;
    double t0 = now(), t;
    do {
        kn_act_prepare(&a, x, 0, M, K, K, 1, path, buf);
        kn_matmul(&w[calls % copies], &a, NULL, y, 1, N, 1, 0, N);
        calls++;
    } while ((t = now() - t0) < secs || calls < 3);
    double per = t / (double)calls;
    printf("%-7s %-4s %-5s M=%-3lld %-11s N=%-5lld K=%-5lld %9.1f us  %7.2f GB/s  %7.1f GFLOP/s\n", isa,
           PATHS[path], kind, (long long)M, s->name, (long long)N, (long long)K, per * 1e6,
           (double)bytes / per / 1e9, 2.0 * (double)(M * N * K) / per / 1e9);
    fflush(stdout);
    for (int c = 0; c < copies; c++) {
        kn_release(&w[c]);
        free((void *)w[c].data);
        free((void *)w[c].lut);
    }
    free(w);
    free(x);
    free(buf);
    free(y);
    return 0;
}

int main(int argc, char **argv)
{
    const char *isa_only = NULL, *kind_only = NULL;
    int64_t m_only = 0;
    double secs = 0.25;
    int opt;
    while ((opt = getopt(argc, argv, "ai:w:m:t:")) != -1) {
        if (opt == 'a') {
            accuracy();
            return 0;
        } else if (opt == 'i')
            isa_only = optarg;
        else if (opt == 'w')
            kind_only = optarg;
        else if (opt == 'm')
            m_only = atoll(optarg);
        else if (opt == 't')
            secs = atof(optarg);
        else {
            fprintf(stderr, "usage: tool_kernbench [-a] [-i ISA] [-w f16|lut4|lut6|lut8] [-m M] [-t SECONDS]\n");
            return 2;
        }
    }
    printf("streaming read bandwidth (1 thread): %.1f GB/s; automatic ISA: %s\n", read_bandwidth(), kn_isa());
    static const char *ISAS[] = {"avx512", "avx2", "neon", "c"};
    static const char *KINDS[] = {"f16", "lut4", "lut6", "lut8"};
    static const int64_t MS[] = {1, 64};
    for (int i = 0; i < 4; i++) {
        if ((isa_only && strcmp(isa_only, ISAS[i])) || kn_force_isa(ISAS[i]))
            continue;
        for (int mi = 0; mi < 2; mi++) {
            if (m_only && m_only != MS[mi])
                continue;
            for (int p = 0; p < 3; p++)
                for (int k = 0; k < 4; k++) {
                    if (kind_only && strcmp(kind_only, KINDS[k]))
                        continue;
                    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
                        /* the head is LUT6 in ANEMLL models; the layers LUT4 (or 8, or fp16) */
                        if ((s == 5) != (strcmp(KINDS[k], "lut6") == 0) && !kind_only)
                            continue;
                        if (bench(ISAS[i], KINDS[k], (kn_path)p, MS[mi], &SHAPES[s], secs))
                            return 1;
                    }
                }
        }
    }
    kn_force_isa(NULL);
    return 0;
}
