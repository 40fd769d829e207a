/*
 * arena.h — a bump allocator for data that lives and dies together.
 *
 * Per-load data (a parsed program, its names and shapes) is allocated from one arena
 * and freed in one call. Allocations are 16-byte aligned by default (an_arena_alloc_aligned
 * for more, e.g. 64 for SIMD buffers). Memory comes from malloc in blocks that grow
 * geometrically; nothing is freed individually. Not thread-safe: one owner at a time.
 */
#ifndef AN_ARENA_H
#define AN_ARENA_H

#include <stddef.h>

typedef struct an_arena_block an_arena_block;

typedef struct an_arena {
    an_arena_block *head;  /* current block; older blocks follow ->next */
    size_t block_size;     /* size of the next block to allocate */
    size_t total;          /* bytes obtained from malloc, for reporting */
} an_arena;

/* Initialise an empty arena (no allocation until first use). */
void an_arena_init(an_arena *a);

/* Zero-filled memory of n bytes, or NULL when out of memory or n overflows.
 * n == 0 returns a valid unique pointer. */
void *an_arena_alloc(an_arena *a, size_t n);
void *an_arena_alloc_aligned(an_arena *a, size_t n, size_t align); /* align: power of 2 */

/* n elements of size sz, with overflow checking. */
void *an_arena_calloc(an_arena *a, size_t n, size_t sz);

/* Copies into the arena; NULL-safe in the sense that a NULL source gives NULL. */
char *an_arena_strdup(an_arena *a, const char *s);
char *an_arena_strndup(an_arena *a, const char *s, size_t n);
void *an_arena_memdup(an_arena *a, const void *p, size_t n);

/* Free everything; the arena can be used again afterwards. */
void an_arena_free(an_arena *a);

#endif
