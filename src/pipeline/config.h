/*
 * config.h — what a model directory's Hugging Face config files say about generation.
 *
 * config.json (ANEMLL ships a stub, sometimes the real HF config), generation_config.json
 * and tokenizer_config.json give: the architecture, the end-of-sequence ids, and the
 * authors' recommended sampling. Missing files are normal (fields stay unset); a file
 * that exists but is not valid JSON is an error naming it.
 */
#ifndef PIPE_CONFIG_H
#define PIPE_CONFIG_H

#include <stdint.h>

#include "common/error.h"

#define PIPE_MAX_EOS 16

typedef struct pipe_gen_config {
    char *model_type;           /* config.json model_type, or NULL */
    char *tokenizer_class;      /* config.json / tokenizer_config.json tokenizer_class */
    int n_eos_ids;
    int32_t eos_ids[PIPE_MAX_EOS]; /* union of config.json and generation_config.json */
    int32_t bos_id;             /* -1 when unknown */
    char *eos_token;            /* tokenizer_config.json eos_token (string or AddedToken) */
    char *bos_token;
    /* generation_config.json sampling; unset fields are < 0 (do_sample: -1) */
    int do_sample;
    double temperature, top_p, min_p, repetition_penalty;
    int top_k;
} pipe_gen_config;

/* Read the files that exist in dir. */
int pipe_gen_config_load(const char *dir, pipe_gen_config *out, an_error *err);
void pipe_gen_config_free(pipe_gen_config *c);

/* Add an id to the EOS set (ignored when present or full). */
void pipe_gen_config_add_eos(pipe_gen_config *c, int32_t id);

#endif
