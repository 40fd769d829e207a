/*
 * test_tokenizer.c — the tokenizer API beyond conformance: loading from the ways a
 * model names its tokenizer, bad input, special-token lookups, invalid UTF-8, streaming.
 * Expected ids here come from Hugging Face tokenizers (quoted where used), never from the
 * code under test.
 */
#include <unistd.h>

#include "common/file.h"
#include "test.h"
#include "tokenizer/tokenizer.h"

#define FEAT "tests/tokenizer/features/"
#define FIX_QWEN "tests/fixtures/qwen3-fp16-c1"
#define FIX_LLAMA "tests/fixtures/llama-fp16-c1"

static tok_tokenizer *load_json(const char *json, an_error *err)
{
    an_error_clear(err);
    return tok_load_json_buffer(json, strlen(json), "test.json", err);
}

/* A minimal valid tokenizer.json with a component spliced in. */
static char *with_component(const char *key, const char *value)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"version\":\"1.0\",\"added_tokens\":[],\"%s\":%s,"
             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},"
             "\"merges\":[\"a b\"]}}",
             key, value);
    return buf;
}

TEST(minimal_bpe)
{
    an_error err;
    const char *json = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"c\":3},"
                       "\"merges\":[[\"a\",\"b\"]]}}";
    tok_tokenizer *t = load_json(json, &err);
    REQUIRE(t);
    int32_t *ids;
    size_t n;
    /* no pre-tokenizer: the whole text is one word; "c" known, "x" dropped (no unk) */
    REQUIRE(tok_encode(t, "abxc", 4, 1, &ids, &n, &err) == 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ids[0], 2);
    CHECK_EQ_INT(ids[1], 3);
    free(ids);
    CHECK_EQ_INT(tok_vocab_size(t), 4);
    CHECK_EQ_STR(tok_id_to_token(t, 2), "ab");
    CHECK_EQ_INT(tok_token_to_id(t, "c"), 3);
    CHECK_EQ_INT(tok_token_to_id(t, "zz"), -1);
    CHECK(tok_id_to_token(t, 99) == NULL);
    /* no decoder: tokens joined with spaces; unknown ids dropped */
    an_strbuf sb;
    an_sb_init(&sb);
    int32_t dec[] = {2, 99, 3, -5};
    REQUIRE(tok_decode(t, dec, 4, 0, &sb, &err) == 0);
    CHECK_EQ_STR(sb.buf, "ab c");
    an_sb_free(&sb);
    tok_free(t);
}

TEST(malformed_json)
{
    an_error err;
    static const char *bad[] = {
        "", "{", "[]", "{\"model\": 3}", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a z\"]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}} trailing",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\\ud800\":0},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":99999999},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":[{\"id\":1}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tok_tokenizer *t = load_json(bad[i], &err);
        if (t) {
            T_FAIL("case %zu loaded: %s", i, bad[i]);
            tok_free(t);
        } else if (!strstr(err.msg, "test.json"))
            T_FAIL("case %zu: the error does not name the file: %.300s", i, err.msg);
    }
}

TEST(unknown_components_are_named)
{
    an_error err;
    struct { const char *key, *value, *name; } cases[] = {
        {"normalizer", "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"\"}", "Precompiled"},
        {"pre_tokenizer", "{\"type\":\"UnicodeScripts\"}", "UnicodeScripts"},
        {"decoder", "{\"type\":\"WordPiece\"}", "WordPiece"},
        {"post_processor", "{\"type\":\"Frobnicate\"}", "Frobnicate"},
        {"pre_tokenizer", "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Nope\"}]}", "Nope"},
        {"pre_tokenizer", "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}", "regex"},
        {"pre_tokenizer", "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Sideways\"}", "Sideways"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tok_tokenizer *t = load_json(with_component(cases[i].key, cases[i].value), &err);
        if (t) {
            T_FAIL("case %zu loaded", i);
            tok_free(t);
        } else if (!strstr(err.msg, cases[i].name))
            T_FAIL("case %zu: error does not name '%s': %.300s", i, cases[i].name, err.msg);
    }
    tok_tokenizer *t = load_json("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", &err);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "Unigram") != NULL);
    tok_free(t);
}

