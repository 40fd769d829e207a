/* arena.c — see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct an_arena_block {
    an_arena_block *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    _Alignas(64) unsigned char data[];
};

enum { ARENA_FIRST_BLOCK = 64 * 1024, ARENA_MAX_BLOCK = 64 * 1024 * 1024 };

void an_arena_init(an_arena *a)
{
    a->head = NULL;
    a->block_size = ARENA_FIRST_BLOCK;
    a->total = 0;
}

void *an_arena_alloc_aligned(an_arena *a, size_t n, size_t align)
{
    if (align < 16)
        align = 16;
    if (align & (align - 1) || align > 4096)
        return NULL;
    an_arena_block *b = a->head;
    if (b) {
        size_t off = (b->used + align - 1) & ~(align - 1);
        if (off <= b->size && n <= b->size - off) {
            b->used = off + n;
            return b->data + off;
        }
    }
    if (n > SIZE_MAX - align - sizeof(an_arena_block))
        return NULL;
    size_t want = a->block_size;
    if (want < n + align)
        want = n + align;
    b = calloc(1, sizeof(an_arena_block) + want);
    if (!b)
        return NULL;
    b->size = want;
    b->next = a->head;
    a->head = b;
    a->total += want;
    if (a->block_size < ARENA_MAX_BLOCK)
        a->block_size *= 2;
    size_t off = 0; /* data[] is 64-aligned; larger alignments need an offset */
    uintptr_t p = (uintptr_t)b->data;
    if (p & (align - 1))
        off = align - (p & (align - 1));
    b->used = off + n;
    return b->data + off;
}

void *an_arena_alloc(an_arena *a, size_t n) { return an_arena_alloc_aligned(a, n, 16); }

void *an_arena_calloc(an_arena *a, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        return NULL;
    return an_arena_alloc(a, n * sz);
}

void *an_arena_memdup(an_arena *a, const void *p, size_t n)
{
    if (!p)
        return NULL;
    void *q = an_arena_alloc(a, n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *an_arena_strndup(an_arena *a, const char *s, size_t n)
{
    if (!s || n == SIZE_MAX)
        return NULL;
    char *q = an_arena_alloc(a, n + 1);
    if (q) {
        memcpy(q, s, n);
        q[n] = '\0';
    }
    return q;
}

char *an_arena_strdup(an_arena *a, const char *s) { return s ? an_arena_strndup(a, s, strlen(s)) : NULL; }

void an_arena_free(an_arena *a)
{
    an_arena_block *b = a->head;
    while (b) {
        an_arena_block *next = b->next;
        free(b);
        b = next;
    }
    an_arena_init(a);
}
