/*
 * tok_jscan.c — a strict reader for the two large members of tokenizer.json.
 *
 * model.vocab (an object of string → id) and model.merges (an array of "a b" strings or
 * [a, b] pairs) hold almost all of a tokenizer.json: 300 000 strings for Qwen3. Building
 * json-c objects for them costs several times the load-time budget, so they are located
 * in the text, cut out of what json-c parses, and read here straight into the tables.
 * Everything else (and any document whose layout this file does not recognise) goes
 * through json-c. This reader accepts only valid JSON for those values: strings with
 * valid escapes and UTF-8, no raw control characters, integer ids.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

typedef struct scan {
    const char *p, *end;
} scan;

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* Read a string at s->p (the opening quote) into out (cleared first); -1 when invalid. */
static int read_string(scan *s, an_strbuf *out)
{
    an_sb_clear(out);
    if (s->p >= s->end || *s->p != '"')
        return -1;
    s->p++;
    const char *run = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            if (an_sb_append(out, run, (size_t)(s->p - run)))
                return -1;
            s->p++;
            return tok_utf8_valid(out->buf, out->len) ? 0 : -1;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (an_sb_append(out, run, (size_t)(s->p - run)) || s->p + 1 >= s->end)
            return -1;
        char e = s->p[1];
        s->p += 2;
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (s->end - s->p < 4 || hex4(s->p, &cp))
                return -1;
            s->p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                s->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            char buf[4];
            if (an_sb_append(out, buf, (size_t)tok_utf8_encode(cp, buf)))
                return -1;
            run = s->p;
            continue;
        }
        default:
            return -1;
        }
        if (an_sb_putc(out, ch))
            return -1;
        run = s->p;
    }
    return -1;
}

/* Skip one JSON value (loosely: json-c or this file's strict readers check it later). */
static int skip_value(scan *s, int depth)
{
    ws(s);
    if (s->p >= s->end || depth > 64)
        return -1;
    char c = *s->p;
    if (c == '"') {
        /* the closing quote is the first one preceded by an even number of backslashes */
        const char *q = s->p + 1;
        for (;;) {
            q = memchr(q, '"', (size_t)(s->end - q));
            if (!q)
                return -1;
            const char *b = q;
            while (b > s->p + 1 && b[-1] == '\\')
                b--;
            if ((q - b) % 2 == 0) {
                s->p = q + 1;
                return 0;
            }
            q++;
        }
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                ws(s);
                if (skip_value(s, depth + 1))
                    return -1;
                ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return -1;
                s->p++;
            }
            if (skip_value(s, depth + 1))
                return -1;
            ws(s);
            if (s->p >= s->end)
                return -1;
            if (*s->p == ',') {
                s->p++;
                continue;
            }
            if (*s->p != close)
                return -1;
            s->p++;
            return 0;
        }
    }
    while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' &&
           *s->p != '\n' && *s->p != '\r' && *s->p != '\t')
        s->p++;
    return 0;
}

/* In the object at s->p, find the value of `key` (the last one when repeated). */
static int find_member(const char *start, const char *end, const char *key, const char **vs,
                       const char **ve)
{
    scan s = {start, end};
    an_strbuf k;
    an_sb_init(&k);
    *vs = *ve = NULL;
    ws(&s);
    if (s.p >= s.end || *s.p != '{')
        goto bad;
    s.p++;
    ws(&s);
    if (s.p < s.end && *s.p == '}')
        goto done;
    for (;;) {
        ws(&s);
        if (read_string(&s, &k))
            goto bad;
        ws(&s);
        if (s.p >= s.end || *s.p != ':')
            goto bad;
        s.p++;
        ws(&s);
        const char *v = s.p;
        if (skip_value(&s, 0))
            goto bad;
        if (!strcmp(k.buf, key) && k.len == strlen(key)) {
            *vs = v;
            *ve = s.p;
        }
        ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        if (s.p < s.end && *s.p == '}')
            goto done;
        goto bad;
    }
done:
    an_sb_free(&k);
    return 0;
bad:
    an_sb_free(&k);
    return -1;
}

