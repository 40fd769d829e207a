/*
 * tool_tokcheck — check a tokenizer against reference encodings (a golden .jsonl written by
 * scripts/make-tokenizer-goldens, or the older {"text","add_special","ids","decoded"} form).
 *
 *   tool_tokcheck NAME TOKENIZER_PATH GOLDEN.jsonl
 *
 * Prints, for NAME: PASS/FAIL lines for encode, decode, decode with skip_special, and the
 * streaming detokenizer (its chunks concatenated must equal the one-shot decode and each
 * chunk must be valid UTF-8). The first mismatches are described on the following lines.
 * TOKCHECK_QUICK=1 (sanitizer builds): the stream check of inputs over 2000 ids covers
 * their first 2000 ids only.
 */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/strbuf.h"
#include "tokenizer/tokenizer.h"

enum { C_ENC, C_DEC, C_SKIP, C_STREAM, C_N };
static const char *check_name[C_N] = {"encode", "decode", "decode_skip_special", "stream"};
static long n_ok[C_N], n_bad[C_N];
static an_strbuf details[C_N];

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static int valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = u[i] < 0x80 ? 1 : (u[i] & 0xE0) == 0xC0 ? 2 : (u[i] & 0xF0) == 0xE0 ? 3
              : (u[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (!k || i + (size_t)k > n)
            return 0;
        for (int j = 1; j < k; j++)
            if ((u[i + j] & 0xC0) != 0x80)
                return 0;
        i += (size_t)k;
    }
    return 1;
}

static void note(int check, long line, const char *fmt, const char *a, const char *b)
{
    n_bad[check]++;
    if (n_bad[check] > 3)
        return;
    an_sb_appendf(&details[check], "    line %ld: ", line);
    an_sb_appendf(&details[check], fmt, a, b);
    an_sb_putc(&details[check], '\n');
}

static void ids_str(const int32_t *ids, size_t n, an_strbuf *sb, const char *sep, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++)
        an_sb_appendf(sb, i ? "%s%d" : "%.0s%d", sep, ids[i]);
    if (n > max)
        an_sb_puts(sb, ",...");
}

/* Compare text with the golden string field, or its _sha256 form. */
static void check_text(int check, long line, json_object *rec, const char *key,
                       const an_strbuf *got, const an_strbuf *text)
{
    json_object *v;
    char k2[64], hex[65];
    if (json_object_object_get_ex(rec, key, &v)) {
        /* true: the same as the input text */
        int same = json_object_is_type(v, json_type_boolean);
        const char *want = same ? text->buf : json_object_get_string(v);
        size_t wl = same ? text->len : (size_t)json_object_get_string_len(v);
        if (wl == got->len && !memcmp(want, got->buf, wl))
            n_ok[check]++;
        else
            note(check, line, "got \"%.120s\", want \"%.120s\"", got->buf, want);
        return;
    }
    snprintf(k2, sizeof k2, "%s_sha256", key);
    if (json_object_object_get_ex(rec, k2, &v)) {
        sha256_hex(got->buf, got->len, hex);
        if (!strcmp(hex, json_object_get_string(v)))
            n_ok[check]++;
        else
            note(check, line, "sha256 %s, want %s", hex, json_object_get_string(v));
    }
}

