/* tok_hash.c — open-addressing hash tables keyed with XXH3 (vocabulary, merges, cache). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tok_internal.h"

struct tok_strmap_slot {
    const char *key; /* NULL: empty */
    uint32_t len;
    int32_t value;
    uint64_t hash;
};

struct tok_pair_slot {
    uint64_t key; /* (a << 32 | b) + 1; 0: empty */
    int32_t rank, merged;
};

void tok_strmap_free(tok_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int strmap_rehash(tok_strmap *m, size_t ncap)
{
    struct tok_strmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct tok_strmap_slot *s = &m->slots[i];
        if (!s->key)
            continue;
        size_t j = (size_t)s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int strmap_grow(tok_strmap *m)
{
    return strmap_rehash(m, m->cap ? m->cap * 2 : 64);
}

/* Room for n entries without growing (a table below 3/4 full). */
static size_t cap_for(size_t n)
{
    size_t c = 64;
    while (c * 3 <= n * 4 + 4 && c < ((size_t)1 << 40))
        c *= 2;
    return c;
}

int tok_strmap_reserve(tok_strmap *m, size_t n)
{
    size_t c = cap_for(n);
    return c > m->cap ? strmap_rehash(m, c) : 0;
}

int tok_strmap_put(tok_strmap *m, const char *key, uint32_t len, int32_t value)
{
    if ((m->count + 1) * 4 >= m->cap * 3 && strmap_grow(m))
        return -1;
    uint64_t h = XXH3_64bits(key, len);
    size_t j = (size_t)h & (m->cap - 1);
    while (m->slots[j].key) {
        struct tok_strmap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            s->value = value;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = (struct tok_strmap_slot){key, len, value, h};
    m->count++;
    return 0;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len)
{
    if (!m->cap || len > UINT32_MAX)
        return -1;
    uint64_t h = XXH3_64bits(key, len);
    size_t j = (size_t)h & (m->cap - 1);
    while (m->slots[j].key) {
        const struct tok_strmap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s->value;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void tok_strmap_each(const tok_strmap *m, void (*fn)(void *, const char *, uint32_t, int32_t),
                     void *ud)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            fn(ud, m->slots[i].key, m->slots[i].len, m->slots[i].value);
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static inline uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
}

static inline size_t pair_hash(uint64_t k)
{
    return (size_t)XXH3_64bits(&k, sizeof k);
}

static int pairmap_rehash(tok_pairmap *m, size_t ncap)
{
    struct tok_pair_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = pair_hash(m->slots[i].key) & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int pairmap_grow(tok_pairmap *m)
{
    return pairmap_rehash(m, m->cap ? m->cap * 2 : 64);
}

int tok_pairmap_reserve(tok_pairmap *m, size_t n)
{
    size_t c = cap_for(n);
    return c > m->cap ? pairmap_rehash(m, c) : 0;
}

int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    if ((m->count + 1) * 4 >= m->cap * 3 && pairmap_grow(m))
        return -1;
    uint64_t k = pair_key(a, b);
    size_t j = pair_hash(k) & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].key == k) {
            m->slots[j].rank = rank;
            m->slots[j].merged = merged;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = (struct tok_pair_slot){k, rank, merged};
    m->count++;
    return 0;
}

int tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged)
{
    if (!m->cap)
        return 0;
    uint64_t k = pair_key(a, b);
    size_t j = pair_hash(k) & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].key == k) {
            *rank = m->slots[j].rank;
            *merged = m->slots[j].merged;
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}
