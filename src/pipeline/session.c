/* session.c — see session.h. */
#include "session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pipe_session {
    pipe_model *model;
    const pipe_model_info *info;
    pipe_sampler *sampler;
    int32_t *tokens;   /* [context] history */
    int n_tokens;
    int n_kv;          /* tokens[0..n_kv) have their KV in the state */
    float *logits;     /* [vocab] for the next token, valid when have_next */
    int32_t next_argmax;
    int have_next;
    pipe_timing timing;
    double turn_start;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *pipe_stop_reason_name(pipe_stop_reason r)
{
    switch (r) {
    case PIPE_STOP_EOS: return "eos";
    case PIPE_STOP_MAX_TOKENS: return "max_tokens";
    case PIPE_STOP_CTX_FULL: return "context_full";
    case PIPE_STOP_CANCELLED: return "cancelled";
    case PIPE_STOP_CALLBACK: return "stopped";
    default: return "none";
    }
}

pipe_session *pipe_session_new(pipe_model *m, const pipe_sampler_params *sp, an_error *err)
{
    pipe_session *s = calloc(1, sizeof *s);
    if (!s) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    s->model = m;
    s->info = pipe_model_get_info(m);
    s->tokens = calloc((size_t)s->info->context, sizeof *s->tokens);
    s->logits = calloc((size_t)s->info->vocab, sizeof *s->logits);
    if (!s->tokens || !s->logits) {
        an_errorf(err, "out of memory for a context of %d", s->info->context);
        pipe_session_free(s);
        return NULL;
    }
    if (!s->info->argmax_head) {
        s->sampler = pipe_sampler_create(sp, s->info->vocab, err);
        if (!s->sampler) {
            pipe_session_free(s);
            return NULL;
        }
    }
    return s;
}

void pipe_session_free(pipe_session *s)
{
    if (!s)
        return;
    pipe_sampler_free(s->sampler);
    free(s->tokens);
    free(s->logits);
    free(s);
}

void pipe_session_clear(pipe_session *s)
{
    pipe_model_reset(s->model);
    s->n_tokens = s->n_kv = 0;
    s->have_next = 0;
}

static int cancelled(const pipe_gen_opts *g) { return g && g->cancel && *g->cancel; }

