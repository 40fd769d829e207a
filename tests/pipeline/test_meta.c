/* test_meta.c — meta.yaml keys of every ANEMLL version, and component discovery. */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "pipeline/meta.h"

/* As written by ANEMLL 0.3.4's generate_meta_yaml.py (ANEMLL.md §1.2). */
static const char meta_034[] =
    "model_info:\n"
    "  name: anemll-Qwen3-0.6B-ctx512\n"
    "  version: 0.3.4\n"
    "  description: |\n"
    "    Demonstarates running Qwen3-0.6B on Apple Neural Engine\n"
    "    Context length: 512\n"
    "  license: MIT\n"
    "  author: Anemll\n"
    "  framework: Core ML\n"
    "  language: Python\n"
    "  architecture: qwen3\n"
    "  parameters:\n"
    "    context_length: 512\n"
    "    batch_size: 64\n"
    "    lut_embeddings: none\n"
    "    lut_ffn: 4\n"
    "    lut_lmhead: 6\n"
    "    num_chunks: 1\n"
    "    model_prefix: qwen\n"
    "    embeddings: qwen_embeddings.mlmodelc\n"
    "    lm_head: qwen_lm_head_lut6.mlmodelc\n"
    "    ffn: qwen_FFN_PF_lut4.mlmodelc\n"
    "    split_lm_head: 16\n";

static const char meta_035[] =
    "model_info:\n"
    "  name: anemll-llama-ctx1024\n"
    "  version: 0.3.5\n"
    "  architecture: llama\n"
    "  parameters:\n"
    "    context_length: 1024\n"
    "    state_length: 1024\n"
    "    batch_size: 64\n"
    "    lut_embeddings: none\n"
    "    lut_ffn: 4\n"
    "    lut_ffn_per_channel: 8\n"
    "    lut_lmhead: 6\n"
    "    num_chunks: 2\n"
    "    model_prefix: llama\n"
    "    embeddings: llama_embeddings.mlmodelc\n"
    "    lm_head: llama_lm_head_lut6.mlmodelc\n"
    "    ffn: llama_FFN_PF_lut4_chunk_01of02.mlmodelc\n"
    "    split_lm_head: 8\n"
    "    argmax_in_model: true\n"
    "    vocab_size: 128256\n"
    "    lm_head_chunk_sizes: [16032, 16032, 16032, 16032, 16032, 16032, 16032, 16032]\n"
    "    prefill_dynamic_slice: true\n"
    "    recommended_sampling:\n"
    "      do_sample: true\n"
    "      temperature: 0.6\n"
    "      top_p: 0.95\n"
    "      top_k: 20\n"
    "# Conversion parameters\n"
    "# anemll_version: 0.3.5\n";

static const char meta_012[] =
    "model_info:\n"
    "  name: anemll-Llama-3.2-1B\n"
    "  version: 0.1.2\n"
    "  parameters:\n"
    "    context_length: 512\n"
    "    batch_size: 64\n"
    "    lut_embeddings: 8\n"
    "    lut_ffn: 6\n"
    "    lut_lmhead: 6\n"
    "    num_chunks: 2\n"
    "    model_prefix: llama\n";

static const char meta_mono[] =
    "model_info:\n"
    "  model_type: monolithic\n"
    "  architecture: gemma3\n"
    "  parameters:\n"
    "    context_length: 512\n"
    "    batch_size: 64\n"
    "    lut_bits: 4\n"
    "    model_prefix: gemma3\n"
    "    monolithic_model: gemma3_monolithic_full_lut4.mlmodelc\n"
    "    split_lm_head: 16\n"
    "    argmax_in_model: true\n"
    "    functions: [infer, infer_rotate, prefill, prefill_rotate]\n";

TEST(keys_034)
{
    an_error err;
    pipe_meta *m = pipe_meta_parse(meta_034, sizeof meta_034 - 1, "meta.yaml", "/x", &err);
    REQUIRE(m);
    CHECK_EQ_STR(m->name, "anemll-Qwen3-0.6B-ctx512");
    CHECK_EQ_STR(m->architecture, "qwen3");
    CHECK_EQ_INT(m->context_length, 512);
    CHECK_EQ_INT(m->state_length, 512);
    CHECK_EQ_INT(m->batch_size, 64);
    CHECK_EQ_INT(m->lut_embeddings, PIPE_LUT_NONE);
    CHECK_EQ_INT(m->lut_ffn, 4);
    CHECK_EQ_INT(m->lut_lmhead, 6);
    CHECK_EQ_INT(m->num_chunks, 1);
    CHECK_EQ_STR(m->model_prefix, "qwen");
    CHECK_EQ_STR(m->ffn, "qwen_FFN_PF_lut4.mlmodelc");
    CHECK_EQ_INT(m->split_lm_head, 16);
    CHECK_EQ_INT(m->argmax_in_model, 0);
    CHECK(!m->sampling.present);
    CHECK(!m->monolithic);
    CHECK(m->anemll_version == NULL);
    pipe_meta_free(m);
}

