/*
 * tok_encode.c — text → ids for tokenizer.json: added tokens, normalizer, pre-tokenizer,
 * BPE, post-processor, in HF's order (tokenizer/added_vocabulary.rs, tokenizer/mod.rs):
 *
 *   1. added tokens with normalized=false are cut out of the raw text;
 *   2. each remaining part is normalized on its own, then added tokens with
 *      normalized=true are cut out of the normalized text;
 *   3. each remaining part is pre-tokenized into pieces and each piece goes through BPE;
 *   4. with add_special, the post-processor adds its special tokens.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ---- added-token trie ---- */

static int32_t trie_new_node(tok_trie *t, unsigned char byte)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        tok_trie_node *nv = realloc(t->nodes, nc * sizeof *nv);
        if (!nv)
            return -1;
        t->nodes = nv;
        t->cap = nc;
    }
    t->nodes[t->n] = (tok_trie_node){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

int tok_trie_add(tok_trie *t, const char *s, size_t n, int32_t added_index)
{
    if (!t->ready) {
        for (int i = 0; i < 256; i++)
            t->root[i] = -1;
        t->ready = 1;
    }
    const unsigned char *u = (const unsigned char *)s;
    int32_t node = t->root[u[0]];
    if (node < 0) {
        if ((node = trie_new_node(t, u[0])) < 0)
            return -1;
        t->root[u[0]] = node;
    }
    for (size_t i = 1; i < n; i++) {
        int32_t ch = t->nodes[node].child;
        while (ch >= 0 && t->nodes[ch].byte != u[i])
            ch = t->nodes[ch].sibling;
        if (ch < 0) {
            if ((ch = trie_new_node(t, u[i])) < 0)
                return -1;
            t->nodes[ch].sibling = t->nodes[node].child;
            t->nodes[node].child = ch;
        }
        node = ch;
    }
    /* the same string twice: the later entry wins, as in HF's map rebuilt in id order */
    t->nodes[node].added = added_index;
    return 0;
}

void tok_trie_free(tok_trie *t)
{
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

/* The longest added token starting at s[i], or -1; *end receives its end. */
static int32_t trie_longest(const tok_trie *t, const char *s, size_t n, size_t i, size_t *end)
{
    const unsigned char *u = (const unsigned char *)s;
    int32_t node = t->root[u[i]], best = -1;
    size_t j = i + 1;
    while (node >= 0) {
        if (t->nodes[node].added >= 0) {
            best = t->nodes[node].added;
            *end = j;
        }
        if (j >= n)
            break;
        int32_t ch = t->nodes[node].child;
        while (ch >= 0 && t->nodes[ch].byte != u[j])
            ch = t->nodes[ch].sibling;
        node = ch;
        j++;
    }
    return best;
}

/* ---- splitting on added tokens (HF AddedVocabulary::find_matches) ---- */

typedef struct split {
    size_t start, end;
    int32_t added; /* index into tok->added, or -1 */
} split;

typedef struct splits {
    split *v;
    size_t n, cap;
} splits;

static int splits_push(splits *s, size_t a, size_t b, int32_t added)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        split *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = (split){a, b, added};
    return 0;
}

static uint32_t char_before(const char *s, size_t at)
{
    size_t j = at - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
        j--;
    uint32_t cp;
    tok_utf8_next(s + j, at - j, &cp);
    return cp;
}

static int find_added(const tok_tokenizer *tok, const tok_trie *t, const char *s, size_t n,
                      splits *out)
{
    out->n = 0;
    if (t->n == 0 || n == 0)
        return splits_push(out, 0, n, -1);
    size_t start_offset = 0, i = 0;
    while (i < n) {
        size_t e = 0;
        int32_t ai = t->root[(unsigned char)s[i]] >= 0 ? trie_longest(t, s, n, i, &e) : -1;
        if (ai < 0) {
            i++;
            continue;
        }
        const tok_added *a = &tok->added[ai];
        size_t start = i, stop = e;
        i = e; /* the search resumes after the match, whatever happens to it */
        if (a->single_word) {
            uint32_t cp;
            int start_space = start == 0 || !tok_is_word_char(char_before(s, start));
            int stop_space = stop == n || (tok_utf8_next(s + stop, n - stop, &cp),
                                           !tok_is_word_char(cp));
            if (!start_space || !stop_space)
                continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t j = ns - 1;
                while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
                    j--;
                uint32_t cp;
                tok_utf8_next(s + j, ns - j, &cp);
                if (!tok_is_whitespace(cp))
                    break;
                ns = j;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip)
            while (stop < n) {
                uint32_t cp;
                int k = tok_utf8_next(s + stop, n - stop, &cp);
                if (!tok_is_whitespace(cp))
                    break;
                stop += (size_t)k;
            }
        if (start_offset < start && splits_push(out, start_offset, start, -1))
            return -1;
        if (splits_push(out, start, stop, ai))
            return -1;
        start_offset = stop;
    }
    if (start_offset < n && splits_push(out, start_offset, n, -1))
        return -1;
    return 0;
}

/* ---- the pipeline ---- */

typedef struct ids_buf {
    int32_t *v;
    size_t n, cap;
} ids_buf;

static int ids_push(ids_buf *b, const int32_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->n + n)
            nc *= 2;
        int32_t *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        b->v = nv;
        b->cap = nc;
    }
    memcpy(b->v + b->n, ids, n * sizeof *ids);
    b->n += n;
    return 0;
}

