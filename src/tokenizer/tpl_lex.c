/*
 * tpl_lex.c — the template lexer, with Jinja2's whitespace rules for the chat-template
 * environment: trim_blocks (the first newline after a block or comment tag goes),
 * lstrip_blocks (spaces and tabs from the start of a line up to a block or comment tag
 * go), `-` signs (all whitespace on that side goes), `+` signs (no lstrip / no trim), and
 * keep_trailing_newline off (one newline at the very end of the source goes).
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    an_arena *a;
    const char *name;
    const char *src;
    size_t len, pos;
    int line;
    size_t line_start;
    token *t; int n, cap;
    an_error *err;
} lexer;

static int lx_col(lexer *L, size_t pos)
{
    /* line_start is maintained for the current position; columns count bytes from 1 */
    return (int)(pos - L->line_start) + 1;
}

static void lx_advance(lexer *L, size_t to)
{
    for (size_t i = L->pos; i < to && i < L->len; i++)
        if (L->src[i] == '\n') {
            L->line++;
            L->line_start = i + 1;
        }
    L->pos = to;
}

static int lx_error(lexer *L, size_t pos, const char *msg)
{
    /* position: recompute line/col for pos (may be ahead of L->pos) */
    int line = 1;
    size_t ls = 0;
    for (size_t i = 0; i < pos && i < L->len; i++)
        if (L->src[i] == '\n') {
            line++;
            ls = i + 1;
        }
    return an_errorf(L->err, "%s:%d:%d: %s", L->name, line, (int)(pos - ls) + 1, msg);
}

static token *lx_push(lexer *L, int k, size_t pos)
{
    if (L->n == L->cap) {
        int nc = L->cap ? L->cap * 2 : 64;
        token *nt = an_arena_calloc(L->a, (size_t)nc, sizeof *nt);
        if (!nt)
            return NULL;
        if (L->n)
            memcpy(nt, L->t, (size_t)L->n * sizeof *nt);
        L->t = nt;
        L->cap = nc;
    }
    token *t = &L->t[L->n++];
    memset(t, 0, sizeof *t);
    t->k = (uint8_t)k;
    t->line = L->line;
    t->col = lx_col(L, pos);
    return t;
}

/* Data text: newlines normalised to \n (Jinja's newline_sequence). */
static int lx_data(lexer *L, const char *s, size_t n, size_t pos)
{
    if (n == 0)
        return 0;
    char *d = an_arena_alloc(L->a, n + 1);
    if (!d)
        return lx_error(L, pos, "out of memory");
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            d[j++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else
            d[j++] = s[i];
    }
    d[j] = 0;
    token *t = lx_push(L, T_DATA, pos);
    if (!t)
        return lx_error(L, pos, "out of memory");
    t->s = d;
    t->n = j;
    return 0;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Apply the left-side whitespace rules to the text before a tag. */
static size_t lx_text_len(const char *text, size_t n, char type, char sign, int line_starting)
{
    if (sign == '-') {
        while (n > 0 && is_ws(text[n - 1]))
            n--;
        return n;
    }
    if (sign == '+' || type == '{')
        return n;
    size_t lpos = n;
    while (lpos > 0 && text[lpos - 1] != '\n')
        lpos--;
    if (lpos > 0 || line_starting) {
        int only_ws = lpos < n;
        for (size_t i = lpos; i < n; i++)
            if (!is_ws(text[i]))
                only_ws = 0;
        if (only_ws)
            return lpos;
    }
    return n;
}

/* Unescape a string literal body as Python's unicode-escape does. */
static int lx_string(lexer *L, size_t start, size_t end, token *t)
{
    const char *s = L->src + start;
    size_t n = end - start;
    char *d = an_arena_alloc(L->a, n + 1);
    if (!d)
        return lx_error(L, start, "out of memory");
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\r') {
            d[j++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
            continue;
        }
        if (ch != '\\' || i + 1 >= n) {
            d[j++] = ch;
            continue;
        }
        char e = s[++i];
        switch (e) {
        case 'n': d[j++] = '\n'; break;
        case 't': d[j++] = '\t'; break;
        case 'r': d[j++] = '\r'; break;
        case '\\': d[j++] = '\\'; break;
        case '\'': d[j++] = '\''; break;
        case '"': d[j++] = '"'; break;
        case 'a': d[j++] = '\a'; break;
        case 'b': d[j++] = '\b'; break;
        case 'f': d[j++] = '\f'; break;
        case 'v': d[j++] = '\v'; break;
        case '\n': break; /* line continuation */
        case 'x': case 'u': case 'U': {
            int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < nd; k++) {
                if (i + 1 + (size_t)k >= n || !isxdigit((unsigned char)s[i + 1 + k]))
                    return lx_error(L, start + i, "truncated \\x/\\u escape in a string");
                char h = s[i + 1 + k];
                cp = cp * 16 + (uint32_t)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
            }
            if (cp > 0x10FFFF)
                return lx_error(L, start + i, "illegal Unicode character in a string");
            i += (size_t)nd;
            char buf[4];
            int m = u8_encode(cp, buf);
            if (j + (size_t)m > n) /* escapes are always longer than their UTF-8 */
                return lx_error(L, start + i, "bad escape");
            memcpy(d + j, buf, (size_t)m);
            j += (size_t)m;
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                    cp = cp * 8 + (uint32_t)(s[++i] - '0');
                char buf[4];
                int m = u8_encode(cp, buf);
                memcpy(d + j, buf, (size_t)m);
                j += (size_t)m;
            } else {
                d[j++] = '\\';
                d[j++] = e;
            }
        }
    }
    d[j] = 0;
    t->s = d;
    t->n = j;
    return 0;
}

