/*
 * tok_decode.c — ids → text (HF decoders/ in HF tokenizers and Tokenizer::decode) and the streaming
 * detokenizer.
 *
 * A decoder maps a list of token strings to a list of strings; the result is their
 * concatenation. Lists live in a scratch arena for the duration of one decode.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

typedef struct slist {
    tok_str *v;
    size_t n;
} slist;

static tok_str *slist_alloc(an_arena *a, size_t n)
{
    return an_arena_calloc(a, n ? n : 1, sizeof(tok_str));
}

static int sb_to_str(an_arena *a, const an_strbuf *sb, tok_str *out)
{
    char *p = an_arena_memdup(a, sb->buf, sb->len + 1);
    if (!p)
        return -1;
    out->s = p;
    out->n = sb->len;
    return 0;
}

/* GPT-2 character → byte, for code points below 0x144; -1 elsewhere. */
static int16_t char_to_byte[0x144];
static pthread_once_t char_to_byte_once = PTHREAD_ONCE_INIT;

static void fill_char_to_byte(void)
{
    for (int i = 0; i < 0x144; i++)
        char_to_byte[i] = -1;
    for (int b = 0; b < 256; b++)
        char_to_byte[tok_byte_to_char[b]] = (int16_t)b;
}

static void init_char_to_byte(void)
{
    pthread_once(&char_to_byte_once, fill_char_to_byte);
}

static int dec_bytelevel(const slist *in, an_arena *a, slist *out)
{
    init_char_to_byte();
    an_strbuf bytes, text;
    an_sb_init(&bytes);
    an_sb_init(&text);
    int rc = 0;
    for (size_t i = 0; i < in->n && !rc; i++) {
        const tok_str *t = &in->v[i];
        size_t mark = bytes.len, j = 0;
        int ok = 1;
        while (j < t->n) {
            uint32_t cp;
            j += (size_t)tok_utf8_next(t->s + j, t->n - j, &cp);
            if (cp >= 0x144 || char_to_byte[cp] < 0) {
                ok = 0;
                break;
            }
            rc |= an_sb_putc(&bytes, (char)char_to_byte[cp]);
        }
        if (!ok) { /* a token outside the byte alphabet stands for its own UTF-8 bytes */
            bytes.len = mark;
            rc |= an_sb_append(&bytes, t->s, t->n);
        }
    }
    rc = rc || tok_utf8_lossy(bytes.buf, bytes.len, &text);
    out->v = slist_alloc(a, 1);
    out->n = 1;
    rc = rc || !out->v || sb_to_str(a, &text, &out->v[0]);
    an_sb_free(&bytes);
    an_sb_free(&text);
    return rc ? -1 : 0;
}

/* Per-token character rewrite for Metaspace. */
static int dec_metaspace(const tok_decoder *d, const slist *in, an_arena *a, slist *out)
{
    char rep[4];
    int rl = tok_utf8_encode(d->ch, rep);
    out->v = slist_alloc(a, in->n);
    out->n = in->n;
    if (!out->v)
        return -1;
    for (size_t i = 0; i < in->n; i++) {
        const tok_str *t = &in->v[i];
        char *o = an_arena_alloc(a, t->n + 1);
        if (!o)
            return -1;
        size_t k = 0;
        for (size_t j = 0; j < t->n;) {
            if (j + (size_t)rl <= t->n && !memcmp(t->s + j, rep, (size_t)rl)) {
                if (!(i == 0 && d->prepend != TOK_PREPEND_NEVER))
                    o[k++] = ' ';
                j += (size_t)rl;
            } else
                o[k++] = t->s[j++];
        }
        out->v[i] = (tok_str){o, k};
    }
    return 0;
}

