/* Row passes of src/mil/vmath.c (softmax's exp, max, exp-and-sum, scale) in every
 * version this CPU runs, against double-precision libm (exp) and libm expf. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mil/vmath.h"
#include "test.h"

#define REL_BOUND 5e-7 /* about 4 ulp: what softmax needs */
#define REL_TIGHT 1.5e-7 /* what the method reaches (under 1 ulp measured): catches slips */

/* Error of y as e^x: relative where e^x is a normal float, in units of the smallest
 * subnormal (2^-149) below; sets *sub. */
static double exp_err(float x, float y, int *sub)
{
    double ref = exp((double)x);
    *sub = ref < FLT_MIN;
    if (*sub)
        return fabs((double)y - ref) / 0x1p-149;
    return fabs((double)y - ref) / ref;
}

/* Dense sweep of [lo, hi] plus a spread of random floats in it: worst relative error over
 * normal results and worst error in subnormal steps below them. */
static void sweep(const mx_vrow *v, float lo, float hi, int64_t n, double *rel, double *subs,
                  float *worst_x)
{
    enum { CH = 4096 };
    float x[CH], y[CH];
    *rel = *subs = 0;
    *worst_x = 0;
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int64_t i0 = 0; i0 < n; i0 += CH) {
        int64_t m = n - i0 < CH ? n - i0 : CH;
        for (int64_t k = 0; k < m; k++) {
            if ((k & 7) == 7) { /* random: every mantissa pattern gets a chance */
                seed = seed * 6364136223846793005u + 1442695040888963407u;
                x[k] = lo + (hi - lo) * (float)((seed >> 40) * 0x1p-24);
            } else {
                x[k] = lo + (hi - lo) * (float)((double)(i0 + k) / (double)(n - 1));
            }
        }
        v->exp(x, y, m);
        for (int64_t k = 0; k < m; k++) {
            int sub;
            double e = exp_err(x[k], y[k], &sub);
            if (sub && e > *subs)
                *subs = e;
            if (!sub && e > *rel)
                *rel = e, *worst_x = x[k];
        }
    }
}

TEST(exp_accurate_over_softmax_range)
{
    int nv;
    const mx_vrow *const *all = mx_vrow_all(&nv);
    REQUIRE(nv >= 1 && strcmp(all[nv - 1]->name, "c") == 0);
    for (int i = 0; i < nv; i++) {
        double rel, subs;
        float wx;
        sweep(all[i], -104.0f, 0.0f, 1 << 22, &rel, &subs, &wx);
        printf("# %s: max relative error %.3g (%.2f ulp) at x=%.9g, subnormal %.2f steps\n",
               all[i]->name, rel, rel / 0x1p-23, (double)wx, subs);
        if (rel >= REL_TIGHT || rel >= REL_BOUND || subs > 1.0)
            T_FAIL("%s: relative error %.3g, subnormal error %.3g steps", all[i]->name, rel, subs);
    }
}

TEST(exp_accurate_for_positive_arguments)
{
    int nv;
    const mx_vrow *const *all = mx_vrow_all(&nv);
    for (int i = 0; i < nv; i++) {
        double rel, subs;
        float wx;
        sweep(all[i], 0.0f, 88.5f, 1 << 18, &rel, &subs, &wx);
        if (rel >= REL_TIGHT)
            T_FAIL("%s: relative error %.3g at x=%.9g", all[i]->name, rel, (double)wx);
    }
}

