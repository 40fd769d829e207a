/* membw.c — streaming read and copy rates over a buffer beyond the caches (membw.h). */
#include "membw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cpu.h"
#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MEMBW_X86 1
#endif

/* Work is handed out in blocks: big enough that the pool's per-chunk overhead is
 * noise, small enough that two threads finish together. */
#define BLOCK ((size_t)1 << 20)
#define READ_PASSES 5
#define COPY_PASSES 3

typedef uint64_t (*read_fn)(const uint64_t *p, size_t n_words);

/* XOR of every word, four independent chains so the loads are not serialized. */
static uint64_t read_c(const uint64_t *p, size_t n)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        a ^= p[i];
        b ^= p[i + 1];
        c ^= p[i + 2];
        d ^= p[i + 3];
    }
    return a ^ b ^ c ^ d;
}

#ifdef MEMBW_X86
/* 128 bytes (two cache lines) per iteration, aligned loads; n is a multiple of 16. */
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint64_t *p, size_t n)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 16 <= n; i += 16) {
        a = _mm256_xor_si256(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_xor_si256(b, _mm256_load_si256((const __m256i *)(p + i + 4)));
        c = _mm256_xor_si256(c, _mm256_load_si256((const __m256i *)(p + i + 8)));
        d = _mm256_xor_si256(d, _mm256_load_si256((const __m256i *)(p + i + 12)));
    }
    a = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
    uint64_t w[4];
    _mm256_storeu_si256((__m256i *)w, a);
    return w[0] ^ w[1] ^ w[2] ^ w[3];
}
#endif

typedef struct job {
    uint8_t *buf;
    size_t n_blocks;   /* of the read pass; the copy uses n_blocks / 2 from each half */
    read_fn read;
    uint64_t *sums;    /* one per block: keeps the reads observable */
} job;

static void fill_blocks(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    job *j = ctx;
    for (size_t k = begin; k < end; k++) { /* first touch: the pages exist, none is the zero page */
        uint64_t *w = (uint64_t *)(j->buf + k * BLOCK);
        for (size_t i = 0; i < BLOCK / 8; i++)
            w[i] = (k * (BLOCK / 8) + i) * 0x9e3779b97f4a7c15ull;
    }
}

static void read_blocks(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    job *j = ctx;
    for (size_t k = begin; k < end; k++)
        j->sums[k] = j->read((const uint64_t *)(j->buf + k * BLOCK), BLOCK / 8);
}

static void copy_blocks(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    job *j = ctx;
    size_t half = j->n_blocks / 2;
    for (size_t k = begin; k < end; k++)
        memcpy(j->buf + (half + k) * BLOCK, j->buf + k * BLOCK, BLOCK);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int an_membw_measure(int threads, size_t bytes, an_membw *out, an_error *err)
{
    if (!out)
        return an_errorf(err, "membw: no result to fill");
    if (threads < 1 || threads > AN_MEMBW_MAX_THREADS)
        return an_errorf(err, "membw: thread count %d is not in 1..%d", threads, AN_MEMBW_MAX_THREADS);
    if (bytes == 0)
        bytes = AN_MEMBW_DEFAULT_BYTES;
    if (bytes < AN_MEMBW_MIN_BYTES || bytes > AN_MEMBW_MAX_BYTES)
        return an_errorf(err, "membw: buffer of %zu bytes is not in %zu..%zu", bytes, AN_MEMBW_MIN_BYTES,
                         AN_MEMBW_MAX_BYTES);
    job j = {.n_blocks = bytes / BLOCK, .read = read_c};
    const char *kernel = "c";
#ifdef MEMBW_X86
    if (an_cpu_features() & AN_CPU_AVX2)
        j.read = read_avx2, kernel = "avx2";
#endif
    bytes = j.n_blocks * BLOCK;
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return an_errorf(err, "membw: cannot map a buffer of %zu bytes", bytes);
#ifdef MADV_HUGEPAGE
    madvise(mem, bytes, MADV_HUGEPAGE); /* fewer TLB misses, as large weight maps get */
#endif
    j.buf = mem;
    j.sums = calloc(j.n_blocks, sizeof *j.sums);
    an_pool *pool = an_pool_create(threads, err);
    if (!j.sums || !pool) {
        free(j.sums);
        an_pool_destroy(pool);
        munmap(mem, bytes);
        return j.sums ? an_error_prefix(err, "membw") : an_errorf(err, "membw: out of memory");
    }
    /* Grain = an even share per thread: each thread streams one contiguous range. */
    size_t grain = (j.n_blocks + (size_t)threads - 1) / (size_t)threads;
    an_pool_for(pool, j.n_blocks, grain, fill_blocks, &j);
    double best_read = 1e300, best_copy = 1e300;
    for (int r = 0; r < READ_PASSES; r++) {
        double t0 = now_s();
        an_pool_for(pool, j.n_blocks, grain, read_blocks, &j);
        double dt = now_s() - t0;
        if (dt < best_read)
            best_read = dt;
    }
    size_t half = j.n_blocks / 2, copy_grain = (half + (size_t)threads - 1) / (size_t)threads;
    for (int r = 0; r < COPY_PASSES && half > 0; r++) {
        double t0 = now_s();
        an_pool_for(pool, half, copy_grain, copy_blocks, &j);
        double dt = now_s() - t0;
        if (dt < best_copy)
            best_copy = dt;
    }
    uint64_t x = 0;
    for (size_t k = 0; k < j.n_blocks; k++)
        x ^= j.sums[k];
    volatile uint64_t sink = x; /* the sums are used: the reads cannot be dropped */
    (void)sink;
    an_pool_destroy(pool);
    free(j.sums);
    munmap(mem, bytes);
    if (best_read <= 0)
        best_read = 1e-9;
    if (best_copy <= 0)
        best_copy = 1e-9;
    memset(out, 0, sizeof *out);
    out->read_gbs = (double)bytes / best_read / 1e9;
    out->copy_gbs = half ? 2.0 * (double)(half * BLOCK) / best_copy / 1e9 : 0;
    out->read_s = best_read;
    out->bytes = bytes;
    out->threads = threads;
    out->kernel = kernel;
    return 0;
}
