/* strbuf.c — see strbuf.h. */
#include "strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty[1];

void an_sb_init(an_strbuf *sb)
{
    sb->buf = empty;
    sb->len = 0;
    sb->cap = 0;
}

void an_sb_free(an_strbuf *sb)
{
    if (sb->cap)
        free(sb->buf);
    an_sb_init(sb);
}

void an_sb_clear(an_strbuf *sb)
{
    sb->len = 0;
    if (sb->cap)
        sb->buf[0] = '\0';
}

int an_sb_reserve(an_strbuf *sb, size_t extra)
{
    if (extra > SIZE_MAX - sb->len - 1)
        return -1;
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(sb->cap ? sb->buf : NULL, cap);
    if (!p)
        return -1;
    if (!sb->cap)
        p[0] = '\0';
    sb->buf = p;
    sb->cap = cap;
    return 0;
}

int an_sb_append(an_strbuf *sb, const char *s, size_t n)
{
    if (an_sb_reserve(sb, n) < 0)
        return -1;
    if (n)
        memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
    return 0;
}

int an_sb_puts(an_strbuf *sb, const char *s) { return an_sb_append(sb, s, strlen(s)); }

int an_sb_putc(an_strbuf *sb, char c) { return an_sb_append(sb, &c, 1); }

int an_sb_vappendf(an_strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || an_sb_reserve(sb, (size_t)n) < 0)
        return -1;
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
    return 0;
}

int an_sb_appendf(an_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = an_sb_vappendf(sb, fmt, ap);
    va_end(ap);
    return r;
}

char *an_sb_steal(an_strbuf *sb)
{
    char *s = sb->cap ? sb->buf : calloc(1, 1);
    an_sb_init(sb);
    return s;
}
