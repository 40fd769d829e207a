/*
 * strbuf.h — the one growable string of anemone.
 *
 * Always NUL-terminated (buf is "" when empty, never NULL after init). Appends report
 * allocation failure by returning -1 and leave the contents as they were.
 * The owner frees with an_sb_free.
 */
#ifndef AN_STRBUF_H
#define AN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct an_strbuf {
    char *buf;
    size_t len;
    size_t cap; /* 0 while buf points at the shared empty string */
} an_strbuf;

void an_sb_init(an_strbuf *sb);
void an_sb_free(an_strbuf *sb);
void an_sb_clear(an_strbuf *sb); /* len = 0, keeps the capacity */
int an_sb_reserve(an_strbuf *sb, size_t extra);
int an_sb_append(an_strbuf *sb, const char *s, size_t n);
int an_sb_puts(an_strbuf *sb, const char *s);
int an_sb_putc(an_strbuf *sb, char c);
int an_sb_appendf(an_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int an_sb_vappendf(an_strbuf *sb, const char *fmt, va_list ap);
/* Take ownership of the heap string (malloc'd, caller frees); sb is reset. */
char *an_sb_steal(an_strbuf *sb);

#endif
