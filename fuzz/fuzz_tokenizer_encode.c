/*
 * fuzz_tokenizer_encode — encode arbitrary bytes with the committed tokenizers (the
 * feature tokenizers of tests/tokenizer/features and the test-model tokenizers), decode
 * the ids, and require the streaming detokenizer to agree with the one-shot decode.
 * Run from the repository root (or set ANEMONE_ROOT). The first input byte picks the
 * tokenizer and add_special; the rest is the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static tok_tokenizer *toks[16];
static size_t n_toks;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *root = getenv("ANEMONE_ROOT");
    static const char *paths[] = {
        "tests/tokenizer/features/bytelevel", "tests/tokenizer/features/metaspace",
        "tests/tokenizer/features/affixes",   "tests/tokenizer/features/splits",
        "tests/tokenizer/features/whitespace", "tests/tokenizer/features/bert",
        "tests/fixtures/qwen3-fp16-c1",       "tests/fixtures/llama-fp16-c1",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s%s", root ? root : "", root ? "/" : "", paths[i]);
        an_error err;
        tok_tokenizer *t = tok_load(p, &err);
        if (t)
            toks[n_toks++] = t;
        else
            fprintf(stderr, "fuzz_tokenizer_encode: %s\n", err.msg);
    }
    if (!n_toks) {
        fprintf(stderr, "fuzz_tokenizer_encode: no tokenizer loaded (run from the repository root)\n");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    tok_tokenizer *tok = toks[data[0] % n_toks];
    int add_special = data[0] >> 7;
    an_error err;
    int32_t *ids;
    size_t n;
    if (tok_encode(tok, (const char *)data + 1, size - 1, add_special, &ids, &n, &err))
        return 0;
    an_strbuf one, streamed;
    an_sb_init(&one);
    an_sb_init(&streamed);
    int skip = (data[0] >> 6) & 1;
    tok_decode(tok, ids, n, skip, &one, &err);
    tok_stream *st = tok_stream_new(tok, skip);
    if (st) {
        for (size_t k = 0; k < n; k++)
            tok_stream_push(st, ids[k], &streamed, &err);
        tok_stream_flush(st, &streamed, &err);
        tok_stream_free(st);
        if (streamed.len != one.len || memcmp(streamed.buf, one.buf, one.len) != 0) {
            fprintf(stderr, "stream \"%s\" != decode \"%s\"\n", streamed.buf, one.buf);
            abort();
        }
    }
    an_sb_free(&one);
    an_sb_free(&streamed);
    free(ids);
    return 0;
}