static int get_text(json_object *rec, an_strbuf *text)
{
    json_object *v;
    if (json_object_object_get_ex(rec, "text", &v))
        return an_sb_append(text, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    if (json_object_object_get_ex(rec, "text_hex", &v)) {
        const char *h = json_object_get_string(v);
        for (size_t i = 0; h[i] && h[i + 1]; i += 2) {
            unsigned x;
            if (sscanf(h + i, "%2x", &x) != 1)
                return -1;
            an_sb_putc(text, (char)x);
        }
        return 0;
    }
    if (json_object_object_get_ex(rec, "text_repeat", &v) && json_object_array_length(v) == 2) {
        json_object *c = json_object_array_get_idx(v, 0);
        int64_t cnt = json_object_get_int64(json_object_array_get_idx(v, 1));
        for (int64_t i = 0; i < cnt; i++)
            an_sb_append(text, json_object_get_string(c), (size_t)json_object_get_string_len(c));
        return 0;
    }
    return -1;
}

static void check_case(tok_tokenizer *tok, json_object *rec, long line)
{
    an_strbuf text, sb, got;
    an_sb_init(&text);
    an_sb_init(&sb);
    an_sb_init(&got);
    an_error err;
    an_error_clear(&err);
    json_object *v;
    if (get_text(rec, &text)) {
        note(C_ENC, line, "%s%s", "no text in the record", "");
        goto out;
    }
    int add_special = json_object_object_get_ex(rec, "add_special", &v) && json_object_get_boolean(v);
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(tok, text.buf, text.len, add_special, &ids, &n, &err)) {
        note(C_ENC, line, "encode failed: %s%s", err.msg, "");
        goto out;
    }
    /* the golden ids: decode checks use them, so a wrong encode does not hide decode bugs */
    int32_t *want = NULL;
    size_t wn = 0;
    if (json_object_object_get_ex(rec, "ids", &v)) {
        wn = json_object_array_length(v);
        want = malloc((wn ? wn : 1) * sizeof *want);
        for (size_t i = 0; i < wn; i++)
            want[i] = (int32_t)json_object_get_int64(json_object_array_get_idx(v, i));
        if (wn == n && (n == 0 || !memcmp(ids, want, n * sizeof *ids)))
            n_ok[C_ENC]++;
        else {
            an_strbuf a, b;
            an_sb_init(&a);
            an_sb_init(&b);
            ids_str(ids, n, &a, ",", 40);
            ids_str(want, wn, &b, ",", 40);
            an_strbuf msg;
            an_sb_init(&msg);
            an_sb_appendf(&msg, "text \"%.80s\" add_special=%d: got [%s]", text.buf, add_special, a.buf);
            note(C_ENC, line, "%s, want [%s]", msg.buf, b.buf);
            an_sb_free(&a);
            an_sb_free(&b);
            an_sb_free(&msg);
        }
    } else if (json_object_object_get_ex(rec, "ids_sha256", &v)) {
        ids_str(ids, n, &sb, ",", (size_t)-1);
        char hex[65];
        sha256_hex(sb.buf, sb.len, hex);
        if (!strcmp(hex, json_object_get_string(v)))
            n_ok[C_ENC]++;
        else
            note(C_ENC, line, "long input: ids sha256 %s, want %s", hex, json_object_get_string(v));
        want = ids; /* decode checks below use our ids: they only run when encode agreed */
        wn = n;
        ids = NULL;
    }
    free(ids);
    an_sb_clear(&got);
    if (tok_decode(tok, want, wn, 0, &got, &err) == 0)
        check_text(C_DEC, line, rec, "decoded", &got, &text);
    an_sb_clear(&got);
    if (tok_decode(tok, want, wn, 1, &got, &err) == 0)
        check_text(C_SKIP, line, rec, "decoded_skip", &got, &text);
    /* streaming: one id at a time, every chunk whole UTF-8, the total equals decode
     * (with and without special tokens) */
    int stream_ok = 1, chunks_ok = 1;
    const char *quick = getenv("TOKCHECK_QUICK");
    if (quick && *quick == '1' && wn > 2000)
        wn = 2000;
    an_strbuf one, all;
    an_sb_init(&one);
    an_sb_init(&all);
    for (int skip = 0; skip < 2 && stream_ok && chunks_ok; skip++) {
        an_sb_clear(&one);
        an_sb_clear(&all);
        tok_decode(tok, want, wn, skip, &one, &err);
        tok_stream *st = tok_stream_new(tok, skip);
        for (size_t i = 0; i <= wn && st; i++) {
            an_strbuf chunk;
            an_sb_init(&chunk);
            if (i < wn)
                tok_stream_push(st, want[i], &chunk, &err);
            else
                tok_stream_flush(st, &chunk, &err);
            if (!valid_utf8(chunk.buf, chunk.len))
                chunks_ok = 0;
            an_sb_append(&all, chunk.buf, chunk.len);
            an_sb_free(&chunk);
        }
        tok_stream_free(st);
        stream_ok = st && all.len == one.len && !memcmp(all.buf, one.buf, one.len);
    }
    if (chunks_ok && stream_ok)
        n_ok[C_STREAM]++;
    else
        note(C_STREAM, line, chunks_ok ? "stream gave \"%.120s\", decode \"%.120s\""
                                       : "a chunk was not whole UTF-8 (\"%.120s\" / \"%.120s\")",
             all.buf, one.buf);
    an_sb_free(&one);
    an_sb_free(&all);
    free(want);
out:
    an_sb_free(&text);
    an_sb_free(&sb);
    an_sb_free(&got);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tool_tokcheck NAME TOKENIZER_PATH GOLDEN.jsonl\n");
        return 2;
    }
    const char *name = argv[1];
    an_error err;
    an_error_clear(&err);
    tok_tokenizer *tok = tok_load(argv[2], &err);
    if (!tok) {
        printf("FAIL %s load: %s\n", name, err.msg);
        return 1;
    }
    FILE *fp = fopen(argv[3], "r");
    if (!fp) {
        printf("FAIL %s: cannot open %s\n", name, argv[3]);
        tok_free(tok);
        return 1;
    }
    for (int c = 0; c < C_N; c++)
        an_sb_init(&details[c]);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    while ((len = getline(&line, &cap, fp)) > 0) {
        lineno++;
        json_object *rec = json_tokener_parse(line);
        if (!rec) {
            note(C_ENC, lineno, "%s%s", "not JSON", "");
            continue;
        }
        check_case(tok, rec, lineno);
        json_object_put(rec);
    }
    free(line);
    fclose(fp);
    tok_free(tok);
    int failed = 0;
    for (int c = 0; c < C_N; c++) {
        if (n_bad[c]) {
            failed = 1;
            printf("FAIL %s %s: %ld of %ld cases differ from Hugging Face tokenizers\n%s", name,
                   check_name[c], n_bad[c], n_bad[c] + n_ok[c], details[c].buf);
        } else if (n_ok[c])
            printf("PASS %s %s (%ld cases)\n", name, check_name[c], n_ok[c]);
        an_sb_free(&details[c]);
    }
    return failed;
}
