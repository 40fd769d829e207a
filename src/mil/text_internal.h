/*
 * text_internal.h — the model.mil reader's state and lexer (text.c, text_lit.c);
 * internal to src/mil. Positions are pointers into the NUL-terminated text; line and
 * column are computed only when needed (where()).
 */
#ifndef MIL_TEXT_INTERNAL_H
#define MIL_TEXT_INTERNAL_H

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mil/build.h"
#include "mil/litpack.h"

#define MAX_DEPTH 32

typedef struct tp {
    const char *s, *p, *end;
    const char *fname;
    const char *pos_at; /* line/col cache: position and its line number */
    int pos_line;
    const char *pos_line_start;
    mil_program *prog;
    an_arena *arena;
    an_error *err;
    mil_fbuild *fb; /* the function being read, NULL at program level */
    int depth;
    mil_litbuf lb;  /* element scratch for tensor literals */
    mil_binding *bind; int n_bind, cap_bind;
    mil_input *inp; int n_inp, cap_inp;
} tp;

static inline void where(tp *t, const char *at, int *line, int *col)
{
    if (at < t->pos_at) {
        t->pos_at = t->pos_line_start = t->s;
        t->pos_line = 1;
    }
    const char *q = t->pos_at;
    while (q < at) {
        const char *nl = memchr(q, '\n', (size_t)(at - q));
        if (!nl)
            break;
        t->pos_line++;
        t->pos_line_start = nl + 1;
        q = nl + 1;
    }
    t->pos_at = at;
    *line = t->pos_line;
    *col = (int)(at - t->pos_line_start) + 1;
}

__attribute__((format(printf, 3, 4))) static inline int perr(tp *t, const char *at, const char *fmt, ...)
{
    if (an_error_isset(t->err))
        return -1;
    int line, col;
    where(t, at, &line, &col);
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return an_errorf(t->err, "%s:%d:%d: %s", t->fname, line, col, msg);
}

static inline int oom(tp *t) { return perr(t, t->p, "out of memory"); }

static inline void ws(tp *t)
{
    const char *p = t->p;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    t->p = p;
}

static inline int peek(tp *t)
{
    ws(t);
    return (unsigned char)*t->p;
}

static inline int accept(tp *t, char c)
{
    ws(t);
    if (*t->p == c && t->p < t->end) {
        t->p++;
        return 1;
    }
    return 0;
}

static inline const char *show_here(tp *t, char *buf, size_t n)
{
    if (t->p >= t->end)
        return "end of file";
    size_t k = 0;
    const char *q = t->p;
    while (k + 1 < n && q < t->end && k < 16 && *q != '\n')
        buf[k++] = *q++;
    buf[k] = '\0';
    return buf;
}

static inline int expect(tp *t, char c)
{
    if (accept(t, c))
        return 0;
    char b[20];
    return perr(t, t->p, "expected '%c' but found '%s'", c, show_here(t, b, sizeof b));
}

static inline int is_id0(int c) { return isalpha(c) || c == '_'; }
static inline int is_id(int c) { return isalnum(c) || c == '_' || c == '.' || c == '@'; }

static inline int ident(tp *t, const char **w, size_t *n)
{
    ws(t);
    const char *p = t->p;
    if (p >= t->end || !is_id0((unsigned char)*p)) {
        char b[20];
        return perr(t, p, "expected a name but found '%s'", show_here(t, b, sizeof b));
    }
    while (is_id((unsigned char)*p))
        p++;
    *w = t->p;
    *n = (size_t)(p - t->p);
    t->p = p;
    return 0;
}

static inline int word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static inline int expect_word(tp *t, const char *lit)
{
    const char *at = (ws(t), t->p), *w;
    size_t n;
    if (ident(t, &w, &n))
        return -1;
    if (!word_is(w, n, lit))
        return perr(t, at, "expected '%s' but found '%.*s'", lit, (int)(n > 60 ? 60 : n), w);
    return 0;
}

/* A non-negative decimal integer with overflow check. */
static inline int uint_lit(tp *t, int64_t *out)
{
    ws(t);
    const char *p = t->p;
    if (!isdigit((unsigned char)*p))
        return perr(t, p, "expected a number");
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return perr(t, t->p, "number is too large");
        v = v * 10 + d;
        p++;
    }
    t->p = p;
    *out = v;
    return 0;
}

/* Types and typed literals (text_lit.c). The *_from forms continue after a word already
 * read (w, n at position at). */
int tx_parse_type(tp *t, mil_type *ty);
int tx_parse_type_from(tp *t, const char *w, size_t n, const char *at, mil_type *ty);
int tx_parse_typed(tp *t, mil_literal *out);
int tx_parse_typed_from(tp *t, const char *w, size_t n, const char *at, mil_literal *out);
/* `[name = typedlit, ...]` after the opening bracket; a string `name` goes to *name_out
 * when name_out is given. */
int tx_parse_attrs(tp *t, const mil_attr **attrs, int *n_attrs, const char **name_out);

#endif
