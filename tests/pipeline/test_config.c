/* test_config.c — config.json / generation_config.json / tokenizer_config.json. */
#include "test.h"

#include "common/file.h"
#include "pipeline/config.h"

static char *mkdir_tmp(void)
{
    char tmpl[] = "/tmp/anemone-cfg-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static void put(const char *dir, const char *name, const char *text)
{
    char *p = an_path_join(dir, name);
    an_error err;
    an_write_file_atomic(p, text, strlen(text), &err);
    free(p);
}

static void rmtree(char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "rm failed\n");
    free(dir);
}

TEST(all_three_files)
{
    char *d = mkdir_tmp();
    REQUIRE(d);
    put(d, "config.json", "{\"tokenizer_class\":\"Qwen2Tokenizer\",\"model_type\":\"qwen3\",\"eos_token_id\":151645}");
    put(d, "generation_config.json",
        "{\"bos_token_id\":151643,\"do_sample\":true,\"eos_token_id\":[151645,151643],"
        "\"temperature\":0.6,\"top_k\":20,\"top_p\":0.95,\"repetition_penalty\":1.05}");
    put(d, "tokenizer_config.json",
        "{\"eos_token\":{\"content\":\"<|im_end|>\",\"lstrip\":false},\"bos_token\":null}");
    an_error err;
    pipe_gen_config c;
    REQUIRE(pipe_gen_config_load(d, &c, &err) == 0);
    CHECK_EQ_STR(c.model_type, "qwen3");
    CHECK_EQ_STR(c.tokenizer_class, "Qwen2Tokenizer");
    CHECK_EQ_INT(c.n_eos_ids, 2);
    CHECK_EQ_INT(c.eos_ids[0], 151645);
    CHECK_EQ_INT(c.eos_ids[1], 151643);
    CHECK_EQ_INT(c.bos_id, 151643);
    CHECK_EQ_INT(c.do_sample, 1);
    CHECK_NEAR(c.temperature, 0.6, 1e-12);
    CHECK_EQ_INT(c.top_k, 20);
    CHECK_NEAR(c.top_p, 0.95, 1e-12);
    CHECK_NEAR(c.repetition_penalty, 1.05, 1e-12);
    CHECK(c.min_p < 0);
    CHECK_EQ_STR(c.eos_token, "<|im_end|>");
    CHECK(c.bos_token == NULL);
    pipe_gen_config_free(&c);
    rmtree(d);
}

TEST(missing_files_are_fine)
{
    char *d = mkdir_tmp();
    REQUIRE(d);
    an_error err;
    pipe_gen_config c;
    REQUIRE(pipe_gen_config_load(d, &c, &err) == 0);
    CHECK_EQ_INT(c.n_eos_ids, 0);
    CHECK_EQ_INT(c.bos_id, -1);
    CHECK(c.temperature < 0 && c.top_k < 0 && c.do_sample == -1);
    pipe_gen_config_free(&c);
    rmtree(d);
}

TEST(invalid_json_names_file_and_line)
{
    char *d = mkdir_tmp();
    REQUIRE(d);
    put(d, "generation_config.json", "{\n  \"temperature\": 0.6,\n  oops\n}");
    an_error err;
    pipe_gen_config c;
    CHECK(pipe_gen_config_load(d, &c, &err) == -1);
    CHECK(strstr(err.msg, "generation_config.json:3") != NULL);
    put(d, "generation_config.json", "[1,2]");
    CHECK(pipe_gen_config_load(d, &c, &err) == -1);
    CHECK(strstr(err.msg, "expected a JSON object") != NULL);
    rmtree(d);
}

TEST(eos_dedup_and_bound)
{
    pipe_gen_config c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 40; i++)
        pipe_gen_config_add_eos(&c, i % 20);
    CHECK_EQ_INT(c.n_eos_ids, PIPE_MAX_EOS);
    pipe_gen_config_add_eos(&c, -5);
    CHECK_EQ_INT(c.n_eos_ids, PIPE_MAX_EOS);
}

int main(void)
{
    RUN(all_three_files);
    RUN(missing_files_are_fine);
    RUN(invalid_json_names_file_and_line);
    RUN(eos_dedup_and_bound);
    return t_finish();
}
