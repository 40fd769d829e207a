/*
 * membw.h — the machine's memory bandwidth, measured by streaming a buffer.
 *
 * Decode reads every weight once per token, so its speed limit is the rate at which
 * the cores can stream memory. an_membw_measure reads a buffer much larger than the
 * last-level cache (1 GiB by default) with `threads` threads (the pool from pool.h;
 * each thread XOR-sums contiguous blocks, with AVX2 when the CPU has it), keeps the
 * best of a few passes, and does the same for a copy of half the buffer into the other
 * half. The numbers are rates of the whole machine, not of one core.
 *
 * Thread-safety: reentrant (each call makes its own buffer and pool). It takes about
 * ten passes over the buffer: ~1-2 s for 1 GiB on a typical machine.
 */
#ifndef AN_MEMBW_H
#define AN_MEMBW_H

#include <stddef.h>

#include "error.h"

#define AN_MEMBW_DEFAULT_BYTES ((size_t)1 << 30)
#define AN_MEMBW_MIN_BYTES ((size_t)1 << 20)
#define AN_MEMBW_MAX_BYTES ((size_t)1 << 36)
#define AN_MEMBW_MAX_THREADS 1024

typedef struct an_membw {
    double read_gbs;  /* best read rate, 1e9 bytes/s */
    double copy_gbs;  /* best copy rate, bytes read + bytes written per s (STREAM's count) */
    double read_s;    /* seconds of that best read pass */
    size_t bytes;     /* buffer size used */
    int threads;
    const char *kernel; /* "avx2" or "c" */
} an_membw;

/* Measure with threads >= 1 threads over a buffer of `bytes` (0 = the default;
 * otherwise AN_MEMBW_MIN_BYTES..AN_MEMBW_MAX_BYTES, rounded down to a whole number of
 * blocks). 0 on success; -1 + err on bad arguments or when the buffer cannot be had. */
int an_membw_measure(int threads, size_t bytes, an_membw *out, an_error *err);

#endif
