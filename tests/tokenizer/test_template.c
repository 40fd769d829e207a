/*
 * test_template.c — the template engine's contract beyond Jinja2 conformance (which
 * test_template_jinja.py and test_template_conformance.py check against Jinja2 itself):
 * error positions, bounds on runaway templates, raise_exception messages, the fallback
 * family detection, and finding the template in a model folder.
 */
#include "test.h"

#include "tokenizer/template.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Render src with vars (JSON text, may be NULL); returns 0/-1, output and error out. */
static int render(const char *src, const char *vars_json, const tpl_limits *lim, an_strbuf *out, an_error *err)
{
    an_error_clear(err);
    tpl_template *t = tpl_parse(src, strlen(src), "t", err);
    if (!t)
        return -1;
    json_object *vars = vars_json ? json_tokener_parse(vars_json) : NULL;
    int r = tpl_render(t, vars, lim, out, err);
    json_object_put(vars);
    tpl_free(t);
    return r;
}

static const char *render_str(const char *src, const char *vars, an_strbuf *out, an_error *err)
{
    an_sb_clear(out);
    return render(src, vars, NULL, out, err) == 0 ? out->buf : NULL;
}

TEST(syntax_error_line_and_column)
{
    an_error err;
    tpl_template *t = tpl_parse("a\nb {% if %}", strlen("a\nb {% if %}"), "t", &err);
    CHECK(t == NULL);
    CHECK(strncmp(err.msg, "t:2:9: ", 7) == 0);
    t = tpl_parse("x\n\n  {% frobnicate %}", strlen("x\n\n  {% frobnicate %}"), "chat", &err);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "chat:3:6: ") == err.msg);
    CHECK(strstr(err.msg, "unknown tag 'frobnicate'") != NULL);
    t = tpl_parse("{% for x in y %}\n{{ x }}", strlen("{% for x in y %}\n{{ x }}"), "t", &err);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "expected 'endfor'") != NULL);
    t = tpl_parse("{{ 'abc }}", strlen("{{ 'abc }}"), "t", &err);
    CHECK(t == NULL);
    CHECK(strncmp(err.msg, "t:1:4: ", 7) == 0);
    t = tpl_parse("ok {# open", strlen("ok {# open"), "t", &err);
    CHECK(t == NULL && strstr(err.msg, "comment") != NULL);
}

TEST(runtime_error_has_position)
{
    an_error err;
    an_strbuf out;
    an_sb_init(&out);
    CHECK(render_str("{{ 1 }}\n  {{ x.y }}", NULL, &out, &err) == NULL);
    CHECK(strncmp(err.msg, "t:2:", 4) == 0);
    CHECK(strstr(err.msg, "'x' is undefined") != NULL);
    CHECK(render_str("{{ 1 // 0 }}", NULL, &out, &err) == NULL);
    CHECK(strstr(err.msg, "division") != NULL);
    an_sb_free(&out);
}

TEST(raise_exception_message_verbatim)
{
    an_error err;
    an_strbuf out;
    an_sb_init(&out);
    CHECK(render_str("before{{ raise_exception('Roles must alternate user/assistant') }}", NULL, &out, &err) == NULL);
    CHECK_EQ_STR(err.msg, "Roles must alternate user/assistant");
    an_sb_free(&out);
}