TEST(exp_special_values_like_expf)
{
    static const float xs[] = {
        -INFINITY, -FLT_MAX, -1e10f, -200.0f, -110.5f, -104.0f, -103.98f, -103.9f, -100.0f,
        -87.34f, -87.0f, -1e-30f, -0.0f, 0.0f, 1e-30f, 88.7f, 88.73f, 89.5f, 1e10f, INFINITY,
        NAN, -NAN,
    };
    enum { N = sizeof xs / sizeof xs[0] };
    int nv;
    const mx_vrow *const *all = mx_vrow_all(&nv);
    for (int i = 0; i < nv; i++) {
        float y[N];
        all[i]->exp(xs, y, N);
        for (int k = 0; k < N; k++) {
            float want = expf(xs[k]);
            int ok;
            if (isnan(want))
                ok = isnan(y[k]);
            else if (want == 0 || isinf(want) || want == 1)
                ok = y[k] == want; /* underflow, overflow and e^±0 are exact */
            else
                ok = fabs((double)y[k] - (double)want) <= REL_BOUND * want + 0x1p-149;
            if (!ok)
                T_FAIL("%s: exp(%g) = %a, expf gives %a", all[i]->name, (double)xs[k],
                       (double)y[k], (double)want);
        }
        /* below the last subnormal the result is 0 exactly, as expf underflows */
        for (float x = -150.0f; x <= -104.0f; x += 0.125f) {
            float yv;
            all[i]->exp(&x, &yv, 1);
            if (yv != 0.0f || expf(x) != 0.0f)
                T_FAIL("%s: exp(%g) = %a, not 0", all[i]->name, (double)x, (double)yv);
        }
    }
}

/* Rows of every length up to 100 (all vector tails), values in [-40, 10] with a few
 * -inf (masked positions) and NaNs: max, exp-and-sum and scale against double math.
 * Elements past n are never written. */
TEST(row_passes_match_reference)
{
    enum { CAP = 104 };
    int nv;
    const mx_vrow *const *all = mx_vrow_all(&nv);
    uint64_t seed = 42;
    for (int i = 0; i < nv; i++) {
        const mx_vrow *v = all[i];
        for (int n = 0; n <= 100; n++) {
            for (int nan_at = -1; nan_at < (n < 3 ? n : 3); nan_at += 2) {
                float x[CAP], w[CAP];
                double want_max = -INFINITY;
                for (int k = 0; k < CAP; k++) {
                    seed = seed * 6364136223846793005u + 1442695040888963407u;
                    double u = (double)(seed >> 11) * 0x1p-53;
                    x[k] = k % 11 == 5 ? -INFINITY : (float)(-40.0 + 50.0 * u);
                }
                if (nan_at >= 0)
                    x[nan_at] = NAN;
                for (int k = 0; k < n; k++)
                    if (x[k] > want_max) /* NaNs skipped */
                        want_max = x[k];
                memcpy(w, x, sizeof x);
                float m = v->max(x, n);
                if ((double)m != want_max) {
                    T_FAIL("%s n=%d: max %g, want %g", v->name, n, (double)m, want_max);
                    continue;
                }
                if (n == 0 || isinf(m))
                    continue;
                double want_sum = 0;
                for (int k = 0; k < n; k++)
                    want_sum += exp((double)(x[k] - m));
                float sum = v->exp_sum(x, n, m);
                v->scale(x, n, 1.0f / sum);
                if (nan_at >= 0) {
                    if (!isnan(sum))
                        T_FAIL("%s n=%d: a NaN in the row gave sum %g", v->name, n, (double)sum);
                    continue;
                }
                if (fabs(sum - want_sum) > 1e-6 * want_sum)
                    T_FAIL("%s n=%d: sum %.9g, want %.9g", v->name, n, (double)sum, want_sum);
                for (int k = 0; k < n; k++) {
                    double want = exp((double)(w[k] - m)) / want_sum;
                    if (fabs(x[k] - want) > 2e-6 * want + 1e-30)
                        T_FAIL("%s n=%d [%d]: %g, want %g", v->name, n, k, (double)x[k], want);
                }
                for (int k = n; k < CAP; k++)
                    if (memcmp(&x[k], &w[k], sizeof(float)) != 0)
                        T_FAIL("%s n=%d: element %d past the row was written", v->name, n, k);
            }
        }
    }
}

TEST(best_is_first)
{
    int nv;
    const mx_vrow *const *all = mx_vrow_all(&nv);
    CHECK(mx_vrow_best() == all[0]);
    printf("# versions:");
    for (int i = 0; i < nv; i++)
        printf(" %s", all[i]->name);
    printf("\n");
}

int main(void)
{
    RUN(exp_accurate_over_softmax_range);
    RUN(exp_accurate_for_positive_arguments);
    RUN(exp_special_values_like_expf);
    RUN(row_passes_match_reference);
    RUN(best_is_first);
    return t_finish();
}