/* Pre-tokenize and BPE one part that holds no added token. */
static int encode_part(tok_tokenizer *tok, const char *s, size_t n, int orig0, an_arena *scratch,
                       ids_buf *out)
{
    tok_pieces pieces = {0};
    int rc = tok_pieces_push(&pieces, s, n, orig0);
    if (!rc && tok->pretok)
        rc = tok_pretokenize(tok, tok->pretok, scratch, &pieces);
    for (size_t i = 0; i < pieces.n && !rc; i++)
        rc = tok_bpe_encode(tok, pieces.v[i].s, pieces.v[i].n, &out->v, &out->n, &out->cap);
    free(pieces.v);
    return rc;
}

static int post_process(const tok_post *p, ids_buf *b)
{
    switch (p->type) {
    case TOK_PP_BYTELEVEL:
        return 0;
    case TOK_PP_SEQUENCE:
        for (size_t i = 0; i < p->n_items; i++)
            if (post_process(p->items[i], b))
                return -1;
        return 0;
    case TOK_PP_TEMPLATE:
    case TOK_PP_CLS_SEP: {
        ids_buf nb = {0};
        if (ids_push(&nb, p->before, p->n_before) || ids_push(&nb, b->v, b->n) ||
            ids_push(&nb, p->after, p->n_after)) {
            free(nb.v);
            return -1;
        }
        free(b->v);
        *b = nb;
        return 0;
    }
    }
    return -1;
}

static int encode_json(tok_tokenizer *tok, const char *text, size_t len, int add_special,
                       ids_buf *out)
{
    an_strbuf valid, norm;
    an_sb_init(&valid);
    an_sb_init(&norm);
    an_arena scratch;
    an_arena_init(&scratch);
    splits raw = {0}, sub = {0};
    int rc = 0;
    if (!tok_utf8_valid(text, len)) {
        if (tok_utf8_lossy(text, len, &valid))
            goto oom;
        text = valid.buf;
        len = valid.len;
    }
    if (find_added(tok, &tok->trie_raw, text, len, &raw))
        goto oom;
    for (size_t i = 0; i < raw.n && !rc; i++) {
        const split *sp = &raw.v[i];
        if (sp->added >= 0) {
            rc = ids_push(out, &tok->added[sp->added].id, 1);
            continue;
        }
        const char *s = text + sp->start;
        size_t n = sp->end - sp->start;
        if (n == 0)
            continue;
        if (tok->normalizer) {
            an_sb_clear(&norm);
            if (tok_normalize(tok, tok->normalizer, s, n, &norm))
                goto oom;
            s = an_arena_memdup(&scratch, norm.buf, norm.len + 1);
            n = norm.len;
            if (!s)
                goto oom;
        }
        if (find_added(tok, &tok->trie_norm, s, n, &sub))
            goto oom;
        for (size_t j = 0; j < sub.n && !rc; j++) {
            const split *q = &sub.v[j];
            if (q->added >= 0)
                rc = ids_push(out, &tok->added[q->added].id, 1);
            else if (q->end > q->start)
                rc = encode_part(tok, s + q->start, q->end - q->start,
                                 sp->start == 0 && q->start == 0, &scratch, out);
        }
    }
    if (!rc && add_special && tok->post)
        rc = post_process(tok->post, out);
    goto done;
oom:
    rc = -1;
done:
    free(raw.v);
    free(sub.v);
    an_sb_free(&valid);
    an_sb_free(&norm);
    an_arena_free(&scratch);
    return rc;
}

int tok_encode(tok_tokenizer *tok, const char *text, size_t len, int add_special,
               int32_t **ids, size_t *n_ids, an_error *err)
{
    *ids = NULL;
    *n_ids = 0;
    if (tok->spm)
        return tok_spm_encode_special(tok, text, len, add_special, ids, n_ids, err);
    ids_buf out = {0};
    if (encode_json(tok, text, len, add_special, &out)) {
        free(out.v);
        return an_errorf(err, "tokenizer: out of memory while encoding %zu bytes", len);
    }
    *ids = out.v;
    *n_ids = out.n;
    return 0;
}
