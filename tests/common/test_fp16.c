/* test_fp16.c — exactness of the fp16 conversions (the NumPy cross-check is
 * test_fp16_numpy.py; here: properties that hold by the IEEE definition). */
#include "test.h"

#include "common/cpu.h"
#include "common/fp16.h"

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int is_nan16(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

/* Every half value survives half -> float -> half; NaNs come back quiet with their payload. */
TEST(roundtrip_all_65536)
{
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        uint16_t back = an_fp32_to_fp16(an_fp16_to_fp32(h));
        uint16_t want = is_nan16(h) ? (uint16_t)(h | 0x200) : h;
        if (back != want) {
            T_FAIL("0x%04x came back as 0x%04x", h, back);
            return;
        }
    }
}

/* The value of each half computed from its definition: (-1)^s * 2^(e-15) * (1 + m/1024). */
TEST(values_match_definition)
{
    for (uint32_t i = 0; i < 0x7c00; i++) {
        uint32_t e = i >> 10, m = i & 0x3ff;
        double want = e ? ldexp(1.0 + m / 1024.0, (int)e - 15) : ldexp(m / 1024.0, -14);
        float got = an_fp16_to_fp32((uint16_t)i), gotn = an_fp16_to_fp32((uint16_t)(i | 0x8000));
        if ((double)got != want || (double)gotn != -want || signbit(gotn) == 0) {
            T_FAIL("0x%04x -> %a, expected %a", i, (double)got, want);
            return;
        }
    }
    CHECK(isinf(an_fp16_to_fp32(0x7c00)) && an_fp16_to_fp32(0x7c00) > 0);
    CHECK(isinf(an_fp16_to_fp32(0xfc00)) && an_fp16_to_fp32(0xfc00) < 0);
    CHECK(isnan(an_fp16_to_fp32(0x7c01)) && isnan(an_fp16_to_fp32(0xfe00)));
}

/* Round to nearest, ties to even, checked at every midpoint between neighbouring halves
 * (including the subnormal range and the boundary to infinity) and one ulp either side. */
TEST(ties_and_neighbours)
{
    for (uint32_t i = 0; i < 0x7c00; i++) {
        double lo = an_fp16_to_fp32((uint16_t)i);
        double hi = i + 1 == 0x7c00 ? 65536.0 : an_fp16_to_fp32((uint16_t)(i + 1));
        float mid = (float)((lo + hi) / 2); /* exact in fp32 */
        uint16_t even = (i & 1) ? (uint16_t)(i + 1) : (uint16_t)i;
        uint16_t got = an_fp32_to_fp16(mid);
        if (got != even) {
            T_FAIL("tie %a between 0x%04x and next rounded to 0x%04x", (double)mid, i, got);
            return;
        }
        uint16_t below = an_fp32_to_fp16(bitsf(fbits(mid) - 1));
        uint16_t above = an_fp32_to_fp16(bitsf(fbits(mid) + 1));
        if (below != i || above != i + 1) {
            T_FAIL("around the tie above 0x%04x: below -> 0x%04x, above -> 0x%04x", i, below, above);
            return;
        }
        if (an_fp32_to_fp16(-mid) != (uint16_t)(even | 0x8000)) {
            T_FAIL("negative tie above 0x%04x", i);
            return;
        }
    }
}

