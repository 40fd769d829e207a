/* test_pipeline.c — ANEMLL models end to end on every test-model fixture: greedy tokens
 * against the NumPy reference (tests/ref), batched vs token-by-token prefill, multi-turn
 * prefix reuse, and broken model directories. */
#include "test.h"

#include <dirent.h>
#include <signal.h>
#include <json-c/json.h>

#include "common/file.h"
#include "pipeline/runner.h"
#include "pipeline/session.h"

typedef struct run_case {
    char name[64];
    int n_prompt, n_new;
    int32_t prompt[256], greedy[256];
} run_case;

typedef struct fixture {
    char name[128];
    char dir[512];
    int update_mask;     /* manifest update_mask_prefill: prefill takes update_mask */
    int n_runs;
    run_case runs[16];
} fixture;

static fixture fixtures[32];
static int n_fixtures;

static int load_ids(json_object *arr, int32_t *out, int max)
{
    int n = 0;
    for (size_t i = 0; arr && i < json_object_array_length(arr) && n < max; i++)
        out[n++] = (int32_t)json_object_get_int(json_object_array_get_idx(arr, i));
    return n;
}

static void load_fixtures(void)
{
    DIR *d = opendir("tests/ref/goldens");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && n_fixtures < 32) {
        if (e->d_name[0] == '.')
            continue;
        char path[600];
        snprintf(path, sizeof path, "tests/ref/goldens/%s/manifest.json", e->d_name);
        json_object *m = json_object_from_file(path);
        if (!m)
            continue;
        fixture *f = &fixtures[n_fixtures];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", e->d_name);
        json_object *v, *runs;
        if (json_object_object_get_ex(m, "model_dir", &v))
            snprintf(f->dir, sizeof f->dir, "%s", json_object_get_string(v));
        if (json_object_object_get_ex(m, "update_mask_prefill", &v))
            f->update_mask = json_object_get_boolean(v);
        if (json_object_object_get_ex(m, "runs", &runs)) {
            for (size_t i = 0; i < json_object_array_length(runs) && f->n_runs < 16; i++) {
                json_object *r = json_object_array_get_idx(runs, i), *x;
                run_case *rc = &f->runs[f->n_runs++];
                if (json_object_object_get_ex(r, "name", &x))
                    snprintf(rc->name, sizeof rc->name, "%s", json_object_get_string(x));
                if (json_object_object_get_ex(r, "prompt_ids", &x))
                    rc->n_prompt = load_ids(x, rc->prompt, 256);
                if (json_object_object_get_ex(r, "greedy_ids", &x))
                    rc->n_new = load_ids(x, rc->greedy, 256);
            }
        }
        json_object_put(m);
        n_fixtures++;
    }
    closedir(d);
}

static int record(void *ctx, int32_t t)
{
    run_case *out = ctx;
    if (out->n_new < 256)
        out->greedy[out->n_new++] = t;
    return 0;
}

static int generate(pipe_session *s, const int32_t *prompt, int n, int n_new, run_case *out, an_error *err)
{
    pipe_gen_opts g = {.max_tokens = n_new, .ignore_eos = 1};
    out->n_new = 0;
    if (pipe_session_prompt(s, prompt, n, &g, err) != 0)
        return -1;
    pipe_stop_reason why;
    return pipe_session_generate(s, &g, record, out, &why, err);
}

static pipe_sampler_params greedy_params(void)
{
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    p.greedy = 1;
    return p;
}

/* Greedy decoding reproduces the reference tokens (>= 32 per prompt), with batched
 * prefill and again one token at a time. */
