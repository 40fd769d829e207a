/* opts.c — see opts.h. */
#include "opts.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef enum { K_STR, K_INT, K_FLOAT, K_U64, K_FLAG, K_NOFLAG, K_COLOR, K_OVERFLOW, K_COUNT } kind;

typedef struct option {
    const char *shrt, *lng, *arg, *help;
    unsigned group;
    kind kind;
    size_t off;
} option;

#define F(field) offsetof(cli_opts, field)

static const option table[] = {
    {"-m", "--model", "MODEL", "model: a directory with meta.yaml, its meta.yaml, org/name[@rev] or hf://org/name[@rev]", CLI_G_MODEL, K_STR, F(model)},
    {NULL, "--revision", "REV", "Hugging Face revision (branch, tag or commit)", CLI_G_MODEL, K_STR, F(revision)},
    {NULL, "--offline", NULL, "use the cache only, no network (also HF_HUB_OFFLINE=1)", CLI_G_MODEL, K_FLAG, F(offline)},
    {NULL, "--cache-dir", "DIR", "Hugging Face cache directory (default $HF_HUB_CACHE)", CLI_G_MODEL, K_STR, F(cache_dir)},
    {NULL, "--token", "TOKEN", "Hugging Face token (default $HF_TOKEN, then $HF_HOME/token)", CLI_G_MODEL, K_STR, F(token)},
    {NULL, "--backend", "NAME", "engine: auto or mil", CLI_G_MODEL, K_STR, F(backend)},
    {"-p", "--prompt", "TEXT", "the prompt", CLI_G_PROMPT, K_STR, F(prompt)},
    {"-f", "--file", "FILE", "read the prompt from FILE", CLI_G_PROMPT, K_STR, F(file)},
    {"-sys", "--system-prompt", "TEXT", "system prompt", CLI_G_PROMPT, K_STR, F(system)},
    {NULL, "--raw", NULL, "no chat template: the prompt is the text", CLI_G_PROMPT, K_FLAG, F(raw)},
    {NULL, "--chat-template", "NAME|FILE", "use this template instead of the model's", CLI_G_PROMPT, K_STR, F(chat_template)},
    {NULL, "--think", NULL, "ask templates with enable_thinking to think", CLI_G_PROMPT, K_FLAG, F(think)},
    {NULL, "--no-think", NULL, "ask templates with enable_thinking not to think", CLI_G_PROMPT, K_NOFLAG, F(think)},
    {NULL, "--hide-thinking", NULL, "do not show <think> sections", CLI_G_PROMPT, K_FLAG, F(hide_thinking)},
    {"-n", "--n-predict", "N", "tokens to generate (-1: until EOS or the context is full)", CLI_G_GEN, K_INT, F(n_predict)},
    {NULL, "--temp", "T", "temperature (0: greedy)", CLI_G_GEN, K_FLOAT, F(temp)},
    {NULL, "--top-k", "K", "keep the K most likely tokens (0: off)", CLI_G_GEN, K_INT, F(top_k)},
    {NULL, "--top-p", "P", "keep the most likely tokens up to probability P (1: off)", CLI_G_GEN, K_FLOAT, F(top_p)},
    {NULL, "--min-p", "P", "drop tokens below P times the top probability (0: off)", CLI_G_GEN, K_FLOAT, F(min_p)},
    {NULL, "--repeat-penalty", "X", "penalise repeated tokens (1: off)", CLI_G_GEN, K_FLOAT, F(repeat_penalty)},
    {NULL, "--repeat-last-n", "N", "window of the penalties (0: off, -1: all)", CLI_G_GEN, K_INT, F(repeat_last_n)},
    {NULL, "--presence-penalty", "X", "subtract X from tokens already present (0: off)", CLI_G_GEN, K_FLOAT, F(presence_penalty)},
    {NULL, "--frequency-penalty", "X", "subtract X per occurrence (0: off)", CLI_G_GEN, K_FLOAT, F(frequency_penalty)},
    {"-s", "--seed", "N", "random seed: the same seed gives the same text", CLI_G_GEN, K_U64, F(seed)},
    {NULL, "--greedy", NULL, "always take the most likely token", CLI_G_GEN, K_FLAG, F(greedy)},
    {NULL, "--ignore-eos", NULL, "do not stop at end-of-sequence tokens", CLI_G_GEN, K_FLAG, F(ignore_eos)},
    {NULL, "--ctx-overflow", "stop|shift", "when the context is full: stop, or drop the oldest turns", CLI_G_GEN, K_OVERFLOW, F(ctx_shift)},
    {"-t", "--threads", "N", "threads (default: the physical cores)", CLI_G_MACHINE, K_INT, F(threads)},
    {NULL, "--color", "auto|on|off", "colour (NO_COLOR, TERM=dumb and pipes turn it off)", CLI_G_OUTPUT, K_COLOR, F(color)},
    {"-q", "--quiet", NULL, "no banner or statistics", CLI_G_OUTPUT, K_FLAG, F(quiet)},
    {"-v", "--verbose", NULL, "say more", CLI_G_OUTPUT, K_COUNT, F(verbose)},
    {NULL, "--stats", NULL, "print statistics after the run (the default when stderr is a terminal)", CLI_G_OUTPUT, K_FLAG, F(stats)},
    {NULL, "--json", NULL, "statistics as one JSON object on stderr", CLI_G_OUTPUT, K_FLAG, F(json)},
};