static int dec_replace(const tok_tokenizer *tok, const tok_decoder *d, const slist *in,
                       an_arena *a, slist *out)
{
    out->v = slist_alloc(a, in->n);
    out->n = in->n;
    if (!out->v)
        return -1;
    (void)tok;
    tok_matches m = {0};
    an_strbuf sb;
    an_sb_init(&sb);
    /* decoding may run on several threads at once: a match block of its own */
    pcre2_match_data *md = d->pat.re ? pcre2_match_data_create(1, NULL) : NULL;
    int rc = d->pat.re && !md;
    for (size_t i = 0; i < in->n && !rc; i++) {
        an_sb_clear(&sb);
        rc = tok_pattern_find(&d->pat, md, in->v[i].s, in->v[i].n, &m);
        for (size_t j = 0; j < m.n && !rc; j++)
            rc = m.v[j].is_match ? an_sb_append(&sb, d->content.s, d->content.n)
                                 : an_sb_append(&sb, in->v[i].s + m.v[j].start,
                                                m.v[j].end - m.v[j].start);
        rc = rc || sb_to_str(a, &sb, &out->v[i]);
    }
    pcre2_match_data_free(md);
    free(m.v);
    an_sb_free(&sb);
    return rc ? -1 : 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "<0xNN>" → the byte, as HF parses it (u8::from_str_radix accepts a leading '+'). */
static int byte_token(const tok_str *t)
{
    if (t->n != 6 || memcmp(t->s, "<0x", 3) || t->s[5] != '>')
        return -1;
    int h = hexval(t->s[3]), l = hexval(t->s[4]);
    if (t->s[3] == '+' && l >= 0)
        return l;
    return h >= 0 && l >= 0 ? h * 16 + l : -1;
}

static int dec_bytefallback(const slist *in, an_arena *a, slist *out)
{
    out->v = slist_alloc(a, in->n);
    out->n = 0;
    if (!out->v)
        return -1;
    an_strbuf pend;
    an_sb_init(&pend);
    size_t npend = 0;
    int rc = 0;
    for (size_t i = 0; i <= in->n && !rc; i++) {
        int b = i < in->n ? byte_token(&in->v[i]) : -1;
        if (b >= 0) {
            rc = an_sb_putc(&pend, (char)b);
            npend++;
            continue;
        }
        if (npend) {
            /* a run that is not valid UTF-8 becomes one U+FFFD per byte token */
            if (tok_utf8_valid(pend.buf, pend.len))
                rc = sb_to_str(a, &pend, &out->v[out->n++]);
            else
                for (size_t k = 0; k < npend && !rc; k++)
                    out->v[out->n++] = (tok_str){"\xEF\xBF\xBD", 3};
            an_sb_clear(&pend);
            npend = 0;
        }
        if (i < in->n)
            out->v[out->n++] = in->v[i];
    }
    an_sb_free(&pend);
    return rc ? -1 : 0;
}

static int join(const slist *in, an_strbuf *sb)
{
    for (size_t i = 0; i < in->n; i++)
        if (an_sb_append(sb, in->v[i].s, in->v[i].n))
            return -1;
    return 0;
}

static int dec_fuse(const slist *in, an_arena *a, slist *out)
{
    an_strbuf sb;
    an_sb_init(&sb);
    out->v = slist_alloc(a, 1);
    out->n = 1;
    int rc = !out->v || join(in, &sb) || sb_to_str(a, &sb, &out->v[0]);
    an_sb_free(&sb);
    return rc ? -1 : 0;
}

static int dec_strip(const tok_decoder *d, const slist *in, an_arena *a, slist *out)
{
    char c[4];
    size_t cl = (size_t)tok_utf8_encode(d->ch, c);
    out->v = slist_alloc(a, in->n);
    out->n = in->n;
    if (!out->v)
        return -1;
    for (size_t i = 0; i < in->n; i++) {
        const char *s = in->v[i].s;
        size_t b = 0, e = in->v[i].n;
        for (size_t k = 0; k < d->start && e - b >= cl && !memcmp(s + b, c, cl); k++)
            b += cl;
        for (size_t k = 0; k < d->stop && e - b >= cl && !memcmp(s + e - cl, c, cl); k++)
            e -= cl;
        out->v[i] = (tok_str){s + b, e - b};
    }
    return 0;
}

static int dec_bpe(const tok_decoder *d, const slist *in, an_arena *a, slist *out)
{
    out->v = slist_alloc(a, in->n);
    out->n = in->n;
    if (!out->v)
        return -1;
    an_strbuf sb;
    an_sb_init(&sb);
    int rc = 0;
    for (size_t i = 0; i < in->n && !rc; i++) {
        const char *rep = i + 1 == in->n ? "" : " ";
        const tok_str *t = &in->v[i];
        an_sb_clear(&sb);
        for (size_t j = 0; j < t->n && !rc;) {
            if (d->content.n && j + d->content.n <= t->n &&
                !memcmp(t->s + j, d->content.s, d->content.n)) {
                rc = an_sb_puts(&sb, rep);
                j += d->content.n;
            } else
                rc = an_sb_putc(&sb, t->s[j++]);
        }
        rc = rc || sb_to_str(a, &sb, &out->v[i]);
    }
    an_sb_free(&sb);
    return rc ? -1 : 0;
}

static int decode_chain(const tok_tokenizer *tok, const tok_decoder *d, const slist *in,
                        an_arena *a, slist *out)
{
    switch (d->type) {
    case TOK_D_BYTELEVEL: return dec_bytelevel(in, a, out);
    case TOK_D_METASPACE: return dec_metaspace(d, in, a, out);
    case TOK_D_REPLACE: return dec_replace(tok, d, in, a, out);
    case TOK_D_BYTEFALLBACK: return dec_bytefallback(in, a, out);
    case TOK_D_FUSE: return dec_fuse(in, a, out);
    case TOK_D_STRIP: return dec_strip(d, in, a, out);
    case TOK_D_BPE: return dec_bpe(d, in, a, out);
    case TOK_D_SEQUENCE: {
        slist cur = *in;
        for (size_t i = 0; i < d->n_items; i++) {
            slist next;
            if (decode_chain(tok, d->items[i], &cur, a, &next))
                return -1;
            cur = next;
        }
        *out = cur;
        return 0;
    }
    }
    return -1;
}

int tok_decode_tokens(const tok_tokenizer *tok, const tok_decoder *d, tok_str *tokens,
                      size_t n, an_strbuf *out)
{
    slist in = {tokens, n}, res;
    if (!d) { /* no decoder: tokens joined by spaces */
        for (size_t i = 0; i < n; i++)
            if ((i && an_sb_putc(out, ' ')) || an_sb_append(out, tokens[i].s, tokens[i].n))
                return -1;
        return 0;
    }
    an_arena a;
    an_arena_init(&a);
    int rc = decode_chain(tok, d, &in, &a, &res) || join(&res, out);
    an_arena_free(&a);
    return rc ? -1 : 0;
}

int tok_decode(const tok_tokenizer *tok, const int32_t *ids, size_t n_ids, int skip_special,
               an_strbuf *out, an_error *err)
{
    if (tok->spm)
        return tok_spm_decode(tok->spm, ids, n_ids, out, err);
    tok_str *toks = malloc((n_ids ? n_ids : 1) * sizeof *toks);
    if (!toks)
        return an_errorf(err, "tokenizer: out of memory decoding %zu ids", n_ids);
    size_t n = 0;
    for (size_t i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= tok->n_ids || !tok->id_to_token[id])
            continue;
        if (skip_special && tok->id_special[id])
            continue;
        toks[n++] = (tok_str){tok->id_to_token[id], tok->id_len[id]};
    }
    int rc = tok_decode_tokens(tok, tok->decoder, toks, n, out);
    free(toks);
    return rc ? an_errorf(err, "tokenizer: out of memory decoding %zu ids", n_ids) : 0;
}

