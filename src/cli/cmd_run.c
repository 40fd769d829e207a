/* cmd_run.c — `anemone run MODEL [PROMPT...]`: one-shot completion (CLI.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli/generate.h"
#include "cli/opts.h"
#include "common/file.h"
#include "common/log.h"

#define RUN_GROUPS (CLI_G_MODEL | CLI_G_PROMPT | CLI_G_GEN | CLI_G_MACHINE | CLI_G_OUTPUT)

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

void help_run(FILE *out)
{
    fputs("usage: anemone run MODEL [PROMPT...] [options]\n"
          "\n"
          "One-shot completion: applies the model's chat template (unless --raw), streams the\n"
          "answer to stdout and exits. The prompt comes from the arguments, -p, -f FILE, or\n"
          "standard input when none is given or PROMPT is '-'.\n",
          out);
    cli_opts_help(out, RUN_GROUPS);
}

/* The prompt text: -p, -f, the arguments after MODEL, or stdin. Caller frees. */
static char *read_prompt(const cli_opts *o, int first_arg, an_error *err)
{
    if (o->prompt)
        return strdup(o->prompt);
    if (o->file) {
        char *text;
        size_t len;
        if (an_read_file(o->file, 64u << 20, &text, &len, err) < 0)
            return NULL;
        return text;
    }
    if (o->n_args > first_arg && strcmp(o->args[first_arg], "-") != 0) {
        an_strbuf sb;
        an_sb_init(&sb);
        for (int i = first_arg; i < o->n_args; i++)
            an_sb_appendf(&sb, "%s%s", i > first_arg ? " " : "", o->args[i]);
        return an_sb_steal(&sb);
    }
    if (isatty(STDIN_FILENO))
        fputs("anemone: reading the prompt from standard input (end with Ctrl-D)\n", stderr);
    an_strbuf sb;
    an_sb_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        an_sb_append(&sb, buf, n);
    return an_sb_steal(&sb);
}

static void print_stats(const cli_model *m, const cli_turn *t, int json)
{
    const pipe_timing *tm = &t->timing;
    double pp = tm->prefill_ms > 0 ? tm->prefill_tokens * 1e3 / tm->prefill_ms : 0;
    double tg = tm->decode_ms > 0 && tm->decode_tokens > 1 ? (tm->decode_tokens - 1) * 1e3 / tm->decode_ms : 0;
    if (json) {
        fprintf(stderr,
                "{\"load_ms\": %.3f, \"prompt_tokens\": %d, \"reused_tokens\": %d, \"prefill_ms\": %.3f, "
                "\"prefill_tps\": %.3f, \"ttft_ms\": %.3f, \"generated_tokens\": %d, \"decode_ms\": %.3f, "
                "\"decode_tps\": %.3f, \"stop_reason\": \"%s\"}\n",
                m->load_ms, tm->prefill_tokens + tm->reused_tokens, tm->reused_tokens, tm->prefill_ms, pp, tm->ttft_ms,
                tm->decode_tokens, tm->decode_ms, tg, pipe_stop_reason_name(t->reason));
        return;
    }
    fprintf(stderr,
            "\nload %.0f ms | prompt %d tok, prefill %.1f t/s | time to first token %.0f ms | "
            "generated %d tok, decode %.1f t/s | stop: %s\n",
            m->load_ms, tm->prefill_tokens, pp, tm->ttft_ms, tm->decode_tokens, tg, pipe_stop_reason_name(t->reason));
    if (an_log_enabled(AN_LOG_INFO))
        fputs("(prefill: new prompt tokens over the time to the first token's logits; decode: tokens after the "
              "first over the time from the first to the last)\n",
              stderr);
}

int cmd_run(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o);
    int rc = cli_opts_parse(&o, RUN_GROUPS, argc, argv, NULL, NULL);
    if (rc)
        return rc;
    if (o.verbose)
        an_log_set_level(o.verbose > 1 ? AN_LOG_DEBUG : AN_LOG_INFO);
    const char *ref = o.model;
    int first_arg = 0;
    if (!ref) {
        if (o.n_args < 1) {
            free(o.args);
            return cli_usage_error("run", "which model? (anemone run MODEL [PROMPT...])");
        }
        ref = o.args[0];
        first_arg = 1;
    }
    an_error err;
    an_error_clear(&err);
    char *prompt = read_prompt(&o, first_arg, &err);
    if (!prompt) {
        cli_error_multiline(err.msg);
        free(o.args);
        return CLI_ERROR;
    }
    cli_model m;
    if (cli_model_open(&o, ref, &m, &err) < 0) {
        cli_error_multiline(err.msg);
        free(prompt);
        free(o.args);
        return CLI_ERROR;
    }
    rc = CLI_ERROR;
    pipe_session *s = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    an_strbuf text;
    an_sb_init(&text);
    if (o.raw) {
        an_sb_puts(&text, prompt);
    } else {
        json_object *msgs = json_object_new_array();
        if (o.system) {
            json_object *sm = json_object_new_object();
            json_object_object_add(sm, "role", json_object_new_string("system"));
            json_object_object_add(sm, "content", json_object_new_string(o.system));
            json_object_array_add(msgs, sm);
        }
        json_object *um = json_object_new_object();
        json_object_object_add(um, "role", json_object_new_string("user"));
        json_object_object_add(um, "content", json_object_new_string(prompt));
        json_object_array_add(msgs, um);
        int r = cli_render(&m, &o, msgs, 1, &text, &err);
        json_object_put(msgs);
        if (r < 0)
            goto out;
    }
    if (cli_tokenize_prompt(&m, text.buf, o.raw, &ids, &n_ids, &err) < 0)
        goto out;
    s = pipe_session_new(m.model, &m.sampling, &err);
    if (!s)
        goto out;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    int dim = o.color == 1 || (o.color < 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
                                !(getenv("TERM") && !strcmp(getenv("TERM"), "dumb")));
    cli_turn turn;
    if (cli_run_turn(&m, s, ids, (int)n_ids, &o, stdout, dim, &interrupted, &turn, &err) < 0) {
        an_sb_free(&turn.text);
        goto out;
    }
    if (turn.reason == PIPE_STOP_CTX_FULL)
        fprintf(stderr, "\nanemone: the context of %d tokens is full; the answer was cut there\n",
                pipe_model_get_info(m.model)->context);
    if (isatty(STDOUT_FILENO))
        fputc('\n', stdout);
    fflush(stdout);
    if (!o.quiet && (o.stats || o.json || isatty(STDERR_FILENO)))
        print_stats(&m, &turn, o.json);
    an_sb_free(&turn.text);
    rc = interrupted ? CLI_INTERRUPTED : CLI_OK;
out:
    if (rc == CLI_ERROR && an_error_isset(&err))
        cli_error_multiline(err.msg);
    pipe_session_free(s);
    free(ids);
    an_sb_free(&text);
    cli_model_close(&m);
    free(prompt);
    free(o.args);
    return rc;
}