TEST(greedy_matches_reference)
{
    if (!n_fixtures)
        SKIP("no fixtures in tests/ref/goldens");
    long checked = 0, runs = 0;
    for (int single = 0; single <= 1; single++) {
        for (int k = 0; k < n_fixtures; k++) {
            fixture *f = &fixtures[k];
            an_error err;
            pipe_open_opts o = {.single_token_prefill = single};
            pipe_model *m = pipe_model_open(f->dir, &o, &err);
            if (!m) {
                T_FAIL("%s: %s", f->name, err.msg);
                continue;
            }
            pipe_sampler_params p = greedy_params();
            pipe_session *s = pipe_session_new(m, &p, &err);
            for (int r = 0; s && r < f->n_runs; r++) {
                run_case *rc = &f->runs[r], got;
                pipe_session_clear(s);
                if (generate(s, rc->prompt, rc->n_prompt, rc->n_new, &got, &err) < 0) {
                    T_FAIL("%s/%s: %s", f->name, rc->name, err.msg);
                    continue;
                }
                if (rc->n_new < 32)
                    T_FAIL("%s/%s: the reference has only %d tokens", f->name, rc->name, rc->n_new);
                runs++;
                for (int i = 0; i < rc->n_new; i++, checked++) {
                    if (got.greedy[i] != rc->greedy[i]) {
                        T_FAIL("%s/%s (%s prefill): token %d is %d, reference %d", f->name, rc->name,
                               single ? "single-token" : "batched", i, got.greedy[i], rc->greedy[i]);
                        break;
                    }
                }
            }
            pipe_session_free(s);
            pipe_model_close(m);
        }
    }
    printf("note: %ld reference tokens compared over %ld runs (%d fixtures, batched and single-token prefill)\n",
           checked, runs, n_fixtures);
    CHECK(runs >= 2 * n_fixtures);
}

/* A model whose prefill takes update_mask gets full batches only; the rest of the
 * prompt goes token by token through infer (ANEMLL 0.3.5), and the first generated
 * token is still the reference's. */
TEST(update_mask_prefill_full_batches)
{
    int seen = 0;
    for (int k = 0; k < n_fixtures; k++) {
        fixture *f = &fixtures[k];
        if (!f->update_mask)
            continue;
        seen++;
        an_error err;
        pipe_open_opts o = {0};
        pipe_model *m = pipe_model_open(f->dir, &o, &err);
        if (!m) {
            T_FAIL("%s: %s", f->name, err.msg);
            continue;
        }
        const pipe_model_info *in = pipe_model_get_info(m);
        float *logits = malloc((size_t)in->vocab * sizeof *logits);
        REQUIRE(logits != NULL);
        for (int r = 0; r < f->n_runs; r++) {
            run_case *rc = &f->runs[r];
            int n = rc->n_prompt - 1, B = in->batch;
            pipe_model_counters c0, c1;
            pipe_model_reset(m);
            pipe_model_get_counters(m, &c0);
            if (pipe_model_prefill(m, rc->prompt, 0, n, &err) < 0) {
                T_FAIL("%s/%s: %s", f->name, rc->name, err.msg);
                continue;
            }
            pipe_model_get_counters(m, &c1);
            CHECK_EQ_INT((int)(c1.prefill_batches - c0.prefill_batches), n / B);
            CHECK_EQ_INT((int)(c1.infer_calls - c0.infer_calls), n % B);
            CHECK_EQ_INT((int)(c1.prefill_tokens - c0.prefill_tokens), n);
            if (pipe_model_step(m, rc->prompt[n], n, logits, NULL, &err) < 0) {
                T_FAIL("%s/%s: %s", f->name, rc->name, err.msg);
                continue;
            }
            int best = 0;
            for (int i = 1; i < in->vocab; i++)
                if (logits[i] > logits[best])
                    best = i;
            CHECK_EQ_INT(best, rc->greedy[0]);
        }
        free(logits);
        pipe_model_close(m);
    }
    if (!seen)
        SKIP("no update_mask fixture in tests/ref/goldens");
}

/* A second turn reuses the first turn's KV: it prefills only its own tokens and gives
 * the same tokens as prefilling the whole history from scratch. */
/* A prompt remainder of under a quarter of a batch goes token by token through infer; a
 * longer one is one padded batch (models without update_mask). */