void cli_opts_init(cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->think = -1;
    o->color = -1;
    o->n_predict = o->top_k = o->repeat_last_n = CLI_UNSET_I;
    o->temp = o->top_p = o->min_p = o->repeat_penalty = CLI_UNSET_F;
    o->presence_penalty = o->frequency_penalty = CLI_UNSET_F;
}

static int parse_value(cli_opts *o, const option *op, const char *cmd, const char *v)
{
    char *base = (char *)o + op->off, *end;
    errno = 0;
    switch (op->kind) {
    case K_STR:
        *(const char **)base = v;
        return 0;
    case K_INT: {
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno || x < -1000000000L || x > 1000000000L)
            return cli_usage_error(cmd, "%s wants an integer, not '%s'", op->lng, v);
        *(int *)base = (int)x;
        return 0;
    }
    case K_FLOAT: {
        float x = strtof(v, &end);
        if (end == v || *end || errno || x != x)
            return cli_usage_error(cmd, "%s wants a number, not '%s'", op->lng, v);
        if (x < 0)
            return cli_usage_error(cmd, "%s cannot be negative", op->lng);
        *(float *)base = x;
        return 0;
    }
    case K_U64: {
        if (*v == '-')
            return cli_usage_error(cmd, "%s wants a non-negative integer, not '%s'", op->lng, v);
        unsigned long long x = strtoull(v, &end, 10);
        if (end == v || *end || errno)
            return cli_usage_error(cmd, "%s wants a non-negative integer, not '%s'", op->lng, v);
        *(uint64_t *)base = x;
        o->seed_set = 1;
        return 0;
    }
    case K_COLOR:
        if (!strcmp(v, "auto"))
            *(int *)base = -1;
        else if (!strcmp(v, "on") || !strcmp(v, "always"))
            *(int *)base = 1;
        else if (!strcmp(v, "off") || !strcmp(v, "never"))
            *(int *)base = 0;
        else
            return cli_usage_error(cmd, "--color wants auto, on or off, not '%s'", v);
        return 0;
    case K_OVERFLOW:
        if (!strcmp(v, "stop"))
            *(int *)base = 0;
        else if (!strcmp(v, "shift"))
            *(int *)base = 1;
        else
            return cli_usage_error(cmd, "--ctx-overflow wants stop or shift, not '%s'", v);
        return 0;
    default:
        return 0;
    }
}

static int parse_all(cli_opts *o, unsigned groups, int argc, char **argv, cli_extra_fn extra, void *ctx)
{
    const char *cmd = argv[0];
    o->args = calloc((size_t)argc + 1, sizeof *o->args);
    if (!o->args)
        return cli_usage_error(cmd, "out of memory");
    int only_args = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || !strcmp(a, "-")) {
            o->args[o->n_args++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (extra) {
            int r = extra(ctx, argc, argv, &i);
            if (r < 0)
                return CLI_USAGE;
            if (r > 0)
                continue;
        }
        /* --name=value or --name value */
        char name[64];
        const char *inline_val = NULL;
        const char *eq = strchr(a, '=');
        if (eq && a[1] == '-' && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            inline_val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        const option *op = NULL;
        for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
            if ((table[k].shrt && !strcmp(name, table[k].shrt)) || !strcmp(name, table[k].lng))
                op = &table[k];
        if (!op || !(op->group & groups))
            return cli_usage_error(cmd, "unknown option '%s'", name);
        char *base = (char *)o + op->off;
        if (op->kind == K_FLAG || op->kind == K_NOFLAG || op->kind == K_COUNT) {
            if (inline_val)
                return cli_usage_error(cmd, "%s takes no value", op->lng);
            if (op->kind == K_COUNT)
                (*(int *)base)++;
            else
                *(int *)base = op->kind == K_FLAG;
            continue;
        }
        const char *v = inline_val;
        if (!v) {
            if (i + 1 >= argc)
                return cli_usage_error(cmd, "%s needs a value (%s)", op->lng, op->arg);
            v = argv[++i];
        }
        int r = parse_value(o, op, cmd, v);
        if (r)
            return r;
    }
    return 0;
}

void cli_opts_help(FILE *out, unsigned groups)
{
    static const struct { unsigned g; const char *title; } titles[] = {
        {CLI_G_MODEL, "Model and cache"}, {CLI_G_PROMPT, "Prompt"}, {CLI_G_GEN, "Generation"},
        {CLI_G_MACHINE, "Machine"}, {CLI_G_OUTPUT, "Output"},
    };
    for (size_t t = 0; t < sizeof titles / sizeof titles[0]; t++) {
        if (!(groups & titles[t].g))
            continue;
        fprintf(out, "\n%s:\n", titles[t].title);
        for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
            const option *op = &table[k];
            if (op->group != titles[t].g)
                continue;
            char left[64];
            snprintf(left, sizeof left, "%s%s%s%s%s", op->shrt ? op->shrt : "", op->shrt ? ", " : "", op->lng,
                     op->arg ? " " : "", op->arg ? op->arg : "");
            fprintf(out, "  %-28s %s\n", left, op->help);
        }
    }
}

int cli_opts_parse(cli_opts *o, unsigned groups, int argc, char **argv, cli_extra_fn extra, void *ctx)
{
    int r = parse_all(o, groups, argc, argv, extra, ctx);
    if (!r && (o->threads < 0 || o->threads > 256))
        r = cli_usage_error(argv[0], "--threads wants 1 to 256 (0: the physical cores), not %d",
                            o->threads);
    if (r) { /* the caller returns at once on a usage error: nothing of o is kept */
        free(o->args);
        o->args = NULL;
        o->n_args = 0;
    }
    return r;
}
