/*
 * sampler.h — choosing the next token from logits.
 *
 * The chain, in the order Hugging Face transformers applies its logits processors
 * (the order generation_config.json settings are written for):
 *   penalties (repetition, presence, frequency; over the last repeat_last_n tokens)
 *   → temperature → top-k → top-p → min-p → draw from the renormalised distribution.
 * temp <= 0, top_k == 1 or greedy all mean argmax (after penalties). Ties in argmax go
 * to the lowest id. The generator is xoshiro256** seeded with splitmix64: the same seed,
 * settings and logits give the same tokens on every machine.
 *
 * A sampler owns scratch buffers sized for the vocabulary at creation: sampling
 * allocates nothing. Not thread-safe (one per conversation).
 */
#ifndef PIPE_SAMPLER_H
#define PIPE_SAMPLER_H

#include <stdint.h>

#include "common/error.h"

typedef struct pipe_sampler_params {
    float temp;              /* <= 0: greedy */
    int top_k;               /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off; > 1 discourages repeats */
    int repeat_last_n;       /* window for all penalties; 0: off, -1: whole history */
    float presence_penalty;  /* 0: off */
    float frequency_penalty; /* 0: off */
    uint64_t seed;
    int greedy;              /* force argmax */
} pipe_sampler_params;

/* CLI.md's last-resort defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalties. */
void pipe_sampler_defaults(pipe_sampler_params *p);

typedef struct pipe_sampler pipe_sampler;

pipe_sampler *pipe_sampler_create(const pipe_sampler_params *p, int vocab, an_error *err);
void pipe_sampler_free(pipe_sampler *s);

/* Re-seed (the next draws restart the sequence of that seed). */
void pipe_sampler_seed(pipe_sampler *s, uint64_t seed);

/* Pick a token. logits (vocab floats) are modified in place (penalties, temperature).
 * history: the token ids so far (prompt and generated), for the penalties. */
int32_t pipe_sampler_sample(pipe_sampler *s, float *logits, const int32_t *history, int n_history);

/* A uniform double in [0, 1) from the sampler's generator (exposed for tests). */
double pipe_sampler_uniform(pipe_sampler *s);

#endif
