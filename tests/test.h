/*
 * test.h — the unit-test harness (header only).
 *
 * A test program is a list of TEST functions run from main with RUN(). Each prints one
 * line that tests/run.sh counts:  "PASS name", "FAIL name: file:line: what", or
 * "SKIP name: why". main returns t_finish(), non-zero when anything failed.
 *
 *   TEST(roundtrip) { CHECK(f(1) == 1); CHECK_EQ_INT(g(), 3); }
 *   int main(void) { RUN(roundtrip); return t_finish(); }
 */
#ifndef TEST_H
#define TEST_H

/* Failure messages are truncated to fit on purpose. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_case_failed, t_case_skipped, t_total_failed;
static char t_case_msg[512];

#define TEST(name) static void name(void)

#define T_FAIL(...)                                                                          \
    do {                                                                                     \
        if (!t_case_failed) {                                                                \
            int t_n_ = snprintf(t_case_msg, sizeof t_case_msg, "%s:%d: ", __FILE__, __LINE__); \
            if (t_n_ > 0 && (size_t)t_n_ < sizeof t_case_msg)                                \
                snprintf(t_case_msg + t_n_, sizeof t_case_msg - (size_t)t_n_, __VA_ARGS__);  \
        }                                                                                    \
        t_case_failed = 1;                                                                   \
    } while (0)

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond))                                                                         \
            T_FAIL("CHECK(%s) failed", #cond);                                               \
    } while (0)

/* Stop the current test when the condition fails (for pointers that later lines use). */
#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            T_FAIL("REQUIRE(%s) failed", #cond);                                             \
            return;                                                                          \
        }                                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                     \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                              \
        if (t_a_ != t_b_)                                                                    \
            T_FAIL("%s == %lld, expected %s == %lld", #a, t_a_, #b, t_b_);                   \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                   \
    do {                                                                                     \
        const char *t_a_ = (a), *t_b_ = (b);                                                 \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0)                                       \
            T_FAIL("%s is \"%.200s\", expected \"%.200s\"", #a, t_a_ ? t_a_ : "(null)",              \
                   t_b_ ? t_b_ : "(null)");                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                \
    do {                                                                                     \
        double t_a_ = (double)(a), t_b_ = (double)(b);                                       \
        if (!(fabs(t_a_ - t_b_) <= (tol)))                                                   \
            T_FAIL("%s == %.9g, expected %.9g (tolerance %g)", #a, t_a_, t_b_, (double)(tol)); \
    } while (0)

/* Mark the current test skipped (with a reason) and leave it. */
#define SKIP(...)                                                                            \
    do {                                                                                     \
        snprintf(t_case_msg, sizeof t_case_msg, __VA_ARGS__);                                \
        t_case_skipped = 1;                                                                  \
        return;                                                                              \
    } while (0)

static inline void t_run(const char *name, void (*fn)(void))
{
    t_case_failed = t_case_skipped = 0;
    t_case_msg[0] = '\0';
    fn();
    if (t_case_failed) {
        printf("FAIL %s: %s\n", name, t_case_msg);
        t_total_failed++;
    } else if (t_case_skipped) {
        printf("SKIP %s: %s\n", name, t_case_msg);
    } else {
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

#define RUN(name) t_run(#name, name)

static inline int t_finish(void) { return t_total_failed ? 1 : 0; }

/* The directory of the shared test data (../shared by default), or NULL when absent. */
static inline const char *t_shared_dir(void)
{
    const char *d = getenv("ANEMONE_SHARED");
    if (!d || !*d)
        d = "../shared";
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/data", d);
    FILE *fp = fopen(probe, "r");
    if (!fp)
        return NULL;
    fclose(fp);
    return d;
}

#endif
