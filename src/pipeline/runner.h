/*
 * runner.h — one ANEMLL model, loaded and ready: prefill and single-token steps.
 *
 * Implements ANEMLL's runtime semantics (ANEMLL.md §3): one KV state made once and passed
 * to every chunk and function; prefill in batches of batch_size through the embeddings'
 * [1,B] shape and every chunk's `prefill` (positions, mask rows, current_pos); a step runs
 * one token through embeddings [1,1] → every chunk's `infer` → LM head, giving the logits
 * of the next token. The model's sizes (hidden, context, batch, vocabulary, LM-head
 * splits) are read from the components' declared shapes, and checked against meta.yaml.
 *
 * Positions: prefill(ids, start, end) writes the cache entries of positions start..end-1
 * for tokens ids[start..end). step(tok, pos) processes token tok at position pos (its KV
 * is (re)written) and returns the logits for position pos+1. So after prefilling a prompt
 * of n tokens, the first new token comes from step(ids[n-1], n-1), as ANEMLL does.
 *
 * Per-call work allocates nothing. Not thread-safe: one caller at a time.
 */
#ifndef PIPE_RUNNER_H
#define PIPE_RUNNER_H

#include <stdint.h>

#include "common/error.h"
#include "pipeline/backend.h"
#include "pipeline/config.h"
#include "pipeline/meta.h"

typedef struct pipe_model pipe_model;

typedef struct pipe_open_opts {
    const char *backend;       /* "auto", "mil", ...; NULL = auto */
    int single_token_prefill;  /* force prefill one token at a time through `infer` */
    int threads;               /* threads for the backend; 0 = the physical cores */
    /* Called before each component is loaded (i of n, its role), for a progress display. */
    void (*progress)(void *ctx, int i, int n, const char *role);
    void *progress_ctx;
} pipe_open_opts;

/* Open the model whose meta.yaml is at path (a directory or the file itself). The error
 * says exactly what is wrong with an incomplete or inconsistent model directory. */
pipe_model *pipe_model_open(const char *path, const pipe_open_opts *opts, an_error *err);
void pipe_model_close(pipe_model *m);

typedef struct pipe_model_info {
    int hidden;           /* H */
    int context;          /* C: the causal mask's last dimension */
    int state_length;     /* S */
    int batch;            /* B, 0 when the chunks have no prefill function */
    int vocab;            /* V: sum of the logits splits */
    int n_splits;         /* LM-head outputs */
    int argmax_head;      /* the head returns argmax_idx/argmax_val (greedy only) */
    int n_chunks;
    int monolithic;
    const pipe_meta *meta;
    const pipe_gen_config *config;
    const char *backend;
    int threads;          /* threads the backend runs on */
} pipe_model_info;

const pipe_model_info *pipe_model_get_info(const pipe_model *m);

/* Zero the KV state (a fresh conversation). */
void pipe_model_reset(pipe_model *m);

/* Write the KV entries of positions start..end-1 (0 <= start <= end <= context). */
int pipe_model_prefill(pipe_model *m, const int32_t *ids, int start, int end, an_error *err);

/* Run token tok at position pos; fill logits[vocab] (NULL allowed) and/or *argmax_id
 * (NULL allowed; for argmax heads the only result). Returns 0 or -1 + err. */
int pipe_model_step(pipe_model *m, int32_t tok, int pos, float *logits, int32_t *argmax_id, an_error *err);

/* Counters since open (calls, tokens), for tests and stats. */
typedef struct pipe_model_counters {
    long prefill_batches, prefill_tokens, infer_calls;
} pipe_model_counters;
void pipe_model_get_counters(const pipe_model *m, pipe_model_counters *c);

#endif