static const char *const OPS2[] = {"//", "**", "==", "!=", "<=", ">=", NULL};
static const char OPS1[] = "+-/*%~[](){}<>=.:|,;";

/* Tokens inside {{ }} or {% %} up to the end tag. Returns 0 and the position after the
 * end tag (with the right-side whitespace rules applied). */
static int lx_inside(lexer *L, char type, int *line_starting)
{
    char stack[256];
    int depth = 0;
    for (;;) {
        while (L->pos < L->len && is_ws(L->src[L->pos]))
            lx_advance(L, L->pos + 1);
        if (L->pos >= L->len)
            return lx_error(L, L->pos, type == '{' ? "unexpected end of template, expected '}}'"
                                                   : "unexpected end of template, expected '%}'");
        const char *p = L->src + L->pos;
        size_t rest = L->len - L->pos;
        /* end tags, only when no bracket is open */
        if (depth == 0) {
            char close = type == '{' ? '}' : '%';
            char sign = 0;
            size_t k = 0;
            if ((p[0] == '-' || (p[0] == '+' && type == '%')) && rest >= 3 && p[1] == close && p[2] == '}') {
                sign = p[0];
                k = 1;
            }
            if (rest >= k + 2 && p[k] == close && p[k + 1] == '}') {
                size_t endpos = L->pos;
                token *t = lx_push(L, type == '{' ? T_VEND : T_BEND, L->pos);
                if (!t)
                    return lx_error(L, L->pos, "out of memory");
                size_t after = L->pos + k + 2;
                if (sign == '-') {
                    while (after < L->len && is_ws(L->src[after]))
                        after++;
                } else if (sign != '+' && type == '%' && after < L->len && L->src[after] == '\n')
                    after++;
                (void)endpos;
                *line_starting = after > 0 && L->src[after - 1] == '\n';
                lx_advance(L, after);
                return 0;
            }
        }
        size_t pos = L->pos;
        char ch = p[0];
        if (isalpha((unsigned char)ch) || ch == '_') {
            size_t n = 1;
            while (n < rest && (isalnum((unsigned char)p[n]) || p[n] == '_'))
                n++;
            token *t = lx_push(L, T_NAME, pos);
            if (!t)
                return lx_error(L, pos, "out of memory");
            t->s = an_arena_strndup(L->a, p, n);
            t->n = n;
            lx_advance(L, pos + n);
            continue;
        }
        if (ch == '\'' || ch == '"') {
            size_t i = 1;
            while (i < rest && p[i] != ch) {
                if (p[i] == '\\' && i + 1 < rest)
                    i++;
                i++;
            }
            if (i >= rest)
                return lx_error(L, pos, "unexpected end of string");
            token *t = lx_push(L, T_STR, pos);
            if (!t)
                return lx_error(L, pos, "out of memory");
            if (lx_string(L, pos + 1, pos + i, t))
                return -1;
            lx_advance(L, pos + i + 1);
            continue;
        }
        if (isdigit((unsigned char)ch)) {
            size_t i = 0;
            int is_float = 0;
            char buf[128];
            size_t bn = 0;
            int too_long = 0;
#define PUT(x) (bn < sizeof buf - 1 ? (void)(buf[bn++] = (x)) : (void)(too_long = 1))
            while (i < rest && (isdigit((unsigned char)p[i]) || (p[i] == '_' && i + 1 < rest && isdigit((unsigned char)p[i + 1])))) {
                if (p[i] != '_')
                    PUT(p[i]);
                i++;
            }
            int after_dot = pos > 0 && L->src[pos - 1] == '.';
            if (!after_dot && i + 1 < rest && p[i] == '.' && isdigit((unsigned char)p[i + 1])) {
                is_float = 1;
                PUT(p[i]);
                i++;
                while (i < rest && (isdigit((unsigned char)p[i]) || (p[i] == '_' && i + 1 < rest && isdigit((unsigned char)p[i + 1])))) {
                    if (p[i] != '_')
                        PUT(p[i]);
                    i++;
                }
            }
            if (!after_dot && i < rest && (p[i] == 'e' || p[i] == 'E')) {
                size_t k = i + 1;
                if (k < rest && (p[k] == '+' || p[k] == '-'))
                    k++;
                if (k < rest && isdigit((unsigned char)p[k])) {
                    is_float = 1;
                    PUT('e');
                    i++;
                    if (p[i] == '+' || p[i] == '-') {
                        PUT(p[i]);
                        i++;
                    }
                    while (i < rest && isdigit((unsigned char)p[i])) {
                        PUT(p[i]);
                        i++;
                    }
                }
            }
#undef PUT
            if (too_long)
                return lx_error(L, pos, "number literal too long");
            buf[bn] = 0;
            token *t = lx_push(L, is_float ? T_FLOAT : T_INT, pos);
            if (!t)
                return lx_error(L, pos, "out of memory");
            if (is_float)
                t->f = strtod(buf, NULL);
            else {
                unsigned long long v = strtoull(buf, NULL, 10);
                if (bn > 19 || v > (unsigned long long)INT64_MAX)
                    return lx_error(L, pos, "integer literal too large");
                t->i = (int64_t)v;
            }
            lx_advance(L, pos + i);
            continue;
        }
        int n2 = 0;
        for (int k = 0; OPS2[k]; k++)
            if (rest >= 2 && p[0] == OPS2[k][0] && p[1] == OPS2[k][1])
                n2 = 2;
        if (!n2 && strchr(OPS1, ch) && ch)
            n2 = 1;
        if (!n2) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected char '%c'", ch);
            return lx_error(L, pos, msg);
        }
        if (n2 == 1 && (ch == '(' || ch == '[' || ch == '{')) {
            if (depth == (int)sizeof stack)
                return lx_error(L, pos, "brackets nested too deeply");
            stack[depth++] = ch == '(' ? ')' : ch == '[' ? ']' : '}';
        } else if (n2 == 1 && (ch == ')' || ch == ']' || ch == '}')) {
            if (depth == 0 || stack[depth - 1] != ch) {
                char msg[64];
                snprintf(msg, sizeof msg, "unexpected '%c'", ch);
                return lx_error(L, pos, msg);
            }
            depth--;
        }
        token *t = lx_push(L, T_OP, pos);
        if (!t)
            return lx_error(L, pos, "out of memory");
        t->op[0] = p[0];
        t->op[1] = n2 == 2 ? p[1] : 0;
        lx_advance(L, pos + (size_t)n2);
    }
}

