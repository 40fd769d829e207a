/*
 * opts.h — the options shared by run, chat and bench (CLI.md "Flags"), in one table.
 *
 * The table drives both parsing and the help text, so the two cannot drift. A command
 * accepts the groups it names; anything else is a usage error naming the option.
 * Values the user did not give stay "unset" so that later sources (meta.yaml
 * recommended_sampling, generation_config.json, the built-in defaults) can fill them in
 * that order.
 */
#ifndef CLI_OPTS_H
#define CLI_OPTS_H

#include <stdint.h>
#include <stdio.h>

enum {
    CLI_G_MODEL = 1 << 0,   /* -m, --revision, --offline, --cache-dir, --token, --backend */
    CLI_G_PROMPT = 1 << 1,  /* -p, -f, -sys, --raw, --chat-template, --think, --hide-thinking */
    CLI_G_GEN = 1 << 2,     /* -n, sampling, --seed, --greedy, --ignore-eos, --ctx-overflow */
    CLI_G_MACHINE = 1 << 3, /* -t */
    CLI_G_OUTPUT = 1 << 4,  /* --color, -q, -v, --stats, --json */
};

#define CLI_UNSET_F (-1e30f)
#define CLI_UNSET_I (-2147483647 - 1)

typedef struct cli_opts {
    /* model and cache */
    const char *model, *revision, *cache_dir, *token, *backend;
    int offline;
    /* prompt */
    const char *prompt, *file, *system, *chat_template;
    int raw, think /* -1 unset, 0 --no-think, 1 --think */, hide_thinking;
    /* generation (CLI_UNSET_* when not given) */
    int n_predict, top_k, repeat_last_n;
    float temp, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
    uint64_t seed;
    int seed_set, greedy, ignore_eos, ctx_shift;
    /* machine and output */
    int threads;             /* 0: default */
    int color;               /* -1 auto, 0 off, 1 on */
    int quiet, verbose, stats, json;
    /* what is left: positional arguments */
    int n_args;
    char **args;
} cli_opts;

void cli_opts_init(cli_opts *o);

/* Parse argv[1..argc) (argv[0] is the command name) for the given groups plus
 * command-specific options handled by `extra` (return 1 if it consumed argv[*i] — and
 * possibly more, advancing *i — 0 if unknown, -1 on a usage error it reported).
 * Returns 0, or CLI_USAGE after printing a usage error. */
typedef int (*cli_extra_fn)(void *ctx, int argc, char **argv, int *i);
int cli_opts_parse(cli_opts *o, unsigned groups, int argc, char **argv, cli_extra_fn extra, void *ctx);

/* Print the options of the groups, as --help shows them. */
void cli_opts_help(FILE *out, unsigned groups);

#endif
