/* think.c — see think.h. */
#include "think.h"

#include <string.h>

void cli_think_init(cli_think *f, int hide, int dim)
{
    memset(f, 0, sizeof *f);
    f->hide = hide;
    f->dim = dim;
    an_sb_init(&f->joined);
}

void cli_think_free(cli_think *f) { an_sb_free(&f->joined); }

/* Offset of the last occurrence of m in s[0..n), or -1. */
static long last_of(const char *s, size_t n, const char *m)
{
    size_t ml = strlen(m);
    for (size_t i = n >= ml ? n - ml + 1 : 0; i-- > 0;)
        if (!memcmp(s + i, m, ml))
            return (long)i;
    return -1;
}

int cli_think_open_at_end(const char *text, size_t n)
{
    long open = last_of(text, n, "<think>");
    return open >= 0 && open > last_of(text, n, "</think>");
}

/* Each piece inside a section is dimmed on its own, so output is never left dim. */
static void emit(FILE *out, const cli_think *f, const char *s, size_t n)
{
    if (!n || (f->in_think && f->hide))
        return;
    if (f->in_think && f->dim)
        fputs("\033[2m", out);
    fwrite(s, 1, n, out);
    if (f->in_think && f->dim)
        fputs("\033[0m", out);
}

void cli_think_feed(cli_think *f, FILE *out, const char *s, size_t n, int final)
{
    an_strbuf *joined = &f->joined;
    an_sb_clear(joined);
    an_sb_append(joined, f->pending, f->n_pending);
    an_sb_append(joined, s, n);
    f->n_pending = 0;
    const char *p = joined->buf, *end = joined->buf + joined->len;
    while (p < end) {
        const char *marker = f->in_think ? "</think>" : "<think>";
        size_t ml = strlen(marker);
        const char *hit = NULL;
        for (const char *q = p; q < end; q++) {
            if (*q != '<')
                continue;
            size_t avail = (size_t)(end - q);
            if (avail >= ml && !memcmp(q, marker, ml)) {
                hit = q;
                break;
            }
            if (avail < ml && !final && !memcmp(q, marker, avail)) { /* maybe split */
                emit(out, f, p, (size_t)(q - p));
                memcpy(f->pending, q, avail);
                f->n_pending = avail;
                return;
            }
        }
        if (!hit) {
            emit(out, f, p, (size_t)(end - p));
            break;
        }
        emit(out, f, p, (size_t)(hit - p));
        if (!f->in_think) {
            f->in_think = 1;
            emit(out, f, hit, ml);
        } else {
            emit(out, f, hit, ml);
            f->in_think = 0;
        }
        p = hit + ml;
    }
}