/* After "{%" + sign: is this "raw %}" / "raw -%}"? Returns the end of the tag or 0. */
static size_t lx_raw_begin(lexer *L, size_t p, int *strip_after)
{
    while (p < L->len && is_ws(L->src[p]))
        p++;
    if (L->len - p < 3 || memcmp(L->src + p, "raw", 3) != 0)
        return 0;
    p += 3;
    if (p < L->len && (isalnum((unsigned char)L->src[p]) || L->src[p] == '_'))
        return 0;
    while (p < L->len && is_ws(L->src[p]))
        p++;
    *strip_after = 0;
    if (p + 2 < L->len && L->src[p] == '-' && L->src[p + 1] == '%' && L->src[p + 2] == '}') {
        *strip_after = 1;
        return p + 3;
    }
    if (p + 1 < L->len && L->src[p] == '%' && L->src[p + 1] == '}')
        return p + 2;
    return 0;
}

/* Find "{% endraw %}" from p: returns its start, sets the sign and the end after rules. */
static size_t lx_raw_end(lexer *L, size_t p, char *sign, size_t *after)
{
    for (; p + 1 < L->len; p++) {
        if (L->src[p] != '{' || L->src[p + 1] != '%')
            continue;
        size_t q = p + 2;
        char sg = 0;
        if (q < L->len && (L->src[q] == '-' || L->src[q] == '+'))
            sg = L->src[q++];
        while (q < L->len && is_ws(L->src[q]))
            q++;
        if (L->len - q < 6 || memcmp(L->src + q, "endraw", 6) != 0)
            continue;
        q += 6;
        while (q < L->len && is_ws(L->src[q]))
            q++;
        char es = 0;
        if (q < L->len && (L->src[q] == '-' || L->src[q] == '+'))
            es = L->src[q++];
        if (q + 1 >= L->len || L->src[q] != '%' || L->src[q + 1] != '}')
            continue;
        q += 2;
        if (es == '-')
            while (q < L->len && is_ws(L->src[q]))
                q++;
        else if (es != '+' && q < L->len && L->src[q] == '\n')
            q++;
        *sign = sg;
        *after = q;
        return p;
    }
    return (size_t)-1;
}

