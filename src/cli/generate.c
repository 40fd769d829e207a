/* generate.c — see generate.h. */
#include "generate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "hub/hub.h"
#include "think.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* flags > meta.yaml recommended_sampling > generation_config.json > defaults */
static void resolve_sampling(const cli_opts *o, const pipe_meta *meta, const pipe_gen_config *cfg,
                             pipe_sampler_params *p)
{
    pipe_sampler_defaults(p);
    if (cfg->temperature >= 0)
        p->temp = (float)cfg->temperature;
    if (cfg->top_k >= 0)
        p->top_k = cfg->top_k;
    if (cfg->top_p >= 0)
        p->top_p = (float)cfg->top_p;
    if (cfg->min_p >= 0)
        p->min_p = (float)cfg->min_p;
    if (cfg->repetition_penalty > 0)
        p->repeat_penalty = (float)cfg->repetition_penalty;
    if (cfg->do_sample == 0)
        p->greedy = 1;
    const pipe_sampling_hint *h = &meta->sampling;
    if (h->present) {
        if (h->temperature >= 0)
            p->temp = (float)h->temperature;
        if (h->top_p >= 0)
            p->top_p = (float)h->top_p;
        if (h->top_k >= 0)
            p->top_k = h->top_k;
        if (h->do_sample >= 0)
            p->greedy = !h->do_sample;
    }
    if (o->temp != CLI_UNSET_F) {
        p->temp = o->temp;
        p->greedy = 0;
    }
    if (o->top_k != CLI_UNSET_I)
        p->top_k = o->top_k;
    if (o->top_p != CLI_UNSET_F)
        p->top_p = o->top_p;
    if (o->min_p != CLI_UNSET_F)
        p->min_p = o->min_p;
    if (o->repeat_penalty != CLI_UNSET_F)
        p->repeat_penalty = o->repeat_penalty;
    if (o->repeat_last_n != CLI_UNSET_I)
        p->repeat_last_n = o->repeat_last_n;
    if (o->presence_penalty != CLI_UNSET_F)
        p->presence_penalty = o->presence_penalty;
    if (o->frequency_penalty != CLI_UNSET_F)
        p->frequency_penalty = o->frequency_penalty;
    if (o->greedy)
        p->greedy = 1;
    if (o->seed_set) {
        p->seed = o->seed;
    } else if (getrandom(&p->seed, sizeof p->seed, 0) != (ssize_t)sizeof p->seed) {
        p->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    }
}

static void add_stop(cli_model *m, int32_t id)
{
    if (id < 0)
        return;
    for (int i = 0; i < m->n_stop; i++)
        if (m->stop_ids[i] == id)
            return;
    if (m->n_stop < CLI_MAX_STOP)
        m->stop_ids[m->n_stop++] = id;
}

/* EOS ids from the config files and the tokenizer, and the end-of-turn tokens the
 * template writes (ANEMLL 0.3.5 stops on the same ones when the vocabulary has them). */
static void collect_stops(cli_model *m)
{
    const pipe_gen_config *cfg = pipe_model_get_info(m->model)->config;
    for (int i = 0; i < cfg->n_eos_ids; i++)
        add_stop(m, cfg->eos_ids[i]);
    add_stop(m, tok_eos_id(m->tok));
    if (m->chat.eos_token)
        add_stop(m, tok_token_to_id(m->tok, m->chat.eos_token));
    static const char *const end_of_turn[] = {"<|endoftext|>", "<|im_end|>", "<end_of_turn>", "<|eot_id|>",
                                              "<|end_of_text|>", "<|eom_id|>", "</s>"};
    for (size_t i = 0; i < sizeof end_of_turn / sizeof end_of_turn[0]; i++) {
        int32_t id = tok_token_to_id(m->tok, end_of_turn[i]);
        if (id >= 0 && (!m->chat.source || strstr(m->chat.source, end_of_turn[i]) || i == 0))
            add_stop(m, id);
    }
}