TEST(overflow_underflow_specials)
{
    CHECK_EQ_INT(an_fp32_to_fp16(65504.0f), 0x7bff);
    CHECK_EQ_INT(an_fp32_to_fp16(65519.99f), 0x7bff);
    CHECK_EQ_INT(an_fp32_to_fp16(65520.0f), 0x7c00);
    CHECK_EQ_INT(an_fp32_to_fp16(1e10f), 0x7c00);
    CHECK_EQ_INT(an_fp32_to_fp16(-1e10f), 0xfc00);
    CHECK_EQ_INT(an_fp32_to_fp16(INFINITY), 0x7c00);
    CHECK_EQ_INT(an_fp32_to_fp16(-INFINITY), 0xfc00);
    CHECK_EQ_INT(an_fp32_to_fp16(ldexpf(1, -24)), 0x0001);  /* smallest subnormal */
    CHECK_EQ_INT(an_fp32_to_fp16(ldexpf(1, -25)), 0x0000);  /* tie to even: zero */
    CHECK_EQ_INT(an_fp32_to_fp16(ldexpf(1.5f, -25)), 0x0001);
    CHECK_EQ_INT(an_fp32_to_fp16(ldexpf(1, -26)), 0x0000);
    CHECK_EQ_INT(an_fp32_to_fp16(-ldexpf(1, -26)), 0x8000); /* keeps the sign */
    CHECK_EQ_INT(an_fp32_to_fp16(1e-30f), 0x0000);
    CHECK_EQ_INT(an_fp32_to_fp16(ldexpf(1, -14)), 0x0400);  /* smallest normal */
    CHECK_EQ_INT(an_fp32_to_fp16(ldexpf(1023.5f, -24)), 0x0400); /* rounds up into normal */
    CHECK_EQ_INT(an_fp32_to_fp16(0.0f), 0x0000);
    CHECK_EQ_INT(an_fp32_to_fp16(-0.0f), 0x8000);
    CHECK_EQ_INT(an_fp32_to_fp16(1.0f), 0x3c00);
    CHECK_EQ_INT(an_fp32_to_fp16(-2.0f), 0xc000);
    CHECK_EQ_INT(an_fp32_to_fp16(0.1f), 0x2e66);
    uint16_t qn = an_fp32_to_fp16(NAN);
    CHECK(is_nan16(qn) && (qn & 0x200));
    CHECK(is_nan16(an_fp32_to_fp16(bitsf(0x7f800001u)))); /* payload only in low bits */
}

/* The bulk (F16C when present) and scalar paths agree bit for bit on every input. */
TEST(bulk_matches_scalar)
{
    static uint16_t h[65536], h2[65536];
    static float f[65536];
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    for (int hw = 0; hw <= 1; hw++) {
        an_fp16_set_hw(hw);
        an_fp16_to_fp32_n(h, f, 65536);
        for (uint32_t i = 0; i < 65536; i++) {
            if (fbits(f[i]) != fbits(an_fp16_to_fp32(h[i]))) {
                T_FAIL("hw=%d: 0x%04x -> 0x%08x, scalar 0x%08x", hw, i, fbits(f[i]),
                       fbits(an_fp16_to_fp32(h[i])));
                an_fp16_set_hw(1);
                return;
            }
        }
        /* a sweep of fp32 bit patterns through both paths */
        static float src[65536];
        for (uint64_t base = 0; base < (1ull << 32); base += 65536ull * 977) {
            for (uint32_t i = 0; i < 65536; i++)
                src[i] = bitsf((uint32_t)(base + (uint64_t)i * 977));
            an_fp32_to_fp16_n(src, h2, 65536);
            for (uint32_t i = 0; i < 65536; i++) {
                if (h2[i] != an_fp32_to_fp16(src[i])) {
                    T_FAIL("hw=%d: 0x%08x -> 0x%04x, scalar 0x%04x", hw, fbits(src[i]), h2[i],
                           an_fp32_to_fp16(src[i]));
                    an_fp16_set_hw(1);
                    return;
                }
            }
        }
    }
    an_fp16_set_hw(1);
    if (!(an_cpu_features() & AN_CPU_F16C))
        printf("note: this CPU has no F16C; only the portable path was checked\n");
}

int main(void)
{
    RUN(roundtrip_all_65536);
    RUN(values_match_definition);
    RUN(ties_and_neighbours);
    RUN(overflow_underflow_specials);
    RUN(bulk_matches_scalar);
    return t_finish();
}