int tpl_lex(an_arena *a, const char *name, const char *src, size_t len, token **out, int *ntok,
            an_error *err)
{
    /* Jinja2 splits the source into lines and joins them with \n before lexing: every
     * \r\n and \r becomes \n; then keep_trailing_newline=False drops one final \n. */
    char *norm = an_arena_alloc(a, len + 1);
    if (!norm)
        return an_errorf(err, "%s: out of memory", name);
    size_t nl = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            norm[nl++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else
            norm[nl++] = src[i];
    }
    if (nl > 0 && norm[nl - 1] == '\n')
        nl--;
    norm[nl] = 0;
    src = norm;
    lexer L = {.a = a, .name = name, .src = src, .len = nl, .line = 1, .err = err};
    int line_starting = 1;
    while (L.pos < L.len) {
        size_t p = L.pos, tag = (size_t)-1;
        for (; p + 1 < L.len; p++)
            if (src[p] == '{' && (src[p + 1] == '{' || src[p + 1] == '%' || src[p + 1] == '#')) {
                tag = p;
                break;
            }
        if (tag == (size_t)-1) {
            if (lx_data(&L, src + L.pos, L.len - L.pos, L.pos))
                return -1;
            lx_advance(&L, L.len);
            break;
        }
        char type = src[tag + 1];
        char sign = 0;
        if (tag + 2 < L.len && (src[tag + 2] == '-' || src[tag + 2] == '+'))
            sign = src[tag + 2];
        size_t tn = lx_text_len(src + L.pos, tag - L.pos, type, sign, line_starting);
        if (lx_data(&L, src + L.pos, tn, L.pos))
            return -1;
        lx_advance(&L, tag);
        size_t body = tag + 2 + (sign ? 1 : 0);
        if (type == '#') {
            size_t q = body;
            while (q + 1 < L.len && !(src[q] == '#' && src[q + 1] == '}'))
                q++;
            if (q + 1 >= L.len)
                return lx_error(&L, tag, "missing end of comment tag");
            char es = q > body ? src[q - 1] : 0;
            size_t after = q + 2;
            if (es == '-')
                while (after < L.len && is_ws(src[after]))
                    after++;
            else if (es != '+' && after < L.len && src[after] == '\n')
                after++;
            line_starting = src[after - 1] == '\n';
            lx_advance(&L, after);
            continue;
        }
        int strip_after;
        size_t rb = type == '%' ? lx_raw_begin(&L, body, &strip_after) : 0;
        if (rb) {
            size_t q = rb;
            if (strip_after)
                while (q < L.len && is_ws(src[q]))
                    q++;
            char esign;
            size_t after;
            size_t e = lx_raw_end(&L, q, &esign, &after);
            if (e == (size_t)-1)
                return lx_error(&L, tag, "missing end of raw directive");
            size_t n = lx_text_len(src + q, e - q, '%', esign, 0);
            lx_advance(&L, q);
            if (lx_data(&L, src + q, n, q))
                return -1;
            line_starting = src[after - 1] == '\n';
            lx_advance(&L, after);
            continue;
        }
        if (!lx_push(&L, type == '{' ? T_VBEGIN : T_BBEGIN, tag))
            return lx_error(&L, tag, "out of memory");
        lx_advance(&L, body);
        if (lx_inside(&L, type, &line_starting))
            return -1;
    }
    token *t = lx_push(&L, T_EOF, L.len);
    if (!t)
        return lx_error(&L, L.len, "out of memory");
    *out = L.t;
    *ntok = L.n;
    return 0;
}