/* On a terminal: "loading FFN chunk 2 of 4 (3/6)" on one line, erased when done. */
static void show_progress(void *ctx, int i, int n, const char *role)
{
    (void)ctx;
    fprintf(stderr, "\r\033[Kloading %s (%d/%d)", role, i + 1, n);
    fflush(stderr);
}

int cli_model_open(const cli_opts *o, const char *ref, cli_model *m, an_error *err)
{
    memset(m, 0, sizeof *m);
    double t0 = now_ms();
    hub_options ho = HUB_OPTIONS_INIT;
    ho.revision = o->revision;
    ho.cache_dir = o->cache_dir;
    ho.token = o->token;
    ho.offline = o->offline;
    ho.prefer_cache = 1;
    if (hub_resolve_model(ref, &ho, &m->dir, err) < 0)
        return -1;
    pipe_open_opts po = {.backend = o->backend};
    int tty = isatty(STDERR_FILENO) && !o->quiet;
    if (tty)
        po.progress = show_progress;
    m->model = pipe_model_open(m->dir, &po, err);
    if (tty)
        fputs("\r\033[K", stderr);
    if (!m->model)
        goto fail;
    m->tok = tok_load(m->dir, err);
    if (!m->tok) {
        an_error_prefix(err, "tokenizer");
        goto fail;
    }
    const pipe_model_info *info = pipe_model_get_info(m->model);
    if ((int)tok_vocab_size(m->tok) > info->vocab)
        an_log(AN_LOG_INFO, "the tokenizer knows %zu tokens, the LM head scores %d", tok_vocab_size(m->tok), info->vocab);
    if (tpl_chat_load(m->dir, o->chat_template, &m->chat, err) < 0) {
        an_error_prefix(err, "chat template");
        goto fail;
    }
    if (!o->raw) {
        m->tpl = tpl_parse(m->chat.source, strlen(m->chat.source), m->chat.origin, err);
        if (!m->tpl)
            goto fail;
    }
    resolve_sampling(o, info->meta, info->config, &m->sampling);
    if (info->argmax_head && !m->sampling.greedy && m->sampling.temp > 0)
        m->sampling.greedy = 1; /* the head gives one token: nothing to sample from */
    collect_stops(m);
    m->load_ms = now_ms() - t0;
    return 0;
fail:
    cli_model_close(m);
    return -1;
}

