/*
 * vmath.c — row passes for softmax: max, exp-and-sum, scale (see vmath.h for the exp
 * method and its accuracy). The x86 versions are compiled with target attributes and
 * picked at run time; the portable version is plain C over libm expf.
 */
#include "mil/vmath.h"

#include <math.h>

#include "common/cpu.h"

/* ---- portable ---- */

static void exp_c(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

static float max_c(const float *x, int64_t n)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static float exp_sum_c(float *x, int64_t n, float shift)
{
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - shift);
        sum += x[i];
    }
    return sum;
}

static void scale_c(float *x, int64_t n, float s)
{
    for (int64_t i = 0; i < n; i++)
        x[i] *= s;
}

static const mx_vrow vrow_c = {"c", exp_c, max_c, exp_sum_c, scale_c};

#if defined(__x86_64__)
#include <immintrin.h>

/* Constants of the exp (vmath.h): x is clamped to [EXP_LO, EXP_HI] (beyond them the
 * result is 0 or +inf anyway; the clamp keeps 2^n's two factors normal floats); ln2 is
 * LN2_HI + LN2_LO, LN2_HI the float nearest to ln2. */
#define EXP_LO (-110.0f)
#define EXP_HI 89.0f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0x1.62e430p-1f
#define LN2_LO (-0x1.05c610p-29f)
#define C2 (float)(1.0 / 2)
#define C3 (float)(1.0 / 6)
#define C4 (float)(1.0 / 24)
#define C5 (float)(1.0 / 120)
#define C6 (float)(1.0 / 720)
#define C7 (float)(1.0 / 5040)

/* ---- AVX2 + FMA ---- */

#define T2 __attribute__((target("avx2,fma")))
#define INL2 static inline __attribute__((always_inline)) T2

/* max(lo, x) and min(hi, x) return x when x is NaN, so NaN reaches the polynomial and
 * the result; the integer conversion of a NaN n only affects the (multiplied) scale. */
INL2 __m256 exp8(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), x);
    x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(C7);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^n = 2^n1 · 2^n2, n1 = floor(n/2): both factors normal for n in [-159, 128] */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

INL2 float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Tails go through an 8-float buffer padded with `fill`. */
INL2 __m256 tail8(const float *x, int64_t m, float fill)
{
    float t[8];
    for (int k = 0; k < 8; k++)
        t[k] = k < m ? x[k] : fill;
    return _mm256_loadu_ps(t);
}

INL2 void untail8(float *y, int64_t m, __m256 v)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int64_t k = 0; k < m; k++)
        y[k] = t[k];
}

T2 static void exp_avx2(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    if (i < n)
        untail8(y + i, n - i, exp8(tail8(x + i, n - i, 0.0f)));
}

T2 static float max_avx2(const float *x, int64_t n)
{
    /* vmaxps returns its second operand when either is NaN: NaNs in x are skipped */
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
    }
    for (; i + 8 <= n; i += 8)
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    if (i < n)
        m0 = _mm256_max_ps(tail8(x + i, n - i, -INFINITY), m0);
    m0 = _mm256_max_ps(m0, m1);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

T2 static float exp_sum_avx2(float *x, int64_t n, float shift)
{
    __m256 sh = _mm256_set1_ps(shift), s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh));
        _mm256_storeu_ps(x + i, e0);
        _mm256_storeu_ps(x + i + 8, e1);
        s0 = _mm256_add_ps(s0, e0);
        s1 = _mm256_add_ps(s1, e1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        _mm256_storeu_ps(x + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (i < n) { /* padding with -inf makes the extra lanes e^-inf = 0 */
        __m256 e = exp8(_mm256_sub_ps(tail8(x + i, n - i, -INFINITY), sh));
        untail8(x + i, n - i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    return hsum8(_mm256_add_ps(s0, s1));
}

T2 static void scale_avx2(float *x, int64_t n, float s)
{
    __m256 v = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), v));
    for (; i < n; i++)
        x[i] *= s;
}

static const mx_vrow vrow_avx2 = {"avx2", exp_avx2, max_avx2, exp_sum_avx2, scale_avx2};

/* ---- AVX-512 ---- */

#define T5 __attribute__((target("avx512f,avx2,fma")))
#define INL5 static inline __attribute__((always_inline)) T5

INL5 __m512 exp16(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x);
    x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(C7);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_cvtps_epi32(n);
    __m512i n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
    __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

INL5 __mmask16 tail_mask(int64_t m) { return (__mmask16)((1u << m) - 1); }

T5 static void exp_avx512(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, exp16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

T5 static float max_avx512(const float *x, int64_t n)
{
    __m512 ninf = _mm512_set1_ps(-INFINITY), m0 = ninf, m1 = ninf;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
        m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
    }
    for (; i + 16 <= n; i += 16)
        m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    if (i < n)
        m0 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i), m0);
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

T5 static float exp_sum_avx512(float *x, int64_t n, float shift)
{
    __m512 sh = _mm512_set1_ps(shift), s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
        __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), sh));
        _mm512_storeu_ps(x + i, e0);
        _mm512_storeu_ps(x + i + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
        _mm512_storeu_ps(x + i, e);
        s0 = _mm512_add_ps(s0, e);
    }
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh));
        _mm512_mask_storeu_ps(x + i, k, e);
        s0 = _mm512_mask_add_ps(s0, k, s0, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T5 static void scale_avx512(float *x, int64_t n, float s)
{
    __m512 v = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), v));
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), v));
    }
}

static const mx_vrow vrow_avx512 = {"avx512", exp_avx512, max_avx512, exp_sum_avx512,
                                    scale_avx512};
#endif

const mx_vrow *const *mx_vrow_all(int *n)
{
    static const mx_vrow *const only_c[] = {&vrow_c};
#if defined(__x86_64__)
    static const mx_vrow *const with512[] = {&vrow_avx512, &vrow_avx2, &vrow_c};
    static const mx_vrow *const with2[] = {&vrow_avx2, &vrow_c};
    unsigned f = an_cpu_features();
    if ((f & AN_CPU_AVX2) && (f & AN_CPU_FMA)) {
        int has512 = (f & AN_CPU_AVX512F) != 0;
        *n = has512 ? 3 : 2;
        return has512 ? with512 : with2;
    }
#endif
    *n = 1;
    return only_c;
}

const mx_vrow *mx_vrow_best(void)
{
    int n;
    return mx_vrow_all(&n)[0];
}
