/*
 * test_vexp.c — the vector exp and row softmax of vexp.c against libm (double exp).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mil/exec.h"
#include "test.h"

/* Every normal result within 2.5 ulp-equivalents (3e-7 relative) of the double-precision
 * exp, over a dense sweep of [-104, 0] and a few positive arguments; results that would
 * be subnormal are 0. */
TEST(exp_matches_libm)
{
    int64_t n = 2000003;
    float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        x[i] = -104.0f + 104.0f * (float)i / (float)(n - 1);
    x[n - 1] = 0.0f;
    x[n - 2] = 1.5f;
    x[n - 3] = 80.0f;
    mx_exp_n(x, y, n);
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < n; i++) {
        double want = exp((double)x[i]);
        if (want < FLT_MIN) { /* subnormal results are flushed to zero */
            CHECK(y[i] == 0.0f || (x[i] > -87.34f && fabs(y[i] - want) <= 3e-7 * FLT_MIN));
            continue;
        }
        double rel = fabs(y[i] - want) / want;
        if (rel > worst)
            worst = rel, at = i;
    }
    printf("INFO worst relative error %.3g at x = %.9g\n", worst, at >= 0 ? x[at] : 0.0f);
    CHECK(worst < 3e-7);
    CHECK(y[n - 1] == 1.0f);
    free(x);
    free(y);
}

TEST(exp_special_values)
{
    float x[20] = {-INFINITY, NAN, -200.0f, -87.0f, 0.0f, -0.0f, 100.0f, INFINITY, -1e-8f, 1e-8f};
    for (int i = 10; i < 20; i++)
        x[i] = -(float)i * 0.37f; /* a tail shorter than a vector */
    float y[20];
    mx_exp_n(x, y, 20);
    CHECK(y[0] == 0.0f);
    CHECK(isnan(y[1]));
    CHECK(y[2] == 0.0f);
    CHECK(fabs(y[3] - exp(-87.0)) <= 3e-7 * exp(-87.0));
    CHECK(y[4] == 1.0f && y[5] == 1.0f);
    CHECK(isinf(y[6]) && y[6] > 0 && isinf(y[7]));
    CHECK(fabs(y[8] - 1.0) < 1e-7 && fabs(y[9] - 1.0) < 1e-7);
    for (int i = 10; i < 20; i++)
        CHECK(fabs(y[i] - exp((double)x[i])) <= 3e-7 * exp((double)x[i]));
    /* 19 values: 16 in a vector, 3 in the masked tail; the tail must not write past n */
    float z[20];
    z[19] = 42.0f;
    mx_exp_n(x + 10, z, 9);
    CHECK(z[19] == 42.0f);
}

/* The row softmax: sums to 1, matches the double-precision definition, skips NaN in the
 * max as the portable code does, and a row of -inf gives NaN like expf(-inf + inf). */
TEST(softmax_row_matches_definition)
{
    for (int64_t D = 1; D < 70; D += 3) {
        float b[80];
        double e[80], s = 0, mx = -INFINITY;
        for (int64_t d = 0; d < D; d++) {
            b[d] = (float)(sin((double)d * 1.7 + (double)D) * 12.0);
            mx = b[d] > mx ? b[d] : mx;
        }
        for (int64_t d = 0; d < D; d++)
            s += e[d] = exp((double)b[d] - mx);
        mx_softmax_row(b, D);
        for (int64_t d = 0; d < D; d++)
            CHECK(fabs(b[d] - e[d] / s) <= 1e-6 * (e[d] / s) + 1e-9);
    }
    float m[3] = {-INFINITY, -INFINITY, -INFINITY};
    mx_softmax_row(m, 3);
    CHECK(isnan(m[0]));
    float k[18] = {0};
    k[5] = 3.0f;
    mx_softmax_row(k, 18);
    CHECK(k[5] > 0.5f && fabs(k[0] - k[17]) == 0);
}

int main(void)
{
    RUN(exp_matches_libm);
    RUN(exp_special_values);
    RUN(softmax_row_matches_definition);
    return t_finish();
}
