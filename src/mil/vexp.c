/*
 * vexp.c — exp over arrays and the softmax of one row, vectorized where the CPU allows.
 *
 * Softmax is a third of the element-wise time of prefill, nearly all of it in expf. The
 * vector exp reduces x = n ln2 + r (|r| <= ln2/2, ln2 split in two so r is exact), takes
 * exp(r) from Cephes' degree-6 polynomial and scales by 2^n with vscalefps, which gives 0
 * inf above FLT_MAX. Results below FLT_MIN are 0 (subnormals are flushed: see exp16).
 * Within 2 ulp of expf for normal results (tests/mil/test_vexp.c sweeps the range); NaN
 * in, NaN out; exp(-inf) = 0.
 */
#include <math.h>

#include "common/cpu.h"
#include "mil/exec.h"

static void exp_c(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

static void softmax_c(float *buf, int64_t D)
{
    float mx = -INFINITY, sum = 0;
    for (int64_t d = 0; d < D; d++)
        mx = buf[d] > mx ? buf[d] : mx;
    for (int64_t d = 0; d < D; d++) {
        buf[d] = expf(buf[d] - mx);
        sum += buf[d];
    }
    float inv = 1.0f / sum;
    for (int64_t d = 0; d < D; d++)
        buf[d] *= inv;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512dq,fma")))

static inline TGT __m512 exp16(__m512 x)
{
    /* Results below FLT_MIN are flushed to 0: lanes under ln(FLT_MIN) compute exp(0) and
     * are zeroed at the end. Letting vscalefps produce subnormals costs a microcode assist
     * per lane, ten times the whole row's time in a causal-masked softmax row of -inf.
     * The comparison is false for NaN, and min keeps NaN. */
    __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365448f), _CMP_LT_OQ);
    x = _mm512_mask_mov_ps(x, tiny, _mm512_setzero_ps());
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_scalef_ps((__mmask16)~tiny, p, n);
}

static TGT void exp_avx512(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, mk, exp16(_mm512_maskz_loadu_ps(mk, x + i)));
    }
}

static TGT void softmax_avx512(float *buf, int64_t D)
{
    /* vmaxps returns its second operand when the first is NaN: NaN is skipped, as the
     * portable comparison skips it */
    __m512 mv = _mm512_set1_ps(-INFINITY);
    int64_t d = 0;
    for (; d + 16 <= D; d += 16)
        mv = _mm512_max_ps(_mm512_loadu_ps(buf + d), mv);
    float mx = _mm512_reduce_max_ps(mv);
    for (; d < D; d++)
        mx = buf[d] > mx ? buf[d] : mx;
    __m512 m = _mm512_set1_ps(mx), s = _mm512_setzero_ps();
    for (d = 0; d + 16 <= D; d += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(buf + d), m));
        _mm512_storeu_ps(buf + d, e);
        s = _mm512_add_ps(s, e);
    }
    if (d < D) {
        __mmask16 mk = (__mmask16)((1u << (D - d)) - 1);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, buf + d), m));
        _mm512_mask_storeu_ps(buf + d, mk, e);
        s = _mm512_add_ps(s, _mm512_maskz_mov_ps(mk, e));
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(s));
    for (d = 0; d + 16 <= D; d += 16)
        _mm512_storeu_ps(buf + d, _mm512_mul_ps(_mm512_loadu_ps(buf + d), inv));
    if (d < D) {
        __mmask16 mk = (__mmask16)((1u << (D - d)) - 1);
        _mm512_mask_storeu_ps(buf + d, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, buf + d), inv));
    }
}
#endif

static int use_avx512(void)
{
#if defined(__x86_64__)
    static int v = -1;
    if (v < 0)
        v = (an_cpu_features() & AN_CPU_AVX512F) != 0;
    return v;
#else
    return 0;
#endif
}

void mx_exp_n(const float *x, float *y, int64_t n)
{
#if defined(__x86_64__)
    if (use_avx512()) {
        exp_avx512(x, y, n);
        return;
    }
#endif
    exp_c(x, y, n);
}

void mx_softmax_row(float *buf, int64_t D)
{
#if defined(__x86_64__)
    if (use_avx512()) {
        softmax_avx512(buf, D);
        return;
    }
#endif
    softmax_c(buf, D);
}
