/*
 * pool.h — a fixed thread pool that runs parallel-for loops.
 *
 * The calling thread takes part, so a pool of size 1 starts no threads and runs the
 * loop inline. One loop runs at a time per pool (an_pool_for blocks until every
 * iteration is done); the pool itself must not be used from two threads at once.
 * Iterations are handed out from a shared counter in chunks that start and end on
 * multiples of `grain` (except the loop's end): a share of what is left, so chunks shrink
 * as the loop drains and no thread finishes long after the others. Each index is run
 * exactly once, by one thread.
 */
#ifndef AN_POOL_H
#define AN_POOL_H

#include <stddef.h>

#include "error.h"

typedef struct an_pool an_pool;

/* fn runs indices [begin, end); thread is 0..size-1 (0 = the caller), for scratch space. */
typedef void (*an_pool_fn)(void *ctx, size_t begin, size_t end, int thread);

/* A pool of nthreads workers in total (>= 1, caller included). NULL + err on failure. */
an_pool *an_pool_create(int nthreads, an_error *err);
void an_pool_destroy(an_pool *pool); /* joins the workers; NULL is fine */
int an_pool_size(const an_pool *pool);

/* Run fn over [0, n) in chunks of whole grains (0 picks a grain), in parallel; returns
 * when done. */
void an_pool_for(an_pool *pool, size_t n, size_t grain, an_pool_fn fn, void *ctx);

#endif
