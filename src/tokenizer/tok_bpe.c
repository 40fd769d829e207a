/*
 * tok_bpe.c — the BPE model (HF models/bpe): one pre-tokenized piece → ids.
 *
 * The merge loop is HF's Word::merge_all: a priority queue of candidate pairs ordered by
 * (merge rank, position), each entry re-checked against the current symbols when popped,
 * so ties resolve leftmost-first exactly as the reference does.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define CACHE_MAX_KEY 256

typedef struct sym {
    int32_t id;
    int32_t prev, next;
    uint32_t len; /* bytes of input covered; 0 once merged into its left neighbour */
} sym;

typedef struct merge_ent {
    int32_t rank;
    int32_t pos;
    int32_t merged;
} merge_ent;

static int ent_less(const merge_ent *a, const merge_ent *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

typedef struct heap {
    merge_ent *v;
    size_t n, cap;
} heap;

static int heap_push(heap *h, merge_ent e)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        merge_ent *nv = realloc(h->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        h->v = nv;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&e, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static merge_ent heap_pop(heap *h)
{
    merge_ent top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && ent_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!ent_less(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

typedef struct word {
    sym *s;
    size_t n, cap;
} word;

static int word_add(word *w, int32_t id, uint32_t len)
{
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 32;
        sym *nv = realloc(w->s, nc * sizeof *nv);
        if (!nv)
            return -1;
        w->s = nv;
        w->cap = nc;
    }
    int32_t i = (int32_t)w->n;
    w->s[w->n++] = (sym){id, i - 1, -1, len};
    if (i > 0)
        w->s[i - 1].next = i;
    return 0;
}

/* HF BPE::merge_word: characters (with affixes) → symbols, unknowns → byte fallback / unk. */
static int split_chars(const tok_bpe *m, const char *s, size_t n, word *w)
{
    int32_t unk = -1;
    uint32_t unk_len = 0;
    char stackbuf[256];
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = (size_t)tok_utf8_next(s + i, n - i, &cp);
        int first = i == 0, last = i + k == n;
        const char *piece = s + i;
        size_t plen = k;
        char *heapbuf = NULL;
        if ((!first && m->prefix.n) || (last && m->suffix.n)) {
            size_t need = k + (first ? 0 : m->prefix.n) + (last ? m->suffix.n : 0);
            char *b = need <= sizeof stackbuf ? stackbuf : (heapbuf = malloc(need));
            if (!b)
                return -1;
            plen = 0;
            if (!first) {
                memcpy(b, m->prefix.s, m->prefix.n);
                plen = m->prefix.n;
            }
            memcpy(b + plen, s + i, k);
            plen += k;
            if (last) {
                memcpy(b + plen, m->suffix.s, m->suffix.n);
                plen += m->suffix.n;
            }
            piece = b;
        }
        int32_t id = tok_strmap_get(&m->vocab, piece, plen);
        int rc = 0;
        if (id >= 0) {
            if (unk >= 0) {
                rc |= word_add(w, unk, unk_len);
                unk = -1;
            }
            rc |= word_add(w, id, (uint32_t)k);
        } else {
            int done = 0;
            if (m->byte_fallback) {
                int all = 1;
                for (size_t j = 0; j < plen; j++)
                    all &= m->byte_ids[(unsigned char)piece[j]] >= 0;
                if (all) {
                    for (size_t j = 0; j < plen; j++)
                        rc |= word_add(w, m->byte_ids[(unsigned char)piece[j]], 1);
                    done = 1;
                }
            }
            if (!done && m->unk_id >= 0) {
                if (unk >= 0 && m->fuse_unk)
                    unk_len += (uint32_t)k;
                else {
                    if (unk >= 0)
                        rc |= word_add(w, unk, unk_len);
                    unk = m->unk_id;
                    unk_len = (uint32_t)k;
                }
            }
        }
        free(heapbuf);
        if (rc)
            return -1;
        i += k;
    }
    if (unk >= 0 && word_add(w, unk, unk_len))
        return -1;
    return 0;
}

static int merge_all(const tok_bpe *m, word *w)
{
    heap h = {0};
    int32_t rank, merged;
    for (size_t i = 0; i + 1 < w->n; i++)
        if (tok_pairmap_get(&m->merges, w->s[i].id, w->s[i + 1].id, &rank, &merged) &&
            heap_push(&h, (merge_ent){rank, (int32_t)i, merged}))
            goto oom;
    while (h.n) {
        merge_ent top = heap_pop(&h);
        sym *cur = &w->s[top.pos];
        if (cur->len == 0 || cur->next < 0)
            continue;
        sym *right = &w->s[cur->next];
        if (!tok_pairmap_get(&m->merges, cur->id, right->id, &rank, &merged) ||
            merged != top.merged)
            continue;
        cur->id = top.merged;
        cur->len += right->len;
        cur->next = right->next;
        right->len = 0;
        if (cur->next >= 0)
            w->s[cur->next].prev = top.pos;
        if (cur->prev >= 0 &&
            tok_pairmap_get(&m->merges, w->s[cur->prev].id, cur->id, &rank, &merged) &&
            heap_push(&h, (merge_ent){rank, cur->prev, merged}))
            goto oom;
        if (cur->next >= 0 &&
            tok_pairmap_get(&m->merges, cur->id, w->s[cur->next].id, &rank, &merged) &&
            heap_push(&h, (merge_ent){rank, top.pos, merged}))
            goto oom;
    }
    free(h.v);
    return 0;
oom:
    free(h.v);
    return -1;
}

static int out_push(int32_t **ids, size_t *n, size_t *cap, int32_t id)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int32_t *nv = realloc(*ids, nc * sizeof *nv);
        if (!nv)
            return -1;
        *ids = nv;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

/* A cached piece's ids. */
struct tok_cache_rec {
    int32_t n;
    int32_t ids[];
};

void tok_cache_free(tok_cache *c)
{
    tok_strmap_free(&c->map);
    an_arena_free(&c->arena);
    free(c->recs);
    c->recs = NULL;
    c->count = 0;
}

static void cache_put(tok_cache *c, const char *s, size_t n, const int32_t *ids, size_t cnt)
{
    if (c->count >= TOK_CACHE_MAX)
        tok_cache_free(c); /* simple and bounded: start over */
    if (!c->recs && !(c->recs = malloc(TOK_CACHE_MAX * sizeof *c->recs)))
        return;
    char *key = an_arena_memdup(&c->arena, s, n);
    struct tok_cache_rec *r = an_arena_alloc(&c->arena, sizeof *r + cnt * sizeof(int32_t));
    if (!key || !r)
        return;
    r->n = (int32_t)cnt;
    memcpy(r->ids, ids, cnt * sizeof(int32_t));
    c->recs[c->count] = r;
    if (tok_strmap_put(&c->map, key, (uint32_t)n, (int32_t)c->count) == 0)
        c->count++;
}

int tok_bpe_encode(tok_tokenizer *tok, const char *s, size_t n, int32_t **ids, size_t *n_ids,
                   size_t *cap)
{
    const tok_bpe *m = &tok->bpe;
    if (n == 0)
        return 0;
    if (m->ignore_merges) {
        int32_t id = tok_strmap_get(&m->vocab, s, n);
        if (id >= 0)
            return out_push(ids, n_ids, cap, id);
    }
    tok_cache *c = &tok->cache;
    int cacheable = n <= CACHE_MAX_KEY;
    if (cacheable) {
        int32_t v = tok_strmap_get(&c->map, s, n);
        if (v >= 0) {
            const struct tok_cache_rec *r = c->recs[v];
            for (int32_t i = 0; i < r->n; i++)
                if (out_push(ids, n_ids, cap, r->ids[i]))
                    return -1;
            return 0;
        }
    }
    word w = {0};
    if (split_chars(m, s, n, &w) || merge_all(m, &w)) {
        free(w.s);
        return -1;
    }
    size_t start = *n_ids;
    for (int32_t i = w.n ? 0 : -1; i >= 0; i = w.s[i].next)
        if (out_push(ids, n_ids, cap, w.s[i].id)) {
            free(w.s);
            return -1;
        }
    free(w.s);
    if (cacheable)
        cache_put(c, s, n, *ids + start, *n_ids - start);
    return 0;
}
