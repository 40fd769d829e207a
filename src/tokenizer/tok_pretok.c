/* tok_pretok.c — pre-tokenizers (HF pre_tokenizers/ in HF tokenizers): split normalized text into pieces. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* GPT-2's byte → printable character table (HF bytes_char): printable Latin-1 bytes map
 * to themselves, the others to U+0100 + n in byte order. */
const uint32_t tok_byte_to_char[256] = {
#define R(a) a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7
    0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10A, 0x10B, 0x10C,
    0x10D, 0x10E, 0x10F, 0x110, 0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117, 0x118, 0x119,
    0x11A, 0x11B, 0x11C, 0x11D, 0x11E, 0x11F, 0x120, /* 0x20 */
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, R(0x28), R(0x30), R(0x38), R(0x40), R(0x48),
    R(0x50), R(0x58), R(0x60), R(0x68), R(0x70), 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E,
    0x121, /* 0x7F */
    0x122, 0x123, 0x124, 0x125, 0x126, 0x127, 0x128, 0x129, 0x12A, 0x12B, 0x12C, 0x12D, 0x12E,
    0x12F, 0x130, 0x131, 0x132, 0x133, 0x134, 0x135, 0x136, 0x137, 0x138, 0x139, 0x13A, 0x13B,
    0x13C, 0x13D, 0x13E, 0x13F, 0x140, 0x141, 0x142, /* 0x80..0xA0 */
    0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC,
    0x143, /* 0xAD */
    0xAE, 0xAF, R(0xB0), R(0xB8), R(0xC0), R(0xC8), R(0xD0), R(0xD8), R(0xE0), R(0xE8), R(0xF0),
    R(0xF8)
#undef R
};

int tok_pieces_push(tok_pieces *p, const char *s, size_t n, int orig0)
{
    if (n == 0) /* HF drops empty splits */
        return 0;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        tok_piece *nv = realloc(p->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        p->v = nv;
        p->cap = nc;
    }
    p->v[p->n++] = (tok_piece){s, n, orig0};
    return 0;
}

/* HF NormalizedString::split: turn match flags into pieces according to the behaviour. */
int tok_split_by(const tok_matches *m, enum tok_behavior b, const char *s, int orig0,
                 tok_pieces *out)
{
    size_t n = m->n;
    const tok_match *v = m->v;
    /* (start, end, remove) runs, built in place of HF's folds */
    size_t cur_s = 0, cur_e = 0;
    int have = 0;
#define EMIT(st, en)                                                                       \
    do {                                                                                   \
        if (tok_pieces_push(out, s + (st), (en) - (st), orig0 && (st) == 0))               \
            return -1;                                                                     \
    } while (0)
    switch (b) {
    case TOK_B_ISOLATED:
        for (size_t i = 0; i < n; i++)
            EMIT(v[i].start, v[i].end);
        return 0;
    case TOK_B_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!v[i].is_match)
                EMIT(v[i].start, v[i].end);
        return 0;
    case TOK_B_CONTIGUOUS:
    case TOK_B_MERGED_PREV: {
        int prev = 0;
        for (size_t i = 0; i < n; i++) {
            int join = b == TOK_B_CONTIGUOUS ? (v[i].is_match == prev) : (v[i].is_match && !prev);
            if (join && have)
                cur_e = v[i].end;
            else {
                if (have)
                    EMIT(cur_s, cur_e);
                cur_s = v[i].start;
                cur_e = v[i].end;
                have = 1;
            }
            prev = v[i].is_match;
        }
        if (have)
            EMIT(cur_s, cur_e);
        return 0;
    }
    case TOK_B_MERGED_NEXT: {
        /* fold from the end: a match joins the piece that follows it */
        size_t first = out->n;
        int prev = 0;
        for (size_t k = n; k-- > 0;) {
            int join = v[k].is_match && !prev;
            if (join && have)
                cur_s = v[k].start;
            else {
                if (have)
                    EMIT(cur_s, cur_e);
                cur_s = v[k].start;
                cur_e = v[k].end;
                have = 1;
            }
            prev = v[k].is_match;
        }
        if (have)
            EMIT(cur_s, cur_e);
        for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
            tok_piece t = out->v[i];
            out->v[i] = out->v[j - 1];
            out->v[j - 1] = t;
        }
        return 0;
    }
    }
#undef EMIT
    return -1;
}

typedef int (*char_pred)(uint32_t);

/* HF's Pattern for a char predicate: every matching character is its own match. */
static int char_matches(const char *s, size_t n, char_pred pred, tok_matches *m)
{
    m->n = 0;
    tok_pattern none = {0};
    if (n == 0)
        return tok_pattern_find(&none, NULL, s, 0, m);
    size_t last = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = (size_t)tok_utf8_next(s + i, n - i, &cp);
        if (pred(cp)) {
            if (m->n + 2 > m->cap) {
                size_t nc = m->cap ? m->cap * 2 : 32;
                tok_match *nv = realloc(m->v, nc * sizeof *nv);
                if (!nv)
                    return -1;
                m->v = nv;
                m->cap = nc;
            }
            if (last < i)
                m->v[m->n++] = (tok_match){last, i, 0};
            m->v[m->n++] = (tok_match){i, i + k, 1};
            last = i + k;
        }
        i += k;
    }
    if (last < n) {
        if (m->n == m->cap) {
            tok_match *nv = realloc(m->v, (m->cap + 1) * sizeof *nv);
            if (!nv)
                return -1;
            m->v = nv;
            m->cap++;
        }
        m->v[m->n++] = (tok_match){last, n, 0};
    }
    return 0;
}

/* The replacement character metaspace_pred compares with (set just before each use). */
static __thread uint32_t t_pred_char;
static int metaspace_pred(uint32_t c) { return c == t_pred_char; }