TEST(keys_035)
{
    an_error err;
    pipe_meta *m = pipe_meta_parse(meta_035, sizeof meta_035 - 1, "meta.yaml", "/x", &err);
    REQUIRE(m);
    CHECK_EQ_INT(m->num_chunks, 2);
    CHECK_EQ_INT(m->argmax_in_model, 1);
    CHECK_EQ_INT(m->vocab_size, 128256);
    CHECK_EQ_INT(m->n_lm_head_chunk_sizes, 8);
    CHECK_EQ_INT(m->lm_head_chunk_sizes[7], 16032);
    CHECK_EQ_INT(m->lut_ffn_per_channel, 8);
    CHECK_EQ_INT(m->prefill_dynamic_slice, 1);
    CHECK_EQ_INT(m->update_mask_prefill, 0);
    CHECK(m->sampling.present);
    CHECK_EQ_INT(m->sampling.do_sample, 1);
    CHECK_NEAR(m->sampling.temperature, 0.6, 1e-12);
    CHECK_NEAR(m->sampling.top_p, 0.95, 1e-12);
    CHECK_EQ_INT(m->sampling.top_k, 20);
    CHECK_EQ_STR(m->anemll_version, "0.3.5");
    pipe_meta_free(m);
}

TEST(keys_012_defaults)
{
    an_error err;
    pipe_meta *m = pipe_meta_parse(meta_012, sizeof meta_012 - 1, "meta.yaml", "/x", &err);
    REQUIRE(m);
    CHECK_EQ_INT(m->split_lm_head, 8); /* default when absent */
    CHECK(m->embeddings == NULL && m->ffn == NULL && m->lm_head == NULL);
    CHECK_EQ_INT(m->lut_embeddings, 8);
    pipe_meta_free(m);
}

TEST(keys_monolithic)
{
    an_error err;
    pipe_meta *m = pipe_meta_parse(meta_mono, sizeof meta_mono - 1, "meta.yaml", "/x", &err);
    REQUIRE(m);
    CHECK(m->monolithic);
    CHECK_EQ_INT(m->lut_ffn, 4);
    CHECK_EQ_INT(m->n_functions, 4);
    CHECK_EQ_STR(m->functions[1], "infer_rotate");
    CHECK_EQ_STR(m->monolithic_model, "gemma3_monolithic_full_lut4.mlmodelc");
    pipe_meta_free(m);
}

static void expect_error(const char *yaml, const char *needle)
{
    an_error err;
    an_error_clear(&err);
    pipe_meta *m = pipe_meta_parse(yaml, strlen(yaml), "meta.yaml", "/x", &err);
    if (m) {
        T_FAIL("accepted: %s", yaml);
        pipe_meta_free(m);
        return;
    }
    if (!strstr(err.msg, needle))
        T_FAIL("error '%s' does not mention '%s'", err.msg, needle);
}

TEST(bad_documents)
{
    expect_error("model_info:\n  parameters:\n    context_length: big\n", "parameters.context_length is 'big'");
    expect_error("model_info:\n  parameters:\n    num_chunks: 0\n", "num_chunks");
    expect_error("model_info:\n  parameters:\n    argmax_in_model: maybe\n", "argmax_in_model");
    expect_error("model_info:\n  parameters:\n    lut_ffn: [4]\n", "lut_ffn");
    expect_error("hello: world\n", "model_info");
    expect_error("model_info: 3\n", "model_info");
    expect_error("model_info:\n  parameters: {\n", "meta.yaml:");       /* syntax error, with place */
    expect_error("a: &x 1\nb: *x\n", "not supported");                 /* aliases refused */
    expect_error("- 1\n- 2\n", "not a mapping");
    expect_error("model_info:\n  parameters:\n    lm_head_chunk_sizes: [1, -2]\n", "lm_head_chunk_sizes[1]");
}

/* Make dir/name as an empty directory (a stand-in .mlmodelc) or file. */
static void touch_component(const char *dir, const char *name, int is_dir)
{
    char *p = an_path_join(dir, name);
    if (is_dir)
        mkdir(p, 0755);
    else {
        FILE *fp = fopen(p, "w");
        if (fp)
            fclose(fp);
    }
    free(p);
}

static char *make_model_dir(const char *yaml)
{
    char tmpl[] = "/tmp/anemone-meta-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        return NULL;
    char *dir = strdup(d);
    char *p = an_path_join(dir, "meta.yaml");
    an_error err;
    an_write_file_atomic(p, yaml, strlen(yaml), &err);
    free(p);
    return dir;
}

static void remove_dir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(dir);
}