/* ---- streaming ---- */

/*
 * The stream decodes a short window: the ids of the last chunk it emitted (the context)
 * and the ids held since, and emits what the window decodes to past the context's own
 * decoding. Decoders treat the start of a text specially (sentencepiece and Metaspace
 * drop the leading spaces, Strip cuts characters), so once the first chunk is out the
 * window is decoded behind an anchor: one ordinary token ("a") that takes the place of
 * the start of the text.
 */
struct tok_stream {
    const tok_tokenizer *tok;
    int skip_special;
    int32_t *buf;  /* buf[0]: the anchor; ids = buf + 1 */
    int32_t *ids;  /* [0, ctx) already emitted context, [ctx, n) held back */
    size_t n, ctx, cap;
    int32_t anchor; /* -1: none found, decode windows as they are */
    int anchored;   /* some text is out: decode behind the anchor */
    an_strbuf prefix; /* decode of the context */
    an_strbuf full;
    int bytelevel, bytefallback; /* what the decoder makes of byte tokens */
};

/* Ids kept in the window at most, whatever the decoder does. */
#define TOK_STREAM_MAX_WINDOW 256

/* Decode the first `count` ids of the window (behind the anchor once anchored). */
static int window_decode(tok_stream *st, size_t count, an_strbuf *out, an_error *err)
{
    an_sb_clear(out);
    if (st->anchored && st->anchor >= 0) {
        st->buf[0] = st->anchor;
        return tok_decode(st->tok, st->buf, count + 1, st->skip_special, out, err);
    }
    return tok_decode(st->tok, st->ids, count, st->skip_special, out, err);
}