int tok_jscan_locate(const char *doc, size_t len, tok_jspan *vocab, tok_jspan *merges)
{
    const char *ms, *me;
    memset(vocab, 0, sizeof *vocab);
    memset(merges, 0, sizeof *merges);
    if (find_member(doc, doc + len, "model", &ms, &me) || !ms || *ms != '{')
        return -1;
    const char *vs, *ve, *gs, *ge;
    if (find_member(ms, me, "vocab", &vs, &ve) || find_member(ms, me, "merges", &gs, &ge) ||
        !vs || !gs || *vs != '{' || *gs != '[')
        return -1;
    *vocab = (tok_jspan){(size_t)(vs - doc), (size_t)(ve - doc)};
    *merges = (tok_jspan){(size_t)(gs - doc), (size_t)(ge - doc)};
    return 0;
}

int tok_jscan_vocab(const char *s0, size_t n, tok_jscan_vocab_fn fn, void *ud)
{
    scan s = {s0, s0 + n};
    an_strbuf k;
    an_sb_init(&k);
    int rc = -1;
    ws(&s);
    if (s.p >= s.end || *s.p++ != '{')
        goto out;
    ws(&s);
    if (s.p < s.end && *s.p == '}') {
        rc = 0;
        goto out;
    }
    for (;;) {
        ws(&s);
        if (read_string(&s, &k))
            goto out;
        ws(&s);
        if (s.p >= s.end || *s.p++ != ':')
            goto out;
        ws(&s);
        int64_t v = 0;
        const char *d = s.p;
        while (s.p < s.end && *s.p >= '0' && *s.p <= '9' && s.p - d < 12)
            v = v * 10 + (*s.p++ - '0');
        if (s.p == d || (s.p - d > 1 && *d == '0') ||
            (s.p < s.end && (*s.p == '.' || *s.p == 'e' || *s.p == 'E' || (*s.p >= '0' && *s.p <= '9'))))
            goto out; /* not a plain non-negative integer */
        if (fn(ud, k.buf, k.len, v))
            goto out;
        ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        if (s.p < s.end && *s.p == '}') {
            rc = 0;
            goto out;
        }
        goto out;
    }
out:
    an_sb_free(&k);
    return rc;
}

int tok_jscan_merges(const char *s0, size_t n, tok_jscan_merge_fn fn, void *ud)
{
    scan s = {s0, s0 + n};
    an_strbuf a, b;
    an_sb_init(&a);
    an_sb_init(&b);
    int rc = -1;
    size_t idx = 0;
    ws(&s);
    if (s.p >= s.end || *s.p++ != '[')
        goto out;
    ws(&s);
    if (s.p < s.end && *s.p == ']') {
        rc = 0;
        goto out;
    }
    for (;; idx++) {
        ws(&s);
        if (s.p < s.end && *s.p == '"') {
            if (read_string(&s, &a))
                goto out;
            const char *sp = memchr(a.buf, ' ', a.len);
            if (!sp || memchr(sp + 1, ' ', a.len - (size_t)(sp + 1 - a.buf)))
                goto out;
            if (fn(ud, idx, a.buf, (size_t)(sp - a.buf), sp + 1, a.len - (size_t)(sp - a.buf) - 1))
                goto out;
        } else if (s.p < s.end && *s.p == '[') {
            s.p++;
            ws(&s);
            if (read_string(&s, &a))
                goto out;
            ws(&s);
            if (s.p >= s.end || *s.p++ != ',')
                goto out;
            ws(&s);
            if (read_string(&s, &b))
                goto out;
            ws(&s);
            if (s.p >= s.end || *s.p++ != ']')
                goto out;
            if (fn(ud, idx, a.buf, a.len, b.buf, b.len))
                goto out;
        } else
            goto out;
        ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        if (s.p < s.end && *s.p == ']')
            rc = 0;
        goto out;
    }
out:
    an_sb_free(&a);
    an_sb_free(&b);
    return rc;
}
