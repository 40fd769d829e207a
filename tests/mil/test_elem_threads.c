/*
 * test_elem_threads.c — large element-wise ops (run on the engine's threads) give the
 * same bytes on 1, 2 and 3 threads and match their plain definition: binary ops with
 * and without broadcasting (rows, columns, a middle axis, short inner runs, runs that
 * are not a multiple of the block size), fp16 and fp32, and unary ops.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fp16.h"
#include "mil/engine.h"
#include "test.h"

static char tmpdir[256];

static mil_component *load_text(const char *name, const char *text, an_error *err)
{
    char dir[512], file[600];
    snprintf(dir, sizeof dir, "%s/%s.mlmodelc", tmpdir, name);
    mkdir(dir, 0755);
    snprintf(file, sizeof file, "%s/model.mil", dir);
    FILE *f = fopen(file, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return mil_component_load(dir, err);
}

static const char *program =
    "program(1.3)\n{\n"
    "    func main<ios18>(tensor<fp16, [48, 1300]> x, tensor<fp16, [1, 1300]> y,\n"
    "                     tensor<fp16, [48, 1]> r, tensor<fp32, [8, 16, 256]> f,\n"
    "                     tensor<fp32, [8, 1, 256]> g, tensor<fp32, [256, 3, 40]> h,\n"
    "                     tensor<fp32, [256, 1, 40]> k) {\n"
    "        tensor<fp16, [48, 1300]> a = add(x = x, y = y)[name = string(\"a\")];\n"
    "        tensor<fp16, [48, 1300]> m = mul(x = x, y = x)[name = string(\"m\")];\n"
    "        tensor<fp16, [48, 1300]> d = real_div(x = x, y = r)[name = string(\"d\")];\n"
    "        tensor<fp32, [8, 16, 256]> s = sub(x = f, y = g)[name = string(\"s\")];\n"
    "        tensor<fp32, [256, 3, 40]> q = maximum(x = h, y = k)[name = string(\"q\")];\n"
    "        tensor<fp32, [8, 16, 256]> c = mul(x = f, y = fp32(0.75))[name = string(\"c\")];\n"
    "        tensor<fp16, [48, 1300]> e = silu(x = x)[name = string(\"e\")];\n"
    "        tensor<fp32, [8, 16, 256]> t = exp(x = f)[name = string(\"t\")];\n"
    "    } -> (a, m, d, s, q, c, e, t);\n}\n";

enum { NX = 48 * 1300, NY = 1300, NR = 48, NF = 8 * 16 * 256, NG = 8 * 256, NH = 256 * 3 * 40,
       NK = 256 * 40, NOUT = 8 };

static uint16_t X[NX], Y[NY], R[NR];
static float F[NF], G[NG], H[NH], K[NK];

static uint64_t rng = 12345;
static float uniform(float lo, float hi)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return lo + (hi - lo) * (float)((rng >> 40) * 0x1p-24);
}

static void make_inputs(void)
{
    for (int i = 0; i < NX; i++)
        X[i] = an_fp32_to_fp16(uniform(-4, 4));
    for (int i = 0; i < NY; i++)
        Y[i] = an_fp32_to_fp16(uniform(-4, 4));
    for (int i = 0; i < NR; i++)
        R[i] = an_fp32_to_fp16(uniform(0.5f, 2) * (i % 2 ? -1 : 1));
    for (int i = 0; i < NF; i++)
        F[i] = uniform(-10, 10);
    for (int i = 0; i < NG; i++)
        G[i] = uniform(-10, 10);
    for (int i = 0; i < NH; i++)
        H[i] = uniform(-1, 1);
    for (int i = 0; i < NK; i++)
        K[i] = uniform(-1, 1);
    H[7] = NAN; /* maximum propagates NaN */
}

