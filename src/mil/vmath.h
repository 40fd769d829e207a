/*
 * vmath.h — vector passes over a row of fp32 values (softmax's max, exp and scale), with
 * AVX-512 and AVX2+FMA versions chosen at run time and a portable one (libm expf).
 * Internal to src/mil/.
 *
 * The vector exp: x = n·ln2 + r with n = round(x·log2 e) and |r| <= ln2/2 (ln2 split in
 * two parts for an exact reduction), e^r by its Taylor polynomial of degree 7 (truncation
 * below 1e-8 relative), and 2^n applied as two power-of-two factors so that subnormal
 * results are rounded once and nothing overflows early. Relative error under 1.5e-7 (about
 * 1 ulp, measured by tests/mil/test_vexp.c) wherever the result is a normal float, within one
 * subnormal step below; x < -104 gives 0 like expf, -inf gives 0, +inf and x > 89 give
 * +inf, NaN stays NaN.
 *
 * All functions are pure over their arguments and thread-safe; n may be 0.
 */
#ifndef MIL_VMATH_H
#define MIL_VMATH_H

#include <stdint.h>

typedef struct mx_vrow {
    const char *name;                                  /* "avx512", "avx2", "c" */
    void (*exp)(const float *x, float *y, int64_t n);  /* y = e^x (x == y allowed) */
    float (*max)(const float *x, int64_t n);           /* NaNs skipped; -inf when none */
    /* x[i] = e^(x[i] - shift); returns the sum of the new x[i] */
    float (*exp_sum)(float *x, int64_t n, float shift);
    void (*scale)(float *x, int64_t n, float s);       /* x[i] *= s */
} mx_vrow;

/* The fastest version this CPU runs (decided once, by an_cpu_features). */
const mx_vrow *mx_vrow_best(void);

/* Every version this CPU can run, fastest first, the portable one last; *n set. */
const mx_vrow *const *mx_vrow_all(int *n);

#endif