static int bert_punc(uint32_t c) { return tok_is_punctuation(c); }

/* Map every byte of s to its GPT-2 character. */
static const char *byte_level_map(const char *s, size_t n, an_arena *a, size_t *out_n)
{
    char *o = an_arena_alloc(a, n * 2 + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)tok_utf8_encode(tok_byte_to_char[(unsigned char)s[i]], o + k);
    *out_n = k;
    return o;
}

static int pretok_piece(tok_tokenizer *tok, const tok_pretok *pt, an_arena *a,
                        const tok_piece *in, tok_pieces *out, tok_matches *m)
{
    const char *s = in->s;
    size_t n = in->n;
    switch (pt->type) {
    case TOK_P_SPLIT:
        if (tok_pattern_find(&pt->pat, tok->md, s, n, m))
            return -1;
        if (pt->invert)
            for (size_t i = 0; i < m->n; i++)
                m->v[i].is_match = !m->v[i].is_match;
        return tok_split_by(m, pt->behavior, s, in->orig0, out);
    case TOK_P_BYTELEVEL: {
        if (pt->add_prefix_space && s[0] != ' ') {
            char *t = an_arena_alloc(a, n + 1);
            if (!t)
                return -1;
            t[0] = ' ';
            memcpy(t + 1, s, n);
            s = t;
            n++;
        }
        size_t first = out->n;
        if (pt->use_regex) {
            if (tok_pattern_find(&pt->pat, tok->md, s, n, m) ||
                tok_split_by(m, TOK_B_ISOLATED, s, in->orig0, out))
                return -1;
        } else if (tok_pieces_push(out, s, n, in->orig0))
            return -1;
        for (size_t i = first; i < out->n; i++) {
            size_t k;
            const char *mapped = byte_level_map(out->v[i].s, out->v[i].n, a, &k);
            if (!mapped)
                return -1;
            out->v[i].s = mapped;
            out->v[i].n = k;
        }
        return 0;
    }
    case TOK_P_METASPACE: {
        char rep[4];
        int rl = tok_utf8_encode(pt->replacement, rep);
        size_t spaces = 0;
        for (size_t i = 0; i < n; i++)
            spaces += s[i] == ' ';
        char *t = an_arena_alloc(a, n + spaces * (size_t)rl + (size_t)rl + 1);
        if (!t)
            return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') {
                memcpy(t + k, rep, (size_t)rl);
                k += (size_t)rl;
            } else
                t[k++] = s[i];
        }
        int starts = k >= (size_t)rl && memcmp(t, rep, (size_t)rl) == 0;
        if (!starts && (pt->prepend == TOK_PREPEND_ALWAYS ||
                        (pt->prepend == TOK_PREPEND_FIRST && in->orig0))) {
            memmove(t + rl, t, k);
            memcpy(t, rep, (size_t)rl);
            k += (size_t)rl;
        }
        if (!pt->split)
            return tok_pieces_push(out, t, k, in->orig0);
        t_pred_char = pt->replacement;
        if (char_matches(t, k, metaspace_pred, m))
            return -1;
        return tok_split_by(m, TOK_B_MERGED_NEXT, t, in->orig0, out);
    }
    case TOK_P_DIGITS:
        if (char_matches(s, n, tok_is_numeric, m))
            return -1;
        return tok_split_by(m, pt->individual_digits ? TOK_B_ISOLATED : TOK_B_CONTIGUOUS, s,
                            in->orig0, out);
    case TOK_P_PUNCTUATION:
        if (char_matches(s, n, tok_is_punctuation, m))
            return -1;
        return tok_split_by(m, pt->behavior, s, in->orig0, out);
    case TOK_P_WHITESPACE:
        if (tok_pattern_find(&pt->pat, tok->md, s, n, m))
            return -1;
        for (size_t i = 0; i < m->n; i++)
            m->v[i].is_match = !m->v[i].is_match;
        return tok_split_by(m, TOK_B_REMOVED, s, in->orig0, out);
    case TOK_P_WHITESPACE_SPLIT:
        if (char_matches(s, n, tok_is_whitespace, m))
            return -1;
        return tok_split_by(m, TOK_B_REMOVED, s, in->orig0, out);
    case TOK_P_BERT: {
        tok_pieces tmp = {0};
        int rc = char_matches(s, n, tok_is_whitespace, m) ||
                 tok_split_by(m, TOK_B_REMOVED, s, in->orig0, &tmp);
        for (size_t i = 0; i < tmp.n && !rc; i++)
            rc = char_matches(tmp.v[i].s, tmp.v[i].n, bert_punc, m) ||
                 tok_split_by(m, TOK_B_ISOLATED, tmp.v[i].s, tmp.v[i].orig0, out);
        free(tmp.v);
        return rc ? -1 : 0;
    }
    case TOK_P_SEQUENCE:
        break;
    }
    return -1;
}

int tok_pretokenize(tok_tokenizer *tok, const tok_pretok *pt, an_arena *scratch,
                    tok_pieces *pieces)
{
    if (pt->type == TOK_P_SEQUENCE) {
        for (size_t i = 0; i < pt->n_items; i++)
            if (tok_pretokenize(tok, pt->items[i], scratch, pieces))
                return -1;
        return 0;
    }
    tok_pieces out = {0};
    tok_matches m = {0};
    int rc = 0;
    for (size_t i = 0; i < pieces->n && !rc; i++)
        rc = pretok_piece(tok, pt, scratch, &pieces->v[i], &out, &m);
    free(m.v);
    if (rc) {
        free(out.v);
        return -1;
    }
    free(pieces->v);
    *pieces = out;
    return 0;
}
