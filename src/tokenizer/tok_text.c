/* tok_text.c — UTF-8, the Unicode properties HF's Rust code relies on, and patterns. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

int tok_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80 || n < 2) {
        *cp = u[0];
        return 1;
    }
    if (u[0] < 0xE0) {
        *cp = (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
        return 2;
    }
    if (u[0] < 0xF0 || n < 4) {
        if (n < 3) {
            *cp = u[0];
            return 1;
        }
        *cp = (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
        return 3;
    }
    *cp = (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3F) << 12 |
          (uint32_t)(u[2] & 0x3F) << 6 | (u[3] & 0x3F);
    return 4;
}

int tok_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid character at s, or -(length of the maximal invalid subpart). */
static int utf8_check(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return -1;
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= n)
            return -i;
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return -i;
    }
    return need + 1;
}

int tok_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int k = utf8_check(u + i, n - i);
        if (k < 0)
            return 0;
        i += (size_t)k;
    }
    return 1;
}

int tok_utf8_lossy(const char *s, size_t n, an_strbuf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    if (an_sb_reserve(out, n))
        return -1;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int k = utf8_check(u + i, n - i);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        if (an_sb_append(out, s + run, i - run) || an_sb_append(out, "\xEF\xBF\xBD", 3))
            return -1;
        i += (size_t)-k;
        run = i;
    }
    return an_sb_append(out, s + run, n - run);
}

int tok_is_whitespace(uint32_t c)
{
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

int tok_is_word_char(uint32_t c)
{
    if (c == '_' || c == 0x200C || c == 0x200D)
        return 1;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}

int tok_is_numeric(uint32_t c)
{
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

int tok_is_punctuation(uint32_t c)
{
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
               (c >= 0x7B && c <= 0x7E);
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/*
 * HF runs these patterns with Oniguruma (Ruby syntax, UTF-8). PCRE2 with UTF + UCP reads
 * the constructs tokenizer.json files use (\p{L}, \p{N}, classes, (?i:...), lookahead,
 * {m,n}) the same way. Where the two differ, the pattern is rewritten:
 *   - \s: Oniguruma matches the Unicode White_Space property, which also holds U+0085;
 *     PCRE2's \s does not, so \s becomes [\s\x{85}] (inside a class: \s\x{85}).
 *   - \S outside a class becomes [^\s\x{85}]; \h (a hex digit in Ruby syntax) [0-9a-fA-F].
 */
pcre2_code *tok_regex_compile(const char *pattern, size_t len, an_error *err)
{
    an_strbuf sb;
    an_sb_init(&sb);
    int in_class = 0;
    for (size_t i = 0; i < len; i++) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < len) {
            char d = pattern[++i];
            if (d == 's')
                an_sb_puts(&sb, in_class ? "\\s\\x{85}" : "[\\s\\x{85}]");
            else if (d == 'S' && !in_class)
                an_sb_puts(&sb, "[^\\s\\x{85}]");
            else if (d == 'h')
                an_sb_puts(&sb, in_class ? "0-9a-fA-F" : "[0-9a-fA-F]");
            else {
                an_sb_putc(&sb, '\\');
                an_sb_putc(&sb, d);
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            an_sb_putc(&sb, c);
            /* a ']' (or '^]') right after the opening bracket is a literal */
            if (i + 1 < len && pattern[i + 1] == '^') {
                an_sb_putc(&sb, '^');
                i++;
            }
            if (i + 1 < len && pattern[i + 1] == ']') {
                an_sb_putc(&sb, ']');
                i++;
            }
            continue;
        }
        if (c == ']' && in_class)
            in_class = 0;
        an_sb_putc(&sb, c);
    }
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)sb.buf, sb.len, PCRE2_UTF | PCRE2_UCP, &code,
                                   &off, NULL);
    an_sb_free(&sb);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        an_errorf(err, "regex '%.*s': %s", (int)(len > 200 ? 200 : len), pattern, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
    return re;
}

static int matches_push(tok_matches *m, size_t start, size_t end, int is_match)
{
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 32;
        tok_match *nv = realloc(m->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        m->v = nv;
        m->cap = nc;
    }
    m->v[m->n++] = (tok_match){start, end, is_match};
    return 0;
}

int tok_pattern_find(const tok_pattern *p, pcre2_match_data *md, const char *s, size_t n,
                     tok_matches *m)
{
    m->n = 0;
    if (n == 0)
        return matches_push(m, 0, 0, 0);
    size_t prev = 0;
    if (!p->re) {
        if (p->lit_len == 0)
            return matches_push(m, 0, n, 0);
        size_t i = 0;
        while (i + p->lit_len <= n) {
            const char *hit = memmem(s + i, n - i, p->lit, p->lit_len);
            if (!hit)
                break;
            size_t st = (size_t)(hit - s);
            if (st != prev && matches_push(m, prev, st, 0))
                return -1;
            if (matches_push(m, st, st + p->lit_len, 1))
                return -1;
            prev = i = st + p->lit_len;
        }
    } else {
        size_t at = 0;
        size_t last_end = (size_t)-1;
        while (at <= n) {
            int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc < 0)
                break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t st = ov[0], en = ov[1];
            if (st == en) {
                /* an empty match right after a match is not reported; step one character */
                if (st != last_end) {
                    if (st != prev && matches_push(m, prev, st, 0))
                        return -1;
                    if (matches_push(m, st, en, 1))
                        return -1;
                    prev = en;
                }
                if (st >= n)
                    break;
                uint32_t cp;
                at = st + (size_t)tok_utf8_next(s + st, n - st, &cp);
                last_end = (size_t)-1;
                continue;
            }
            if (st != prev && matches_push(m, prev, st, 0))
                return -1;
            if (matches_push(m, st, en, 1))
                return -1;
            prev = at = last_end = en;
        }
    }
    if (prev != n && matches_push(m, prev, n, 0))
        return -1;
    return 0;
}
