/* pool.c — see pool.h. */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct worker_arg {
    an_pool *pool;
    int index;
} worker_arg;

/*
 * Protocol. A loop is published under the mutex (fn, ctx, n, grain) with a new
 * generation number; iterations are claimed from one atomic word holding the
 * generation (high bits) and the next index (low bits), so a worker that wakes late
 * can never claim an index of a later loop. The caller returns once every iteration
 * has *finished* (a counter), not once every worker has checked in: a worker the
 * scheduler has not run yet costs nothing. Workers spin briefly before sleeping, since
 * loops follow each other closely during inference.
 */
#define IDX_BITS 40
#define IDX_MASK ((UINT64_C(1) << IDX_BITS) - 1)
#define SPIN_ROUNDS 20000

struct an_pool {
    int size;
    pthread_t *threads;
    worker_arg *args;

    pthread_mutex_t mu;
    pthread_cond_t start;   /* signalled when a new loop (generation) begins or on stop */
    atomic_ulong generation;
    atomic_int stop;

    /* the current loop (written under mu before generation changes) */
    an_pool_fn fn;
    void *ctx;
    size_t n, grain;
    _Atomic uint64_t claim;  /* generation << IDX_BITS | next index */
    atomic_size_t finished;  /* iterations done in the current loop */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Run chunks of loop `gen` until none is left (or another loop has begun). */
static void run_chunks(an_pool *p, uint64_t gen, an_pool_fn fn, void *ctx, size_t n, size_t grain,
                       int thread)
{
    uint64_t tag = (gen & (UINT64_MAX >> IDX_BITS)) << IDX_BITS;
    uint64_t v = atomic_load(&p->claim);
    for (;;) {
        if ((v & ~IDX_MASK) != tag)
            return;
        size_t begin = (size_t)(v & IDX_MASK);
        if (begin >= n)
            return;
        /* guided: a share of what is left, in whole grains, so the last chunks are small
         * and no thread is left alone with a big one at the end */
        size_t share = (n - begin) / (grain * 2 * (size_t)p->size);
        size_t step = grain * (share ? share : 1);
        size_t end = step < n - begin ? begin + step : n;
        if (!atomic_compare_exchange_weak(&p->claim, &v, tag | end))
            continue; /* v was reloaded */
        fn(ctx, begin, end, thread);
        atomic_fetch_add(&p->finished, end - begin);
        v = atomic_load(&p->claim);
    }
}

static void *worker_main(void *argp)
{
    worker_arg *arg = argp;
    an_pool *p = arg->pool;
    unsigned long seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN_ROUNDS && atomic_load(&p->generation) == seen && !atomic_load(&p->stop); i++)
            cpu_relax();
        pthread_mutex_lock(&p->mu);
        while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (atomic_load(&p->stop)) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        seen = atomic_load(&p->generation);
        an_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        size_t n = p->n, grain = p->grain;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p, seen, fn, ctx, n, grain, arg->index);
    }
    return NULL;
}

an_pool *an_pool_create(int nthreads, an_error *err)
{
    if (nthreads < 1 || nthreads > 1024) {
        an_errorf(err, "thread count %d is out of range (1..1024)", nthreads);
        return NULL;
    }
    an_pool *p = calloc(1, sizeof *p);
    if (!p) {
        an_errorf(err, "out of memory creating a thread pool");
        return NULL;
    }
    p->size = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    if (nthreads > 1) {
        p->threads = calloc((size_t)nthreads - 1, sizeof *p->threads);
        p->args = calloc((size_t)nthreads - 1, sizeof *p->args);
        if (!p->threads || !p->args) {
            an_pool_destroy(p);
            an_errorf(err, "out of memory creating a thread pool");
            return NULL;
        }
        for (int i = 0; i < nthreads - 1; i++) {
            p->args[i].pool = p;
            p->args[i].index = i + 1;
            int rc = pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]);
            if (rc != 0) {
                p->size = i + 1; /* join only the ones that started */
                an_pool_destroy(p);
                an_errorf(err, "cannot start thread %d of %d: %s", i + 2, nthreads, strerror(rc));
                return NULL;
            }
        }
    }
    return p;
}

void an_pool_destroy(an_pool *p)
{
    if (!p)
        return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->stop, 1);
        pthread_cond_broadcast(&p->start);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->size - 1; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->start);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->args);
    free(p);
}

int an_pool_size(const an_pool *p) { return p ? p->size : 1; }

void an_pool_for(an_pool *p, size_t n, size_t grain, an_pool_fn fn, void *ctx)
{
    if (n == 0)
        return;
    int size = p ? p->size : 1;
    if (grain == 0)
        grain = n / ((size_t)size * 4) + 1;
    if (size == 1 || n <= grain) {
        fn(ctx, 0, n, 0);
        return;
    }
    if (n > IDX_MASK - grain) { /* beyond the claim word: run it here */
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->finished, 0);
    uint64_t gen = atomic_load(&p->generation) + 1;
    atomic_store(&p->claim, (gen & (UINT64_MAX >> IDX_BITS)) << IDX_BITS);
    atomic_store(&p->generation, gen);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    run_chunks(p, gen, fn, ctx, n, grain, 0);
    for (unsigned spins = 0; atomic_load(&p->finished) < n; spins++) {
        if (spins < SPIN_ROUNDS)
            cpu_relax();
        else
            sched_yield(); /* a worker is still inside its last chunk */
    }
}