TEST(short_remainder_prefilled_token_by_token)
{
    if (!n_fixtures)
        SKIP("no fixtures in tests/ref/goldens");
    fixture *f = NULL;
    for (int k = 0; k < n_fixtures && !f; k++)
        if (!strstr(fixtures[k].name, "updmask") && !strstr(fixtures[k].name, "mono"))
            f = &fixtures[k];
    REQUIRE(f);
    an_error err;
    pipe_model *m = pipe_model_open(f->dir, NULL, &err);
    REQUIRE(m);
    int B = pipe_model_get_info(m)->batch;
    REQUIRE(B >= 4);
    int32_t ids[64] = {0};
    for (int i = 0; i < 64; i++)
        ids[i] = 10 + i;
    /* B + r tokens: r < B/4 → 1 batch and r infer calls; r >= B/4 → 2 batches */
    int rs[2] = {B / 4 - 1, B / 4};
    for (int i = 0; i < 2; i++) {
        int r = rs[i], n = B + r;
        REQUIRE(n <= pipe_model_get_info(m)->context);
        pipe_model_counters c0, c1;
        pipe_model_reset(m);
        pipe_model_get_counters(m, &c0);
        REQUIRE(pipe_model_prefill(m, ids, 0, n, &err) == 0);
        pipe_model_get_counters(m, &c1);
        int small = 4 * r < B;
        CHECK_EQ_INT((int)(c1.prefill_batches - c0.prefill_batches), small ? 1 : 2);
        CHECK_EQ_INT((int)(c1.infer_calls - c0.infer_calls), small ? r : 0);
        CHECK_EQ_INT((int)(c1.prefill_tokens - c0.prefill_tokens), n);
    }
    pipe_model_close(m);
}

TEST(two_turns_reuse_prefix)
{
    if (!n_fixtures)
        SKIP("no fixtures in tests/ref/goldens");
    fixture *f = &fixtures[0];
    an_error err;
    pipe_model *m = pipe_model_open(f->dir, NULL, &err);
    REQUIRE(m);
    pipe_sampler_params p = greedy_params();
    pipe_session *s = pipe_session_new(m, &p, &err);
    REQUIRE(s);
    run_case *rc = &f->runs[f->n_runs - 1], first, second, fresh;
    REQUIRE(generate(s, rc->prompt, rc->n_prompt, 8, &first, &err) == 0);
    /* turn 2: the history so far plus 5 new "user" tokens */
    int32_t hist[256];
    int n = 0;
    const int32_t *toks = pipe_session_tokens(s, &n);
    memcpy(hist, toks, (size_t)n * sizeof *hist);
    for (int i = 0; i < 5; i++)
        hist[n++] = (int32_t)(10 + i);
    REQUIRE(generate(s, hist, n, 8, &second, &err) == 0);
    const pipe_timing *t = pipe_session_timing(s);
    /* reused: everything but the last generated token of turn 1 (its KV was never written) */
    CHECK_EQ_INT(t->reused_tokens, n - 5 - 1);
    CHECK_EQ_INT(t->prefill_tokens, 6);
    pipe_session_clear(s);
    REQUIRE(generate(s, hist, n, 8, &fresh, &err) == 0);
    CHECK_EQ_INT(pipe_session_timing(s)->reused_tokens, 0);
    CHECK(memcmp(second.greedy, fresh.greedy, 8 * sizeof(int32_t)) == 0);
    pipe_session_free(s);
    pipe_model_close(m);
}

TEST(seeded_sampling_reproducible)
{
    if (!n_fixtures)
        SKIP("no fixtures in tests/ref/goldens");
    fixture *f = &fixtures[0];
    an_error err;
    pipe_model *m = pipe_model_open(f->dir, NULL, &err);
    REQUIRE(m);
    if (pipe_model_get_info(m)->argmax_head) {
        pipe_model_close(m);
        SKIP("argmax head");
    }
    run_case a, b;
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    p.temp = 1.5f;
    p.seed = 1234;
    for (int i = 0; i < 2; i++) {
        pipe_session *s = pipe_session_new(m, &p, &err);
        REQUIRE(s);
        REQUIRE(generate(s, f->runs[0].prompt, f->runs[0].n_prompt, 20, i ? &b : &a, &err) == 0);
        pipe_session_free(s);
    }
    CHECK(memcmp(a.greedy, b.greedy, 20 * sizeof(int32_t)) == 0);
    pipe_model_close(m);
}

typedef struct cancel_ctx {
    volatile sig_atomic_t *flag;
    int after, seen;
} cancel_ctx;