TEST(load_paths)
{
    if (!an_is_dir(FIX_QWEN))
        SKIP("%s is missing", FIX_QWEN);
    an_error err;
    const char *paths[] = {FIX_QWEN, FIX_QWEN "/meta.yaml", FIX_QWEN "/tokenizer.json"};
    for (size_t i = 0; i < 3; i++) {
        an_error_clear(&err);
        tok_tokenizer *t = tok_load(paths[i], &err);
        if (!t) {
            T_FAIL("%s: %.300s", paths[i], err.msg);
            continue;
        }
        /* tokenizer_config.json beside it names the specials */
        CHECK_EQ_STR(tok_eos_token(t), "<|im_end|>");
        CHECK(tok_eos_id(t) >= 0);
        CHECK(tok_is_special(t, tok_eos_id(t)));
        CHECK_EQ_STR(tok_dir(t), FIX_QWEN);
        tok_free(t);
    }
    CHECK(tok_load("tests/tokenizer/no-such-dir", &err) == NULL);
    CHECK(strstr(err.msg, "no-such-dir") != NULL);
    CHECK(tok_load("tests/tokenizer", &err) == NULL); /* a directory without tokenizer files */
    CHECK(strstr(err.msg, "tokenizer.json") != NULL);
}

TEST(sentencepiece_model)
{
    if (!an_is_dir(FIX_LLAMA))
        SKIP("%s is missing", FIX_LLAMA);
    an_error err;
    an_error_clear(&err);
    tok_tokenizer *t = tok_load(FIX_LLAMA, &err);
    REQUIRE(t);
    CHECK_EQ_STR(tok_bos_token(t), "<|begin_of_text|>");
    CHECK_EQ_STR(tok_eos_token(t), "<|eot_id|>");
    CHECK_EQ_INT(tok_bos_id(t), 1);
    CHECK(tok_is_special(t, 1));
    int32_t *ids;
    size_t n;
    REQUIRE(tok_encode(t, "Hello", 5, 1, &ids, &n, &err) == 0);
    REQUIRE(n >= 2);
    CHECK_EQ_INT(ids[0], 1); /* BOS with add_special */
    an_strbuf sb;
    an_sb_init(&sb);
    REQUIRE(tok_decode(t, ids, n, 1, &sb, &err) == 0);
    CHECK_EQ_STR(sb.buf, "Hello");
    an_sb_free(&sb);
    free(ids);
    tok_free(t);
    CHECK(tok_load(FIX_LLAMA "/tokenizer_config.json.model", &err) == NULL);
}

TEST(invalid_utf8_is_replaced)
{
    if (!an_is_dir(FIX_QWEN))
        SKIP("%s is missing", FIX_QWEN);
    an_error err;
    tok_tokenizer *t = tok_load(FIX_QWEN, &err);
    REQUIRE(t);
    /* "\xff" and "\xe2\x82" must encode as U+FFFD each (maximal subparts), like "\uFFFD" */
    int32_t *a, *b;
    size_t na, nb;
    REQUIRE(tok_encode(t, "x\xffy\xe2\x82z", 6, 0, &a, &na, &err) == 0);
    const char *good = "x\xEF\xBF\xBDy\xEF\xBF\xBDz";
    REQUIRE(tok_encode(t, good, strlen(good), 0, &b, &nb, &err) == 0);
    CHECK_EQ_INT(na, nb);
    CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0);
    free(a);
    free(b);
    /* empty input: no ids */
    REQUIRE(tok_encode(t, "", 0, 1, &a, &na, &err) == 0);
    CHECK_EQ_INT(na, 0);
    free(a);
    tok_free(t);
}

