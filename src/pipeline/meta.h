/*
 * meta.h — ANEMLL's meta.yaml and the component files it names.
 *
 * Reads every key ANEMLL 0.1.x–0.3.5 writes (ANEMLL.md §1.2) and finds the component
 * files by ANEMLL's own rules (§1.3): explicit embeddings/lm_head/ffn keys first, else
 * names rebuilt from model_prefix and the LUT bits, a LUT-less fallback for embeddings,
 * chunk names `_chunk_NNofMM`, and each name as given, `.mlmodelc`, `.mlpackage` or
 * `.mlmodelc.zip`. Monolithic 0.3.5 models name one file.
 *
 * A pipe_meta owns all its strings; free with pipe_meta_free. Not thread-safe.
 */
#ifndef PIPE_META_H
#define PIPE_META_H

#include "common/error.h"

#define PIPE_LUT_NONE (-1)
#define PIPE_MAX_CHUNKS 64

typedef struct pipe_sampling_hint {
    int present;        /* recommended_sampling was given */
    int do_sample;      /* -1 when absent */
    double temperature; /* < 0 when absent */
    double top_p;       /* < 0 when absent */
    int top_k;          /* < 0 when absent */
} pipe_sampling_hint;

typedef enum pipe_component_form {
    PIPE_FORM_MLMODELC = 1,
    PIPE_FORM_MLPACKAGE = 2,
    PIPE_FORM_ZIP = 3, /* X.mlmodelc.zip: must be extracted before loading */
} pipe_component_form;

typedef struct pipe_component_file {
    char *path;               /* resolved path (absolute when dir was) */
    pipe_component_form form;
} pipe_component_file;

typedef struct pipe_meta {
    char *path;               /* the meta.yaml read */
    char *dir;                /* its directory: component names are relative to it */

    /* model_info */
    char *name, *version, *architecture, *model_type, *anemll_version;
    /* model_info.parameters; absent integers are 0 unless noted */
    int context_length;
    int state_length;         /* = context_length when absent */
    int batch_size;
    int lut_embeddings, lut_ffn, lut_lmhead; /* bits, or PIPE_LUT_NONE */
    int lut_embeddings_per_channel, lut_ffn_per_channel, lut_lmhead_per_channel;
    int num_chunks;           /* 1 when absent */
    char *model_prefix;       /* "llama" when absent */
    char *embeddings, *lm_head, *ffn, *monolithic_model, *pf; /* as written, or NULL */
    char *tokenizer_path;
    int split_lm_head;        /* 8 when absent */
    int argmax_in_model;
    int vocab_size;
    int n_lm_head_chunk_sizes;
    int *lm_head_chunk_sizes;
    int sliding_window;
    int update_mask_prefill, prefill_dynamic_slice, single_cache, split_rotate;
    int n_functions;
    char **functions;         /* monolithic: the function list */
    pipe_sampling_hint sampling;

    /* the files, from pipe_meta_find_components */
    int monolithic;
    pipe_component_file embeddings_file, lm_head_file, monolithic_file;
    int n_chunks;
    pipe_component_file chunk_files[PIPE_MAX_CHUNKS];
} pipe_meta;

/* Read meta.yaml (a path to the file, or a directory holding it). Values of the wrong
 * type are errors naming the key. Does not look at the component files. */
pipe_meta *pipe_meta_load(const char *path, an_error *err);

/* Parse from memory (dir: the directory component names are relative to). */
pipe_meta *pipe_meta_parse(const char *text, size_t len, const char *name, const char *dir, an_error *err);

/* Find every component file by ANEMLL's rules; an error says exactly which file is
 * missing and which names were tried. */
int pipe_meta_find_components(pipe_meta *m, an_error *err);

void pipe_meta_free(pipe_meta *m);

#endif
