/* fp16.c — bulk conversions with an F16C path; see fp16.h. */
#include "fp16.h"

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AN_HAVE_F16C_PATH 1

__attribute__((target("avx,f16c"))) static void to_fp32_f16c(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++)
        dst[i] = _cvtsh_ss(src[i]);
}

__attribute__((target("avx,f16c"))) static void to_fp16_f16c(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++)
        dst[i] = (uint16_t)_cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}
#endif

static int use_hw = -1; /* -1: not decided yet */

int an_fp16_hw(void)
{
    if (use_hw < 0)
        use_hw = (an_cpu_features() & AN_CPU_F16C) != 0;
    return use_hw;
}

void an_fp16_set_hw(int enable) { use_hw = enable && (an_cpu_features() & AN_CPU_F16C) != 0; }

void an_fp16_to_fp32_n(const uint16_t *src, float *dst, size_t n)
{
#ifdef AN_HAVE_F16C_PATH
    if (an_fp16_hw()) {
        to_fp32_f16c(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dst[i] = an_fp16_to_fp32(src[i]);
}

void an_fp32_to_fp16_n(const float *src, uint16_t *dst, size_t n)
{
#ifdef AN_HAVE_F16C_PATH
    if (an_fp16_hw()) {
        to_fp16_f16c(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dst[i] = an_fp32_to_fp16(src[i]);
}