TEST(stream_holds_partial_characters)
{
    if (!an_is_dir(FIX_QWEN))
        SKIP("%s is missing", FIX_QWEN);
    an_error err;
    tok_tokenizer *t = tok_load(FIX_QWEN, &err);
    REQUIRE(t);
    /* "€" is three byte-level tokens in this tiny vocabulary: nothing shows until the third */
    int32_t ids[3];
    const char *bytes[] = {"\xC3\xA2", "\xC4\xA4", "\xC2\xAC"}; /* GPT-2 chars of E2 82 AC */
    for (int i = 0; i < 3; i++)
        ids[i] = tok_token_to_id(t, bytes[i]);
    REQUIRE(ids[0] >= 0 && ids[1] >= 0 && ids[2] >= 0);
    tok_stream *st = tok_stream_new(t, 0);
    REQUIRE(st);
    an_strbuf out;
    an_sb_init(&out);
    REQUIRE(tok_stream_push(st, ids[0], &out, &err) == 0);
    CHECK_EQ_INT(out.len, 0);
    REQUIRE(tok_stream_push(st, ids[1], &out, &err) == 0);
    CHECK_EQ_INT(out.len, 0);
    REQUIRE(tok_stream_push(st, ids[2], &out, &err) == 0);
    CHECK_EQ_STR(out.buf, "\xE2\x82\xAC");
    /* an incomplete character at the end comes out (as U+FFFD) at the flush */
    REQUIRE(tok_stream_push(st, ids[0], &out, &err) == 0);
    CHECK_EQ_STR(out.buf, "\xE2\x82\xAC");
    REQUIRE(tok_stream_flush(st, &out, &err) == 0);
    CHECK_EQ_STR(out.buf, "\xE2\x82\xAC\xEF\xBF\xBD");
    tok_stream_free(st);
    an_sb_free(&out);
    tok_free(t);
}

/* Found by fuzz_tokenizer_encode: a long run of skipped <unk> ids before any text showed
 * made the stream forget a space the Strip decoder had taken off the start. */
TEST(stream_long_invisible_start)
{
    an_error err;
    an_error_clear(&err);
    tok_tokenizer *t = tok_load(FEAT "splits", &err);
    REQUIRE(t);
    char text[96];
    size_t n = 0;
    memcpy(text, "7 <", 3);
    n = 3;
    while (n < 83)
        text[n++] = (char)0x80; /* each one an unknown U+FFFD */
    memcpy(text + n, "\xe6 \xb3:", 5);
    n += 5;
    int32_t *ids;
    size_t nid;
    REQUIRE(tok_encode(t, text, n, 1, &ids, &nid, &err) == 0);
    an_strbuf one, streamed;
    an_sb_init(&one);
    an_sb_init(&streamed);
    REQUIRE(tok_decode(t, ids, nid, 1, &one, &err) == 0);
    tok_stream *st = tok_stream_new(t, 1);
    REQUIRE(st);
    for (size_t i = 0; i < nid; i++)
        CHECK(tok_stream_push(st, ids[i], &streamed, &err) == 0);
    CHECK(tok_stream_flush(st, &streamed, &err) == 0);
    CHECK_EQ_STR(streamed.buf, one.buf);
    tok_stream_free(st);
    an_sb_free(&one);
    an_sb_free(&streamed);
    free(ids);
    tok_free(t);
}

int main(void)
{
    /* paths in this test are relative to the repository root */
    if (access("tests/tokenizer", F_OK) != 0 && chdir("../..") != 0)
        return 1;
    RUN(minimal_bpe);
    RUN(malformed_json);
    RUN(unknown_components_are_named);
    RUN(load_paths);
    RUN(sentencepiece_model);
    RUN(invalid_utf8_is_replaced);
    RUN(stream_holds_partial_characters);
    RUN(stream_long_invisible_start);
    return t_finish();
}