/* Predict once; the outputs' bytes concatenated into a malloc'd buffer. */
static unsigned char *predict(mil_component *c, size_t *n, const mil_named_tensor **outs)
{
    mil_named_tensor in[] = {
        {"x", {MIL_DT_FP16, 2, {48, 1300}, X}}, {"y", {MIL_DT_FP16, 2, {1, 1300}, Y}},
        {"r", {MIL_DT_FP16, 2, {48, 1}, R}},    {"f", {MIL_DT_FP32, 3, {8, 16, 256}, F}},
        {"g", {MIL_DT_FP32, 3, {8, 1, 256}, G}}, {"h", {MIL_DT_FP32, 3, {256, 3, 40}, H}},
        {"k", {MIL_DT_FP32, 3, {256, 1, 40}, K}},
    };
    an_error err = {{0}};
    const mil_named_tensor *out;
    int n_out;
    if (mil_predict(c, NULL, 7, in, NULL, &out, &n_out, &err) || n_out != NOUT) {
        fprintf(stderr, "predict: %s\n", err.msg);
        return NULL;
    }
    size_t total = 0, sz[NOUT];
    for (int k = 0; k < NOUT; k++) {
        int64_t numel = 1;
        for (int d = 0; d < out[k].t.rank; d++)
            numel *= out[k].t.shape[d];
        sz[k] = (size_t)numel * (out[k].t.dtype == MIL_DT_FP16 ? 2 : 4);
        total += sz[k];
    }
    unsigned char *buf = malloc(total), *p = buf;
    if (!buf)
        return NULL;
    for (int k = 0; k < NOUT; k++) {
        memcpy(p, out[k].t.data, sz[k]);
        p += sz[k];
    }
    *n = total;
    if (outs)
        *outs = out;
    return buf;
}

static float h2f(uint16_t h) { return an_fp16_to_fp32(h); }

/* An fp16 result: the fp32 value rounded once (within half an fp16 ulp). */
static int near16(uint16_t got, double want)
{
    double g = h2f(got);
    return fabs(g - want) <= fabs(want) * 0x1p-11 + 0x1p-25;
}

TEST(large_elementwise_ops_same_bytes_on_any_thread_count)
{
    an_error err = {{0}};
    make_inputs();
    /* a fresh component for each run: no element can keep a value from an earlier run */
    unsigned char *r[3] = {NULL, NULL, NULL};
    size_t n[3] = {0, 0, 0};
    mil_component *c[3] = {NULL, NULL, NULL};
    const mil_named_tensor *o = NULL;
    static const int threads[3] = {1, 3, 2}; /* 3: more than planned for (2) */
    for (int k = 0; k < 3; k++) {
        REQUIRE(mil_set_threads(2, &err) == 0);
        c[k] = load_text("elem", program, &err);
        if (!c[k])
            fprintf(stderr, "%s\n", err.msg);
        REQUIRE(c[k]);
        REQUIRE(mil_set_threads(threads[k], &err) == 0);
        r[k] = predict(c[k], &n[k], &o);
        REQUIRE(r[k]);
    }
    CHECK(n[0] == n[1] && memcmp(r[0], r[1], n[0]) == 0);
    CHECK(n[0] == n[2] && memcmp(r[0], r[2], n[0]) == 0);

    /* the plain definitions, on the 2-thread results */
    const uint16_t *a = o[0].t.data, *m = o[1].t.data, *d = o[2].t.data, *e = o[6].t.data;
    const float *s = o[3].t.data, *q = o[4].t.data, *cc = o[5].t.data, *t = o[7].t.data;
    int bad = 0;
    for (int i = 0; i < 48 && !bad; i++)
        for (int j = 0; j < 1300 && !bad; j++) {
            int at = i * 1300 + j;
            float xv = h2f(X[at]);
            double ev = xv / (1.0 + exp(-(double)xv));
            if (!near16(a[at], (double)(xv + h2f(Y[j]))) || !near16(m[at], (double)(xv * xv)) ||
                !near16(d[at], (double)(xv / h2f(R[i]))) || !near16(e[at], ev)) {
                T_FAIL("fp16 ops differ at [%d, %d]", i, j);
                bad = 1;
            }
        }
    for (int i = 0; i < NF && !bad; i++) {
        int b = i / (16 * 256), col = i % 256;
        double tv = exp((double)F[i]);
        if (s[i] != F[i] - G[b * 256 + col] || cc[i] != F[i] * 0.75f ||
            fabs(t[i] - tv) > 1e-6 * tv) {
            T_FAIL("fp32 sub/mul/exp differ at %d", i);
            bad = 1;
        }
    }
    for (int i = 0; i < NH && !bad; i++) {
        float hv = H[i], kv = K[(i / 120) * 40 + i % 40];
        float want = isnan(hv) ? NAN : (hv > kv ? hv : kv);
        if (!(q[i] == want || (isnan(want) && isnan(q[i])))) {
            T_FAIL("maximum differs at %d: %g, want %g", i, (double)q[i], (double)want);
            bad = 1;
        }
    }
    for (int k = 0; k < 3; k++) {
        free(r[k]);
        mil_component_free(c[k]);
    }
    REQUIRE(mil_set_threads(1, &err) == 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anemone-test-elem-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(large_elementwise_ops_same_bytes_on_any_thread_count);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return t_finish();
}