/* A signal cuts the pause short; the cancel check after it sees the flag. */
static void step_delay(const pipe_gen_opts *g)
{
    if (!g || g->step_delay_ms <= 0)
        return;
    struct timespec ts = {.tv_sec = g->step_delay_ms / 1000, .tv_nsec = (long)(g->step_delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run the last history token to get the next token's logits. */
static int step_last(pipe_session *s, an_error *err)
{
    int pos = s->n_tokens - 1;
    if (pipe_model_step(s->model, s->tokens[pos], pos, s->info->argmax_head ? NULL : s->logits,
                        &s->next_argmax, err) < 0)
        return -1;
    s->n_kv = s->n_tokens; /* step rewrote pos's KV too */
    s->have_next = 1;
    return 0;
}

int pipe_session_prompt(pipe_session *s, const int32_t *ids, int n, const pipe_gen_opts *g, an_error *err)
{
    int C = s->info->context;
    memset(&s->timing, 0, sizeof s->timing);
    s->turn_start = now_ms();
    if (n < 1)
        return an_errorf(err, "the prompt is empty");
    if (n >= C)
        return an_errorf(err, "the prompt is %d tokens; the model's context holds %d (including the answer)", n, C);
    /* reuse the longest prefix whose KV is in the state; the last prompt token is always
     * run again, since its step produces the logits */
    int keep = 0;
    while (keep < s->n_kv && keep < n - 1 && s->tokens[keep] == ids[keep])
        keep++;
    memcpy(s->tokens, ids, (size_t)n * sizeof *ids);
    s->n_tokens = n;
    s->n_kv = keep;
    s->have_next = 0;
    s->timing.reused_tokens = keep;
    int B = s->info->batch > 0 ? s->info->batch : 1;
    int pos = keep;
    while (pos < n - 1) {
        if (cancelled(g)) {
            s->n_tokens = s->n_kv = pos;
            return 1;
        }
        int end = pos + B < n - 1 ? pos + B : n - 1;
        step_delay(g);
        if (cancelled(g)) {
            s->n_tokens = s->n_kv = pos;
            return 1;
        }
        if (pipe_model_prefill(s->model, s->tokens, pos, end, err) < 0) {
            s->n_tokens = s->n_kv = pos;
            return -1;
        }
        pos = end;
        s->n_kv = pos;
    }
    step_delay(g);
    if (cancelled(g)) {
        s->n_tokens = s->n_kv;
        return 1;
    }
    if (step_last(s, err) < 0) {
        s->n_tokens = s->n_kv;
        return -1;
    }
    s->timing.prefill_tokens = n - keep;
    s->timing.prefill_ms = now_ms() - s->turn_start;
    return 0;
}

static int is_stop(const pipe_gen_opts *g, int32_t t)
{
    if (!g || g->ignore_eos)
        return 0;
    for (int i = 0; i < g->n_stop; i++)
        if (g->stop_ids[i] == t)
            return 1;
    return 0;
}

int pipe_session_generate(pipe_session *s, const pipe_gen_opts *g, pipe_token_fn fn, void *ctx,
                          pipe_stop_reason *reason, an_error *err)
{
    int C = s->info->context;
    int max = g && g->max_tokens >= 0 ? g->max_tokens : -1;
    double first = 0;
    *reason = PIPE_STOP_NONE;
    if (!s->have_next)
        return an_errorf(err, "generate called without a prompt");
    for (int produced = 0;; produced++) {
        if (max >= 0 && produced >= max) {
            *reason = PIPE_STOP_MAX_TOKENS;
            break;
        }
        if (cancelled(g)) {
            *reason = PIPE_STOP_CANCELLED;
            break;
        }
        int32_t t = s->info->argmax_head
                        ? s->next_argmax
                        : pipe_sampler_sample(s->sampler, s->logits, s->tokens, s->n_tokens);
        s->have_next = 0;
        if (is_stop(g, t)) {
            *reason = PIPE_STOP_EOS;
            break;
        }
        if (s->n_tokens >= C) {
            *reason = PIPE_STOP_CTX_FULL;
            break;
        }
        s->tokens[s->n_tokens++] = t;
        double now = now_ms();
        if (produced == 0) {
            first = now;
            s->timing.ttft_ms = now - s->turn_start;
        }
        s->timing.decode_tokens = produced + 1;
        s->timing.decode_ms = now - first;
        if (fn && fn(ctx, t)) {
            *reason = PIPE_STOP_CALLBACK;
            break;
        }
        if (max >= 0 && produced + 1 >= max) {
            *reason = PIPE_STOP_MAX_TOKENS;
            break;
        }
        if (s->n_tokens >= C) { /* no position left to run the new token at */
            *reason = PIPE_STOP_CTX_FULL;
            break;
        }
        step_delay(g);
        if (cancelled(g)) {
            *reason = PIPE_STOP_CANCELLED;
            break;
        }
        if (step_last(s, err) < 0)
            return -1;
    }
    return 0;
}

int pipe_session_set_sampling(pipe_session *s, const pipe_sampler_params *p, an_error *err)
{
    if (s->info->argmax_head)
        return 0; /* the head picks the token itself */
    pipe_sampler *ns = pipe_sampler_create(p, s->info->vocab, err);
    if (!ns)
        return -1;
    pipe_sampler_free(s->sampler);
    s->sampler = ns;
    return 0;
}

const int32_t *pipe_session_tokens(const pipe_session *s, int *n)
{
    *n = s->n_tokens;
    return s->tokens;
}

const pipe_timing *pipe_session_timing(const pipe_session *s) { return &s->timing; }

pipe_sampler *pipe_session_sampler(pipe_session *s) { return s->sampler; }
