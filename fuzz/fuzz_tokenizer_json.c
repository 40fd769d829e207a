/*
 * fuzz_tokenizer_json — the tokenizer.json loader (json-c + tok_jscan + component
 * parsing), then encode/decode/stream with whatever loaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    an_error err;
    tok_tokenizer *tok = tok_load_json_buffer((const char *)data, size, "fuzz.json", &err);
    if (!tok)
        return 0;
    static const char *texts[] = {"Hello, world! 123 <s></s> ", "  \t\n\xC3\xA9\xE2\x82", ""};
    for (size_t i = 0; i < 3; i++) {
        int32_t *ids;
        size_t n;
        if (tok_encode(tok, texts[i], strlen(texts[i]), (int)(i & 1), &ids, &n, &err))
            continue;
        an_strbuf sb;
        an_sb_init(&sb);
        tok_decode(tok, ids, n, 0, &sb, &err);
        tok_stream *st = tok_stream_new(tok, 1);
        for (size_t k = 0; k < n && st; k++)
            tok_stream_push(st, ids[k], &sb, &err);
        if (st)
            tok_stream_flush(st, &sb, &err);
        tok_stream_free(st);
        an_sb_free(&sb);
        free(ids);
    }
    /* ids the model never produced: any value must be safe to decode */
    int32_t odd[] = {0, 1, 2, 3, 255, 256, -1, 1 << 20};
    an_strbuf sb;
    an_sb_init(&sb);
    tok_decode(tok, odd, sizeof odd / sizeof odd[0], 0, &sb, &err);
    an_sb_free(&sb);
    tok_free(tok);
    return 0;
}