TEST(bounds_output_steps_depth_memory)
{
    an_error err;
    an_strbuf out;
    an_sb_init(&out);
    tpl_limits lim = {.max_output = 1000};
    CHECK(render("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", NULL, &lim, &out, &err) != 0);
    CHECK(strstr(err.msg, "output too large") != NULL);
    CHECK(out.len <= 1000);

    tpl_limits steps = {.max_steps = 100000};
    an_sb_clear(&out);
    CHECK(render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", NULL, &steps,
                 &out, &err) != 0);
    CHECK(strstr(err.msg, "too long") != NULL);

    an_sb_clear(&out);
    CHECK(render("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", NULL, NULL, &out, &err) != 0);
    CHECK(strstr(err.msg, "recursion") != NULL);

    tpl_limits mem = {.max_memory = 16 << 20};
    an_sb_clear(&out);
    CHECK(render("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                 NULL, &mem, &out, &err) != 0);
    CHECK(strstr(err.msg, "memory") != NULL);
    an_sb_free(&out);
}

TEST(deep_nesting_is_an_error_not_a_crash)
{
    size_t n = 20000;
    char *src = malloc(2 * n + 16);
    REQUIRE(src);
    strcpy(src, "{{ ");
    size_t k = 3;
    for (size_t i = 0; i < n; i++)
        src[k++] = '(';
    src[k++] = '1';
    for (size_t i = 0; i < n; i++)
        src[k++] = ')';
    strcpy(src + k, " }}");
    an_error err;
    tpl_template *t = tpl_parse(src, strlen(src), "t", &err);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "nested too deeply") != NULL);
    free(src);
    /* a number literal longer than any buffer (found by the fuzzer) */
    char num[400] = "{{ ";
    memset(num + 3, '7', 300);
    strcpy(num + 303, ".5 }}");
    t = tpl_parse(num, strlen(num), "t", &err);
    CHECK(t == NULL && strstr(err.msg, "too long") != NULL);
    /* and a long flat template is fine */
    an_strbuf big;
    an_sb_init(&big);
    for (int i = 0; i < 5000; i++)
        an_sb_appendf(&big, "{%% if x %%}{{ %d }}{%% endif %%}", i);
    t = tpl_parse(big.buf, big.len, "t", &err);
    CHECK(t != NULL);
    tpl_free(t);
    an_sb_free(&big);
}

TEST(variables_and_undefined)
{
    an_error err;
    an_strbuf out;
    an_sb_init(&out);
    const char *r = render_str("{{ messages[0].content }}|{{ nothing }}|{{ tools is none }}",
                               "{\"messages\": [{\"role\": \"user\", \"content\": \"hé\"}], \"tools\": null}", &out, &err);
    CHECK(r && strcmp(r, "hé||True") == 0);
    an_sb_clear(&out);
    json_object *arr = json_tokener_parse("[1, 2]");
    tpl_template *t = tpl_parse("x", strlen("x"), "t", &err);
    CHECK(t && tpl_render(t, arr, NULL, &out, &err) != 0);
    tpl_free(t);
    json_object_put(arr);
    an_sb_free(&out);
}

TEST(detect_family)
{
    CHECK_EQ_STR(tpl_detect_family("<|im_start|>\n<|im_end|>"), "chatml");
    CHECK_EQ_STR(tpl_detect_family("<|im_start|><|im_sep|>"), "phi4");
    CHECK_EQ_STR(tpl_detect_family("<|start_header_id|> <|end_header_id|> <|eot_id|>"), "llama3");
    CHECK_EQ_STR(tpl_detect_family("<start_of_turn> <end_of_turn>"), "gemma");
    CHECK_EQ_STR(tpl_detect_family("[INST] [/INST]"), "llama2");
    CHECK_EQ_STR(tpl_detect_family("[INST] [SYSTEM_PROMPT]"), "mistral-v7");
    CHECK_EQ_STR(tpl_detect_family("[INST] [AVAILABLE_TOOLS]"), "mistral");
    CHECK_EQ_STR(tpl_detect_family("<|user|> <|assistant|> <|end|>"), "phi3");
    CHECK_EQ_STR(tpl_detect_family("<|user|> <|endoftext|>"), "zephyr");
    CHECK_EQ_STR(tpl_detect_family("<\xef\xbd\x9cUser\xef\xbd\x9c><\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"), "deepseek3");
    CHECK_EQ_STR(tpl_detect_family("<s> </s> <unk>"), "chatml");
}