/* An ordinary token whose text does not depend on what follows it, or -1. */
static int32_t find_anchor(const tok_tokenizer *tok)
{
    static const char *const cand[] = {"a", "e", "x", "\xE2\x96\x81" "a", "\xC4\xA0" "a"};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        int32_t id = tok_token_to_id(tok, cand[i]);
        if (id < 0 || tok_is_special(tok, id))
            continue;
        an_strbuf one, two;
        an_sb_init(&one);
        an_sb_init(&two);
        int32_t pair[2] = {id, id};
        /* "a" alone and "a" followed by more text begin alike (no decoder: "a a") */
        int ok = !tok_decode(tok, pair, 1, 0, &one, NULL) && !tok_decode(tok, pair, 2, 0, &two, NULL) &&
                 one.len > 0 && one.buf[0] != ' ' && two.len > one.len &&
                 !memcmp(two.buf, one.buf, one.len);
        an_sb_free(&one);
        an_sb_free(&two);
        if (ok)
            return id;
    }
    return -1;
}

static int decoder_has(const tok_decoder *d, enum tok_dec_type type);

tok_stream *tok_stream_new(const tok_tokenizer *tok, int skip_special)
{
    tok_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->tok = tok;
    st->skip_special = skip_special;
    st->bytelevel = decoder_has(tok->decoder, TOK_D_BYTELEVEL);
    st->bytefallback = decoder_has(tok->decoder, TOK_D_BYTEFALLBACK);
    st->anchor = find_anchor(tok);
    an_sb_init(&st->prefix);
    an_sb_init(&st->full);
    return st;
}

void tok_stream_free(tok_stream *st)
{
    if (!st)
        return;
    free(st->buf);
    an_sb_free(&st->prefix);
    an_sb_free(&st->full);
    free(st);
}

static int decoder_has(const tok_decoder *d, enum tok_dec_type type)
{
    if (!d)
        return 0;
    if (d->type == type)
        return 1;
    for (size_t i = 0; i < d->n_items; i++)
        if (decoder_has(d->items[i], type))
            return 1;
    return 0;
}

/*
 * The raw bytes a token stands for, when it stands for bytes rather than text: a
 * "<0xNN>" byte-fallback piece (sentencepiece, or a ByteFallback decoder), or a
 * byte-level token (ByteLevel decoder). Returns the number of bytes written (at most
 * 8 kept), or -1 when the token is text, which always ends on a character boundary.
 */
static int token_bytes(const tok_stream *st, int32_t id, unsigned char *out, size_t cap)
{
    const tok_tokenizer *tok = st->tok;
    const char *t = tok_id_to_token(tok, id);
    if (!t)
        return 0; /* dropped by decode */
    if (st->skip_special && tok_is_special(tok, id))
        return 0;
    size_t n = strlen(t);
    if ((tok->spm || st->bytefallback) && n == 6 && !memcmp(t, "<0x", 3) && t[5] == '>') {
        int v = byte_token(&(tok_str){t, n});
        if (v >= 0) {
            out[0] = (unsigned char)v;
            return 1;
        }
    }
    if (!st->bytelevel)
        return -1;
    init_char_to_byte();
    size_t k = 0;
    for (size_t j = 0; j < n;) {
        uint32_t cp;
        j += (size_t)tok_utf8_next(t + j, n - j, &cp);
        if (cp >= 0x144 || char_to_byte[cp] < 0)
            return -1;
        if (k == cap) { /* keep the last cap bytes */
            memmove(out, out + 1, cap - 1);
            k--;
        }
        out[k++] = (unsigned char)char_to_byte[cp];
    }
    return (int)k;
}