static int cancel_after(void *p, int32_t t)
{
    (void)t;
    cancel_ctx *c = p;
    if (++c->seen == c->after)
        *c->flag = 1;
    return 0;
}

/* The cancel flag stops generation between tokens and prefill between batches; the
 * history then holds exactly what was processed, and the next prompt carries on. */
TEST(cancellation_keeps_history_consistent)
{
    if (!n_fixtures)
        SKIP("no fixtures in tests/ref/goldens");
    an_error err;
    pipe_model *m = pipe_model_open(fixtures[0].dir, NULL, &err);
    REQUIRE(m);
    pipe_sampler_params p = greedy_params();
    pipe_session *s = pipe_session_new(m, &p, &err);
    REQUIRE(s);
    volatile sig_atomic_t flag = 0;
    int32_t prompt[40];
    for (int i = 0; i < 40; i++)
        prompt[i] = (int32_t)(20 + i);
    pipe_gen_opts g = {.max_tokens = 30, .ignore_eos = 1, .cancel = &flag};
    REQUIRE(pipe_session_prompt(s, prompt, 12, &g, &err) == 0);
    cancel_ctx c = {&flag, 5, 0};
    pipe_stop_reason why;
    REQUIRE(pipe_session_generate(s, &g, cancel_after, &c, &why, &err) == 0);
    CHECK_EQ_INT(why, PIPE_STOP_CANCELLED);
    int n;
    pipe_session_tokens(s, &n);
    CHECK_EQ_INT(n, 12 + 5); /* five tokens were produced before the flag was seen */
    /* a cancelled prefill: nothing beyond what was processed is claimed */
    flag = 1;
    CHECK_EQ_INT(pipe_session_prompt(s, prompt, 40, &g, &err), 1);
    pipe_session_tokens(s, &n);
    CHECK(n <= 40);
    /* and the next uncancelled prompt gives what a fresh session gives */
    flag = 0;
    run_case a, b;
    g.cancel = NULL;
    REQUIRE(generate(s, prompt, 40, 6, &a, &err) == 0);
    pipe_session_clear(s);
    REQUIRE(generate(s, prompt, 40, 6, &b, &err) == 0);
    CHECK(memcmp(a.greedy, b.greedy, 6 * sizeof(int32_t)) == 0);
    pipe_session_free(s);
    pipe_model_close(m);
}

/* Generation stops at an end-of-sequence id (not emitted), and --ignore-eos runs past it. */
TEST(stops_at_eos)
{
    if (!n_fixtures)
        SKIP("no fixtures in tests/ref/goldens");
    fixture *f = &fixtures[0];
    run_case *rc = &f->runs[0];
    an_error err;
    pipe_model *m = pipe_model_open(f->dir, NULL, &err);
    REQUIRE(m);
    pipe_sampler_params p = greedy_params();
    pipe_session *s = pipe_session_new(m, &p, &err);
    REQUIRE(s);
    int32_t stop = rc->greedy[3]; /* the fourth reference token plays EOS */
    int first = 0;
    while (rc->greedy[first] != stop)
        first++;
    pipe_gen_opts g = {.max_tokens = 32, .stop_ids = &stop, .n_stop = 1};
    run_case got = {0};
    pipe_stop_reason why;
    REQUIRE(pipe_session_prompt(s, rc->prompt, rc->n_prompt, &g, &err) == 0);
    REQUIRE(pipe_session_generate(s, &g, record, &got, &why, &err) == 0);
    CHECK_EQ_INT(why, PIPE_STOP_EOS);
    CHECK_EQ_INT(got.n_new, first);
    g.ignore_eos = 1;
    got.n_new = 0;
    pipe_session_clear(s);
    REQUIRE(pipe_session_prompt(s, rc->prompt, rc->n_prompt, &g, &err) == 0);
    REQUIRE(pipe_session_generate(s, &g, record, &got, &why, &err) == 0);
    CHECK_EQ_INT(why, PIPE_STOP_MAX_TOKENS);
    CHECK_EQ_INT(got.n_new, 32);
    pipe_session_free(s);
    pipe_model_close(m);
}

/* A copy of a fixture in a temporary directory, changed by a shell command run inside it;
 * the model must then be refused with a message containing `needle`. */
