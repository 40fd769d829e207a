/* pool.c — see pool.h. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct worker_arg {
    an_pool *pool;
    int index;
} worker_arg;

struct an_pool {
    int size;
    pthread_t *threads;
    worker_arg *args;

    pthread_mutex_t mu;
    pthread_cond_t start;   /* signalled when a new loop (generation) begins or on stop */
    pthread_cond_t done;    /* signalled when the last worker leaves a loop */
    unsigned long generation;
    int stop;
    int busy;               /* workers still inside the current loop */

    /* the current loop */
    an_pool_fn fn;
    void *ctx;
    size_t n, grain;
    atomic_size_t next;
};

static void run_chunks(an_pool *p, int thread)
{
    for (;;) {
        size_t begin = atomic_fetch_add(&p->next, p->grain);
        if (begin >= p->n)
            break;
        size_t end = begin + p->grain < p->n ? begin + p->grain : p->n;
        p->fn(p->ctx, begin, end, thread);
    }
}

static void *worker_main(void *argp)
{
    worker_arg *arg = argp;
    an_pool *p = arg->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p, arg->index);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
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
    pthread_cond_init(&p->done, NULL);
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
        p->stop = 1;
        pthread_cond_broadcast(&p->start);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->size - 1; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->next, 0);
    p->busy = p->size - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    run_chunks(p, 0);

    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
