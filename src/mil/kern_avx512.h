/*
 * kern_avx512.h — what the AVX-512 kernel files share (kern_avx512.c, kern_avx512_i16.c,
 * kern_avx512_dense.c): the target attributes and the small helpers they all use.
 */
#ifndef MIL_KERN_AVX512_H
#define MIL_KERN_AVX512_H

#include "mil/kern_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT
/* Register arrays stay in registers only when their loops are fully unrolled. */
#define UNROLL _Pragma("GCC unroll 16")

/* Sixteen horizontal sums at once: lane i of the result is the sum of a[i]. */
INL __m512 hsum16_ps(const __m512 *a)
{
    __m512 b[8], c[4], d[2];
    UNROLL
    for (int i = 0; i < 8; i++)
        b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                             _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    UNROLL
    for (int i = 0; i < 4; i++)
        c[i] = _mm512_add_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1]))),
            _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1]))));
    UNROLL
    for (int i = 0; i < 2; i++)
        d[i] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(d[0], d[1], 0x88), _mm512_shuffle_f32x4(d[0], d[1], 0xdd));
}

/* Y(m, nb .. nb+ng) = lanes of v (+ bias), 16 outputs at once when they are contiguous. */
INL void store16(void *y, int y_f16, int64_t off, int64_t yn, __m512 v, const float *bias, int64_t nb, int ng)
{
    __mmask16 mk = (__mmask16)((1u << ng) - 1);
    if (bias)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, bias + nb));
    if (yn == 1) {
        if (y_f16)
            _mm256_mask_storeu_epi16((uint16_t *)y + off, mk,
                                     _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        else
            _mm512_mask_storeu_ps((float *)y + off, mk, v);
        return;
    }
    float t[16];
    _mm512_storeu_ps(t, v);
    for (int r = 0; r < ng; r++)
        kn_store(y, y_f16, off + r * yn, t[r]);
}

#endif
#endif