static void expect_broken(const char *fixture, const char *change, const char *needle)
{
    char tmpl[] = "/tmp/anemone-broken-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d) {
        T_FAIL("mkdtemp");
        return;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/%s/. '%s' && cd '%s' && %s", fixture, d, d, change);
    if (system(cmd) != 0) {
        T_FAIL("could not prepare: %s", cmd);
    } else {
        an_error err;
        an_error_clear(&err);
        pipe_model *m = pipe_model_open(d, NULL, &err);
        if (m) {
            T_FAIL("%s after '%s' was accepted", fixture, change);
            pipe_model_close(m);
        } else if (!strstr(err.msg, needle)) {
            T_FAIL("after '%s': error '%s' does not say '%s'", change, err.msg, needle);
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0)
        T_FAIL("cleanup");
}

/* Without context_length and batch_size in meta.yaml, the Core ML metadata gives them. */
TEST(metadata_fills_missing_meta_keys)
{
    char tmpl[] = "/tmp/anemone-meta-XXXXXX";
    char *d = mkdtemp(tmpl);
    REQUIRE(d);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/llama-lut4-c2/. '%s' && sed -i '/context_length:/d; /batch_size:/d' '%s/meta.yaml'", d, d);
    REQUIRE(system(cmd) == 0);
    an_error err;
    pipe_model *m = pipe_model_open(d, NULL, &err);
    if (!m)
        T_FAIL("%s", err.msg);
    else {
        const pipe_model_info *i = pipe_model_get_info(m);
        CHECK_EQ_INT(i->meta->context_length, 64);
        CHECK_EQ_INT(i->meta->batch_size, 8);
        CHECK_EQ_INT(i->meta->state_length, 64);
        pipe_model_close(m);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    CHECK(system(cmd) == 0);
}

TEST(broken_model_directories)
{
    expect_broken("llama-lut4-c2", "rm -r llama_FFN_PF_lut4_chunk_02of02.mlmodelc",
                  "FFN chunk 2 of 2 component is missing");
    expect_broken("llama-lut4-c2", "sed -i 's/context_length: 64/context_length: 128/' meta.yaml",
                  "context_length is 128, but the chunks' causal mask spans 64 positions");
    expect_broken("llama-lut4-c2", "sed -i 's/batch_size: 8/batch_size: 16/' meta.yaml",
                  "batch_size is 16, but the chunks' prefill takes 8 tokens");
    expect_broken("llama-lut4-c2",
                  /* a chunk of another model: same hidden size, another KV state shape */
                  "rm -r llama_FFN_PF_lut4_chunk_02of02.mlmodelc && "
                  "cp -r \"$OLDPWD/tests/fixtures/qwen3-lut6-c2-argmax/qwen_FFN_PF_lut6_chunk_02of02.mlmodelc\" "
                  "llama_FFN_PF_lut4_chunk_02of02.mlmodelc",
                  "state 'model_model_kv_cache_0' [4,2,64,16] differs from chunk 1's 'model_model_kv_cache_0' [4,2,64,12]");
    expect_broken("llama-lut4-c2", "rm llama_lm_head_lut6.mlmodelc/model.mil", "LM head");
    expect_broken("llama-lut4-c2",
                  "sed -i 's/\"com.anemll.context_length\" : \"64\"/\"com.anemll.context_length\" : \"128\"/' "
                  "llama_FFN_PF_lut4_chunk_01of02.mlmodelc/metadata.json",
                  "metadata com.anemll.context_length is 128, but its shapes say 64");
    expect_broken("llama-lut4-c2", "printf 'model_info: {parameters: {num_chunks: x}}' > meta.yaml",
                  "parameters.num_chunks is 'x'");
}

int main(void)
{
    load_fixtures();
    RUN(greedy_matches_reference);
    RUN(update_mask_prefill_full_batches);
    RUN(short_remainder_prefilled_token_by_token);
    RUN(two_turns_reuse_prefix);
    RUN(seeded_sampling_reproducible);
    RUN(stops_at_eos);
    RUN(cancellation_keeps_history_consistent);
    RUN(metadata_fills_missing_meta_keys);
    RUN(broken_model_directories);
    return t_finish();
}