TEST(builtins_parse_and_render)
{
    const char *vars = "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"U\"},"
                       " {\"role\": \"assistant\", \"content\": \"A\"}, {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"P\"}]}],"
                       " \"add_generation_prompt\": true}";
    for (const char *const *n = tpl_builtin_names(); *n; n++) {
        const char *src = tpl_builtin(*n);
        REQUIRE(src);
        an_error err;
        an_strbuf out;
        an_sb_init(&out);
        int r = render(src, vars, NULL, &out, &err);
        if (r)
            T_FAIL("builtin %s: %.200s", *n, err.msg);
        CHECK(strstr(out.buf, "U") && strstr(out.buf, "A") && strstr(out.buf, "P"));
        an_sb_free(&out);
    }
    CHECK(tpl_builtin("nope") == NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(chat_load_from_folder)
{
    char dir[] = "/tmp/anemone-tpl-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char p[512], pj[512];
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    snprintf(pj, sizeof pj, "%s/chat_template.jinja", dir);
    tpl_chat c;
    an_error err;

    CHECK(tpl_chat_load(dir, NULL, &c, &err) != 0); /* nothing there */

    write_file(p, "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<B>\"}, \"eos_token\": \"<E>\","
                  " \"chat_template\": [{\"name\": \"default\", \"template\": \"D\"}, {\"name\": \"tool_use\", \"template\": \"T\"}]}");
    REQUIRE(tpl_chat_load(dir, NULL, &c, &err) == 0);
    CHECK_EQ_STR(c.source, "D");
    CHECK_EQ_STR(c.bos_token, "<B>");
    CHECK_EQ_STR(c.eos_token, "<E>");
    CHECK(c.unk_token == NULL);
    tpl_chat_free(&c);
    REQUIRE(tpl_chat_load(dir, "tool_use", &c, &err) == 0);
    CHECK_EQ_STR(c.source, "T");
    tpl_chat_free(&c);
    REQUIRE(tpl_chat_load(dir, "llama3", &c, &err) == 0);
    CHECK(strstr(c.source, "<|start_header_id|>") != NULL);
    CHECK_EQ_STR(c.origin, "builtin:llama3");
    tpl_chat_free(&c);
    CHECK(tpl_chat_load(dir, "no-such-template", &c, &err) != 0);
    CHECK(strstr(err.msg, "no-such-template") != NULL);

    write_file(pj, "J");
    REQUIRE(tpl_chat_load(dir, NULL, &c, &err) == 0);
    CHECK_EQ_STR(c.source, "J"); /* chat_template.jinja wins, as in transformers */
    tpl_chat_free(&c);
    REQUIRE(tpl_chat_load(dir, pj, &c, &err) == 0); /* --chat-template FILE */
    CHECK_EQ_STR(c.source, "J");
    tpl_chat_free(&c);
    unlink(pj);

    write_file(p, "{\"bos_token\": \"<s>\", \"added_tokens_decoder\": {\"1\": {\"content\": \"<start_of_turn>\"},"
                  " \"2\": {\"content\": \"<end_of_turn>\"}}}");
    REQUIRE(tpl_chat_load(dir, NULL, &c, &err) == 0);
    CHECK_EQ_STR(c.origin, "builtin:gemma");
    tpl_chat_free(&c);
    write_file(p, "{\"eos_token\": \"</s>\"}");
    REQUIRE(tpl_chat_load(dir, NULL, &c, &err) == 0);
    CHECK_EQ_STR(c.origin, "builtin:chatml");
    tpl_chat_free(&c);
    write_file(p, "{not json");
    CHECK(tpl_chat_load(dir, NULL, &c, &err) != 0);
    CHECK(strstr(err.msg, "tokenizer_config.json") != NULL);
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    RUN(syntax_error_line_and_column);
    RUN(runtime_error_has_position);
    RUN(raise_exception_message_verbatim);
    RUN(bounds_output_steps_depth_memory);
    RUN(deep_nesting_is_an_error_not_a_crash);
    RUN(variables_and_undefined);
    RUN(detect_family);
    RUN(builtins_parse_and_render);
    RUN(chat_load_from_folder);
    return t_finish();
}
