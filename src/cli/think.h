/*
 * think.h — <think> … </think> sections in streamed text: shown, shown dimmed (ANSI),
 * or hidden. Markers may arrive split across chunks; a possible marker prefix at the end
 * of a chunk waits for the next one. One filter per answer; not thread-safe.
 */
#ifndef CLI_THINK_H
#define CLI_THINK_H

#include <stdio.h>

#include "common/strbuf.h"

typedef struct cli_think {
    int in_think, hide, dim;
    char pending[16];
    size_t n_pending;
    an_strbuf joined; /* pending + new text; reused from chunk to chunk */
} cli_think;

void cli_think_init(cli_think *f, int hide, int dim);
/* Write what can be written of s; final: no more text follows (flush what was held). */
void cli_think_feed(cli_think *f, FILE *out, const char *s, size_t n, int final);
void cli_think_free(cli_think *f);

/* 1 when text ends inside a section: its last "<think>" comes after its last "</think>".
 * Templates whose generation prompt opens the section (DeepSeek-R1's ends with
 * "<think>\n") make the answer start with thinking; set in_think from this before the
 * first feed. */
int cli_think_open_at_end(const char *text, size_t n);

#endif
