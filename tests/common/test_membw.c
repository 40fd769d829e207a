/* test_membw.c — the bandwidth probe returns sane numbers and refuses bad arguments.
 * No timing thresholds: only that the rates are positive, finite and below what any
 * memory system delivers (the check that the reads were not optimized away is that a
 * 16 MiB pass takes measurable time). */
#include "test.h"

#include <math.h>

#include "common/membw.h"

TEST(membw_plausible_rates)
{
    an_membw bw;
    an_error err;
    an_error_clear(&err);
    for (int threads = 1; threads <= 2; threads++) {
        REQUIRE(an_membw_measure(threads, (size_t)16 << 20, &bw, &err) == 0);
        CHECK(isfinite(bw.read_gbs) && bw.read_gbs > 0.05 && bw.read_gbs < 10000);
        CHECK(isfinite(bw.copy_gbs) && bw.copy_gbs > 0.05 && bw.copy_gbs < 10000);
        CHECK(bw.read_s > 1e-6);
        CHECK_EQ_INT(bw.bytes, (size_t)16 << 20);
        CHECK_EQ_INT(bw.threads, threads);
        CHECK(bw.kernel && (!strcmp(bw.kernel, "avx2") || !strcmp(bw.kernel, "c")));
    }
    /* A size that is not a whole number of blocks is rounded down. */
    REQUIRE(an_membw_measure(1, ((size_t)3 << 20) + 12345, &bw, &err) == 0);
    CHECK_EQ_INT(bw.bytes, (size_t)3 << 20);
}

TEST(membw_bad_arguments)
{
    an_membw bw;
    an_error err;
    an_error_clear(&err);
    CHECK_EQ_INT(an_membw_measure(0, (size_t)4 << 20, &bw, &err), -1);
    CHECK(strstr(err.msg, "thread") != NULL);
    CHECK_EQ_INT(an_membw_measure(-3, (size_t)4 << 20, &bw, &err), -1);
    CHECK_EQ_INT(an_membw_measure(AN_MEMBW_MAX_THREADS + 1, (size_t)4 << 20, &bw, &err), -1);
    an_error_clear(&err);
    CHECK_EQ_INT(an_membw_measure(1, 1000, &bw, &err), -1);
    CHECK(strstr(err.msg, "buffer") != NULL);
    CHECK_EQ_INT(an_membw_measure(1, AN_MEMBW_MAX_BYTES + 1, &bw, &err), -1);
    CHECK_EQ_INT(an_membw_measure(1, (size_t)4 << 20, NULL, &err), -1);
}

int main(void)
{
    RUN(membw_plausible_rates);
    RUN(membw_bad_arguments);
    return t_finish();
}