void cli_model_close(cli_model *m)
{
    tpl_free(m->tpl);
    tpl_chat_free(&m->chat);
    tok_free(m->tok);
    pipe_model_close(m->model);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

int cli_render(cli_model *m, const cli_opts *o, json_object *messages, int add_generation_prompt, an_strbuf *out,
               an_error *err)
{
    json_object *vars = json_object_new_object();
    json_object_object_add(vars, "messages", json_object_get(messages));
    json_object_object_add(vars, "add_generation_prompt", json_object_new_boolean(add_generation_prompt));
    json_object_object_add(vars, "bos_token", json_object_new_string(m->chat.bos_token ? m->chat.bos_token : ""));
    json_object_object_add(vars, "eos_token", json_object_new_string(m->chat.eos_token ? m->chat.eos_token : ""));
    if (o->think >= 0)
        json_object_object_add(vars, "enable_thinking", json_object_new_boolean(o->think));
    int r = tpl_render(m->tpl, vars, NULL, out, err);
    json_object_put(vars);
    return r;
}

int cli_tokenize_prompt(cli_model *m, const char *text, int raw, int32_t **ids, size_t *n, an_error *err)
{
    return tok_encode(m->tok, text, strlen(text), raw, ids, n, err);
}

typedef struct turn_ctx {
    cli_model *m;
    tok_stream *st;
    an_strbuf chunk;
    FILE *out;
    cli_think tf;
    an_error *err;
    int failed;
} turn_ctx;

static int on_token(void *p, int32_t id)
{
    turn_ctx *c = p;
    an_sb_clear(&c->chunk);
    if (tok_stream_push(c->st, id, &c->chunk, c->err) < 0) {
        c->failed = 1;
        return 1;
    }
    if (c->chunk.len) {
        cli_think_feed(&c->tf, c->out, c->chunk.buf, c->chunk.len, 0);
        fflush(c->out);
    }
    return 0;
}

/* ANEMONE_DEBUG_DELAY_MS: pause this long before each model step, so that a turn of a
 * tiny test model lasts long enough to interrupt (read once). */
static int debug_delay_ms(void)
{
    static int ms = -1;
    if (ms < 0) {
        const char *v = getenv("ANEMONE_DEBUG_DELAY_MS");
        long x = v ? strtol(v, NULL, 10) : 0;
        ms = x > 0 && x <= 60000 ? (int)x : 0;
    }
    return ms;
}

int cli_run_turn(cli_model *m, pipe_session *s, const int32_t *ids, int n, const cli_opts *o, FILE *out,
                 int dim_thinking, volatile sig_atomic_t *cancel, cli_turn *turn, an_error *err)
{
    an_sb_init(&turn->text);
    turn->reason = PIPE_STOP_NONE;
    turn->cancelled_in_prefill = 0;
    pipe_gen_opts g = {
        .max_tokens = o->n_predict == CLI_UNSET_I ? -1 : o->n_predict,
        .stop_ids = m->stop_ids,
        .n_stop = m->n_stop,
        .ignore_eos = o->ignore_eos,
        .cancel = cancel,
        .step_delay_ms = debug_delay_ms(),
    };
    int r = pipe_session_prompt(s, ids, n, &g, err);
    if (r < 0)
        return -1;
    if (r == 1) {
        turn->cancelled_in_prefill = 1;
        turn->reason = PIPE_STOP_CANCELLED;
        turn->timing = *pipe_session_timing(s);
        return 0;
    }
    turn_ctx c = {.m = m, .out = out, .err = err};
    cli_think_init(&c.tf, o->hide_thinking, dim_thinking);
    /* the prompt (special tokens as text) may leave a <think> section open */
    an_strbuf prompt_text;
    an_sb_init(&prompt_text);
    r = tok_decode(m->tok, ids, (size_t)n, 0, &prompt_text, err);
    c.tf.in_think = r == 0 && cli_think_open_at_end(prompt_text.buf, prompt_text.len);
    an_sb_free(&prompt_text);
    c.st = r == 0 ? tok_stream_new(m->tok, 1) : NULL;
    an_sb_init(&c.chunk);
    if (!c.st) {
        cli_think_free(&c.tf);
        return r < 0 ? -1 : an_errorf(err, "out of memory");
    }
    int n_before;
    pipe_session_tokens(s, &n_before);
    r = pipe_session_generate(s, &g, on_token, &c, &turn->reason, err);
    if (r == 0 && !c.failed) {
        an_sb_clear(&c.chunk);
        if (tok_stream_flush(c.st, &c.chunk, err) == 0 && c.chunk.len)
            cli_think_feed(&c.tf, out, c.chunk.buf, c.chunk.len, 0);
        cli_think_feed(&c.tf, out, "", 0, 1);
        fflush(out);
        int n_after;
        const int32_t *all = pipe_session_tokens(s, &n_after);
        int32_t *gen_ids = (int32_t *)all + n_before;
        if (tok_decode(m->tok, gen_ids, (size_t)(n_after - n_before), 1, &turn->text, err) < 0)
            r = -1;
    }
    turn->timing = *pipe_session_timing(s);
    tok_stream_free(c.st);
    an_sb_free(&c.chunk);
    cli_think_free(&c.tf);
    return r < 0 || c.failed ? -1 : 0;
}

void cli_format_footer(const cli_turn *t, int ctx_used, int ctx, char *buf, size_t n)
{
    const pipe_timing *tm = &t->timing;
    double pp = tm->prefill_ms > 0 ? tm->prefill_tokens * 1e3 / tm->prefill_ms : 0;
    double tg = tm->decode_ms > 0 && tm->decode_tokens > 1 ? (tm->decode_tokens - 1) * 1e3 / tm->decode_ms : 0;
    snprintf(buf, n, "[ prefill %d tok, %.1f t/s | decode %d tok, %.1f t/s | ctx %d/%d ]", tm->prefill_tokens, pp,
             tm->decode_tokens, tg, ctx_used, ctx);
}
