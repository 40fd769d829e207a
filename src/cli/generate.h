/*
 * generate.h — what run, chat and bench share: open a model with everything it needs
 * (resolved from the hub or a local directory, tokenizer, chat template, sampling settings,
 * stop tokens) and run one turn of a conversation with streamed output.
 *
 * Sampling settings come, in order, from the user's flags, meta.yaml's
 * recommended_sampling, generation_config.json, then the built-in defaults (CLI.md).
 */
#ifndef CLI_GENERATE_H
#define CLI_GENERATE_H

#include <json-c/json.h>
#include <signal.h>

#include "cli/opts.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "pipeline/runner.h"
#include "pipeline/sampler.h"
#include "pipeline/session.h"
#include "tokenizer/template.h"
#include "tokenizer/tokenizer.h"

#define CLI_MAX_STOP 32

typedef struct cli_model {
    char *dir;                 /* the local model directory */
    pipe_model *model;
    tok_tokenizer *tok;
    tpl_chat chat;             /* template source and special tokens */
    tpl_template *tpl;         /* NULL with --raw */
    pipe_sampler_params sampling;
    int32_t stop_ids[CLI_MAX_STOP];
    int n_stop;
    double load_ms;
} cli_model;

/* Resolve opts->model (or ref), load everything. Returns 0 or -1 + err (with the role of
 * what failed, e.g. "tokenizer: ..."). */
int cli_model_open(const cli_opts *o, const char *ref, cli_model *m, an_error *err);
void cli_model_close(cli_model *m);

/* Render messages (a JSON array) with the model's template, as Jinja2 would. */
int cli_render(cli_model *m, const cli_opts *o, json_object *messages, int add_generation_prompt,
               an_strbuf *out, an_error *err);

/* Prompt text → ids: with a template, the text already holds its special tokens
 * (add_special_tokens=False, as transformers' apply_chat_template); --raw adds them. */
int cli_tokenize_prompt(cli_model *m, const char *text, int raw, int32_t **ids, size_t *n, an_error *err);

typedef struct cli_turn {
    an_strbuf text;            /* the answer, decoded without special tokens */
    pipe_stop_reason reason;
    pipe_timing timing;
    int cancelled_in_prefill;
} cli_turn;

/* Prefill ids (reusing the session's prefix) and generate, streaming text to out (stdout
 * in practice) as whole UTF-8 characters. hide_thinking drops <think>...</think>;
 * dim shows it dimmed (ANSI). cancel is checked between batches and tokens. */
int cli_run_turn(cli_model *m, pipe_session *s, const int32_t *ids, int n, const cli_opts *o, FILE *out,
                 int dim_thinking, volatile sig_atomic_t *cancel, cli_turn *turn, an_error *err);

/* "prefill 12 tok, 345.6 t/s | decode 20 tok, 12.3 t/s | ctx 32/64" */
void cli_format_footer(const cli_turn *t, int ctx_used, int ctx, char *buf, size_t n);

#endif