TEST(discover_034_single_chunk)
{
    char *dir = make_model_dir(meta_034);
    REQUIRE(dir);
    touch_component(dir, "qwen_embeddings.mlmodelc", 1);
    touch_component(dir, "qwen_lm_head_lut6.mlmodelc", 1);
    touch_component(dir, "qwen_FFN_PF_lut4_chunk_01of01.mlmodelc", 1); /* name without suffix absent */
    an_error err;
    pipe_meta *m = pipe_meta_load(dir, &err);
    REQUIRE(m);
    CHECK(pipe_meta_find_components(m, &err) == 0);
    CHECK_EQ_INT(m->n_chunks, 1);
    CHECK(m->chunk_files[0].path && strstr(m->chunk_files[0].path, "qwen_FFN_PF_lut4_chunk_01of01.mlmodelc"));
    CHECK(m->embeddings_file.path && strstr(m->embeddings_file.path, "qwen_embeddings.mlmodelc"));
    CHECK_EQ_INT(m->lm_head_file.form, PIPE_FORM_MLMODELC);
    pipe_meta_free(m);
    remove_dir(dir);
}

TEST(discover_rebuilt_names_and_forms)
{
    char *dir = make_model_dir(meta_012);
    REQUIRE(dir);
    touch_component(dir, "llama_embeddings.mlpackage", 1); /* no _lut8: the fallback finds it */
    touch_component(dir, "llama_lm_head_lut6.mlmodelc.zip", 0);
    touch_component(dir, "llama_FFN_PF_lut6_chunk_01of02.mlmodelc", 1);
    an_error err;
    pipe_meta *m = pipe_meta_load(dir, &err);
    REQUIRE(m);
    CHECK(pipe_meta_find_components(m, &err) == -1); /* chunk 2 is missing */
    CHECK(strstr(err.msg, "FFN chunk 2 of 2") != NULL);
    CHECK(strstr(err.msg, "llama_FFN_PF_lut6_chunk_02of02.mlmodelc") != NULL);
    pipe_meta_free(m);
    touch_component(dir, "llama_FFN_PF_lut6_chunk_02of02.mlmodelc", 1);
    m = pipe_meta_load(dir, &err);
    REQUIRE(m);
    CHECK(pipe_meta_find_components(m, &err) == 0);
    CHECK_EQ_INT(m->embeddings_file.form, PIPE_FORM_MLPACKAGE);
    CHECK_EQ_INT(m->lm_head_file.form, PIPE_FORM_ZIP);
    CHECK_EQ_INT(m->n_chunks, 2);
    CHECK(strstr(m->chunk_files[1].path, "_chunk_02of02.mlmodelc") != NULL);
    pipe_meta_free(m);
    remove_dir(dir);
}

TEST(discover_035_chunked_and_missing_head)
{
    char *dir = make_model_dir(meta_035);
    REQUIRE(dir);
    touch_component(dir, "llama_embeddings.mlmodelc", 1);
    touch_component(dir, "llama_FFN_PF_lut4_chunk_01of02.mlmodelc", 1);
    touch_component(dir, "llama_FFN_PF_lut4_chunk_02of02.mlmodelc", 1);
    an_error err;
    pipe_meta *m = pipe_meta_load(dir, &err);
    REQUIRE(m);
    CHECK(pipe_meta_find_components(m, &err) == -1);
    CHECK(strstr(err.msg, "LM head") && strstr(err.msg, "llama_lm_head_lut6.mlmodelc"));
    pipe_meta_free(m);
    touch_component(dir, "llama_lm_head_lut6.mlmodelc", 1);
    m = pipe_meta_load(dir, &err);
    REQUIRE(m);
    CHECK(pipe_meta_find_components(m, &err) == 0);
    CHECK_EQ_INT(m->n_chunks, 2);
    pipe_meta_free(m);
    remove_dir(dir);
}

TEST(discover_monolithic)
{
    char *dir = make_model_dir(meta_mono);
    REQUIRE(dir);
    an_error err;
    pipe_meta *m = pipe_meta_load(dir, &err);
    REQUIRE(m);
    CHECK(pipe_meta_find_components(m, &err) == -1);
    CHECK(strstr(err.msg, "monolithic") != NULL);
    pipe_meta_free(m);
    touch_component(dir, "gemma3_monolithic_full_lut4.mlmodelc", 1);
    m = pipe_meta_load(dir, &err);
    REQUIRE(m);
    CHECK(pipe_meta_find_components(m, &err) == 0);
    CHECK(strstr(m->monolithic_file.path, "gemma3_monolithic_full_lut4.mlmodelc") != NULL);
    pipe_meta_free(m);
    remove_dir(dir);
}

TEST(load_missing_file)
{
    an_error err;
    CHECK(pipe_meta_load("/nonexistent/dir/meta.yaml", &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent/dir/meta.yaml") != NULL);
}

int main(void)
{
    RUN(keys_034);
    RUN(keys_035);
    RUN(keys_012_defaults);
    RUN(keys_monolithic);
    RUN(bad_documents);
    RUN(discover_034_single_chunk);
    RUN(discover_rebuilt_names_and_forms);
    RUN(discover_035_chunked_and_missing_head);
    RUN(discover_monolithic);
    RUN(load_missing_file);
    return t_finish();
}
