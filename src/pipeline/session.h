/*
 * session.h — a conversation's tokens and the KV state that matches them.
 *
 * The session keeps the token history whose keys and values are in the model's state.
 * A new prompt (the whole conversation re-rendered and re-tokenized) is compared with
 * that history: only the tokens after the longest common prefix are prefilled, so a turn
 * costs its own length, not the whole history's. Generation streams tokens through a
 * callback and stops on an end-of-sequence id, the token limit, a full context, or a
 * cancellation flag checked between prefill batches and between tokens. A cancelled
 * prefill or answer leaves the history consistent with the state (it holds exactly the
 * tokens that were processed).
 *
 * One session per model at a time (they share its state). Allocation happens at create.
 */
#ifndef PIPE_SESSION_H
#define PIPE_SESSION_H

#include <signal.h>
#include <stdint.h>

#include "common/error.h"
#include "pipeline/runner.h"
#include "pipeline/sampler.h"

typedef enum pipe_stop_reason {
    PIPE_STOP_NONE = 0,
    PIPE_STOP_EOS,        /* an end-of-sequence token was produced (not kept in the text) */
    PIPE_STOP_MAX_TOKENS, /* the requested number of tokens was produced */
    PIPE_STOP_CTX_FULL,   /* no room for another token */
    PIPE_STOP_CANCELLED,  /* the cancel flag was raised */
    PIPE_STOP_CALLBACK,   /* the token callback asked to stop */
} pipe_stop_reason;

const char *pipe_stop_reason_name(pipe_stop_reason r);

typedef struct pipe_timing {
    double prefill_ms;   /* prefill of the new prompt tokens, including the first step */
    int prefill_tokens;  /* tokens actually prefilled this turn (after the reused prefix) */
    int reused_tokens;   /* prompt tokens whose KV was already in the state */
    double ttft_ms;      /* from the start of the turn to the first generated token */
    double decode_ms;    /* from the first generated token to the last */
    int decode_tokens;   /* generated tokens (the EOS that stops generation is not counted) */
} pipe_timing;

typedef struct pipe_gen_opts {
    int max_tokens;             /* < 0: until EOS or the context is full */
    const int32_t *stop_ids;    /* end-of-sequence ids */
    int n_stop;
    int ignore_eos;
    volatile sig_atomic_t *cancel; /* raised by a signal handler; NULL: never */
    int step_delay_ms;          /* a pause before each model step (prefill batch or token):
                                   a debugging aid that makes a turn slow; normally 0 */
} pipe_gen_opts;

/* Called with each generated token; return non-zero to stop (PIPE_STOP_CALLBACK). */
typedef int (*pipe_token_fn)(void *ctx, int32_t token);

typedef struct pipe_session pipe_session;

pipe_session *pipe_session_new(pipe_model *m, const pipe_sampler_params *sp, an_error *err);
void pipe_session_free(pipe_session *s);

/* Forget the history (the state is zeroed). */
void pipe_session_clear(pipe_session *s);

/* Make ids[0..n) the history, prefilling only what is not already in the state, and
 * compute the logits for the next token. n must be 1..context-1 (an error otherwise,
 * naming both numbers). Returns 0, 1 when cancelled (history = what was processed),
 * or -1 + err. */
int pipe_session_prompt(pipe_session *s, const int32_t *ids, int n, const pipe_gen_opts *g, an_error *err);

/* Generate after pipe_session_prompt. *reason says why it stopped. */
int pipe_session_generate(pipe_session *s, const pipe_gen_opts *g, pipe_token_fn fn, void *ctx,
                          pipe_stop_reason *reason, an_error *err);

/* Replace the sampling settings (a new sampler seeded with p->seed). */
int pipe_session_set_sampling(pipe_session *s, const pipe_sampler_params *p, an_error *err);

const int32_t *pipe_session_tokens(const pipe_session *s, int *n);
const pipe_timing *pipe_session_timing(const pipe_session *s);
pipe_sampler *pipe_session_sampler(pipe_session *s);

#endif