/* 1 when the held ids end in the first bytes of a UTF-8 character (more may complete it). */
static int incomplete_tail(const tok_stream *st)
{
    unsigned char tail[16], tb[8];
    size_t tn = 0;
    for (size_t i = st->n; i-- > st->ctx && tn < 4;) {
        int k = token_bytes(st, st->ids[i], tb, sizeof tb);
        if (k < 0)
            break;
        /* prepend */
        size_t take = (size_t)k > sizeof tail - tn ? sizeof tail - tn : (size_t)k;
        memmove(tail + take, tail, tn);
        memcpy(tail, tb + (size_t)k - take, take);
        tn += take;
    }
    /* find the last lead byte within the last 3 bytes */
    for (size_t back = 1; back <= 3 && back <= tn; back++) {
        unsigned char c = tail[tn - back];
        if ((c & 0xC0) == 0x80)
            continue;
        int need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
        return (int)back < need;
    }
    return 0;
}

/* Emit the decoded text past the context; the emitted ids become the next context. */
static int stream_emit(tok_stream *st, an_strbuf *out, an_error *err)
{
    size_t skip = st->full.len >= st->prefix.len &&
                          !memcmp(st->full.buf, st->prefix.buf, st->prefix.len)
                      ? st->prefix.len : 0;
    if (skip == 0 && st->prefix.len) {
        /* the context decodes differently once followed by more ids (no decoder HF ships
         * does this): skip as many bytes as were emitted, backed up to a character start */
        skip = st->full.len > st->prefix.len ? st->prefix.len : st->full.len;
        while (skip > 0 && skip < st->full.len &&
               ((unsigned char)st->full.buf[skip] & 0xC0) == 0x80)
            skip--;
    }
    if (an_sb_append(out, st->full.buf + skip, st->full.len - skip))
        return an_errorf(err, "tokenizer: out of memory");
    /* the text has started once something was shown: from then on, behind the anchor */
    int started = st->anchored || st->full.len > skip;
    if (st->full.len > skip || st->n > TOK_STREAM_MAX_WINDOW) {
        /* the emitted ids become the context; while nothing shows (skipped specials, a
         * suffix that only turns into a space before the next token), the window grows */
        memmove(st->ids, st->ids + st->ctx, (st->n - st->ctx) * sizeof *st->ids);
        st->n -= st->ctx;
    }
    st->ctx = st->n;
    st->anchored = started;
    return window_decode(st, st->n, &st->prefix, err);
}

int tok_stream_push(tok_stream *st, int32_t id, an_strbuf *out, an_error *err)
{
    /* ids decode leaves out (skipped specials, unknown ids) change nothing: keeping them
     * out of the window keeps it short while no text has shown yet */
    if (!st->tok->spm &&
        (!tok_id_to_token(st->tok, id) || (st->skip_special && tok_is_special(st->tok, id))))
        return 0;
    if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 16;
        int32_t *nv = realloc(st->buf, (nc + 1) * sizeof *nv);
        if (!nv)
            return an_errorf(err, "tokenizer: out of memory");
        st->buf = nv;
        st->ids = nv + 1;
        st->cap = nc;
    }
    st->ids[st->n++] = id;
    /* the first bytes of a character decode to U+FFFD until the last one arrives */
    if (incomplete_tail(st) && st->n - st->ctx < TOK_STREAM_MAX_HOLD)
        return 0;
    if (window_decode(st, st->n, &st->full, err))
        return -1;
    return stream_emit(st, out, err);
}

int tok_stream_flush(tok_stream *st, an_strbuf *out, an_error *err)
{
    int rc = 0;
    if (st->n > st->ctx) {
        rc = window_decode(st, st->n, &st->full, err);
        if (!rc)
            rc = stream_emit(st, out, err);
    }
    st->n = st->ctx = 0;
    st->anchored = 0;
    an_sb_clear(&st->prefix);
    an_sb_clear(&st->full);
    return rc;
}
