/* tok_norm.c — normalizers (HF normalizers/ in HF tokenizers): whole-string transforms before splitting. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

static int unicode_form(const char *s, size_t len, int flags, an_strbuf *out)
{
    if (len == 0)
        return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      (utf8proc_option_t)(UTF8PROC_STABLE | flags));
    if (n < 0) /* cannot happen on valid UTF-8 but for out of memory: keep the text */
        return an_sb_append(out, s, len);
    int rc = an_sb_append(out, (const char *)dst, (size_t)n);
    free(dst);
    return rc;
}

static int lowercase(const char *s, size_t len, an_strbuf *out)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        int k = tok_utf8_next(s + i, len - i, &cp);
        i += (size_t)k;
        char buf[8];
        int m;
        if (cp == 0x130) { /* the one unconditional multi-character lowercase mapping */
            memcpy(buf, "i\xCC\x87", 3);
            m = 3;
        } else
            m = tok_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), buf);
        if (an_sb_append(out, buf, (size_t)m))
            return -1;
    }
    return 0;
}

static int replace(tok_tokenizer *tok, const tok_normalizer *n, const char *s, size_t len,
                   an_strbuf *out)
{
    tok_matches m = {0};
    if (tok_pattern_find(&n->pat, tok->md, s, len, &m)) {
        free(m.v);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < m.n && !rc; i++) {
        if (m.v[i].is_match)
            rc = an_sb_append(out, n->content.s, n->content.n);
        else
            rc = an_sb_append(out, s + m.v[i].start, m.v[i].end - m.v[i].start);
    }
    free(m.v);
    return rc;
}

static int strip(const tok_normalizer *n, const char *s, size_t len, an_strbuf *out)
{
    size_t a = 0, b = len;
    if (n->left)
        while (a < b) {
            uint32_t cp;
            int k = tok_utf8_next(s + a, b - a, &cp);
            if (!tok_is_whitespace(cp))
                break;
            a += (size_t)k;
        }
    if (n->right)
        while (b > a) {
            size_t j = b - 1;
            while (j > a && ((unsigned char)s[j] & 0xC0) == 0x80)
                j--;
            uint32_t cp;
            tok_utf8_next(s + j, b - j, &cp);
            if (!tok_is_whitespace(cp))
                break;
            b = j;
        }
    return an_sb_append(out, s + a, b - a);
}

int tok_normalize(tok_tokenizer *tok, const tok_normalizer *n, const char *s, size_t len,
                  an_strbuf *out)
{
    switch (n->type) {
    case TOK_N_NFC: return unicode_form(s, len, UTF8PROC_COMPOSE, out);
    case TOK_N_NFD: return unicode_form(s, len, UTF8PROC_DECOMPOSE, out);
    case TOK_N_NFKC: return unicode_form(s, len, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case TOK_N_NFKD: return unicode_form(s, len, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case TOK_N_LOWERCASE: return lowercase(s, len, out);
    case TOK_N_REPLACE: return replace(tok, n, s, len, out);
    case TOK_N_STRIP: return strip(n, s, len, out);
    case TOK_N_PREPEND:
        if (len && an_sb_append(out, n->content.s, n->content.n))
            return -1;
        return an_sb_append(out, s, len);
    case TOK_N_SEQUENCE: {
        an_strbuf cur, next;
        an_sb_init(&cur);
        an_sb_init(&next);
        int rc = an_sb_append(&cur, s, len);
        for (size_t i = 0; i < n->n_items && !rc; i++) {
            an_sb_clear(&next);
            rc = tok_normalize(tok, n->items[i], cur.buf, cur.len, &next);
            an_strbuf t = cur;
            cur = next;
            next = t;
        }
        if (!rc)
            rc = an_sb_append(out, cur.buf, cur.len);
        an_sb_free(&cur);
        an_sb_free(&next);
        return rc;
    }
    }
    return -1;
}
