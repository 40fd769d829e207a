/* cmd_chat.c — `anemone chat MODEL`: the interactive REPL (CLI.md "chat REPL").
 *
 * Each turn re-renders the whole conversation with the model's template and prefills only
 * what the KV state does not already hold (pipeline/session.h). With stdin or stdout not
 * a terminal there is no banner, prompt, colour or line editing: lines are read as turns. */
#include <errno.h>
#include <readline/history.h>
#include <readline/readline.h>
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

#define CHAT_GROUPS (CLI_G_MODEL | CLI_G_PROMPT | CLI_G_GEN | CLI_G_OUTPUT)
#define CHAT_HISTORY_MAX 1000

static volatile sig_atomic_t interrupted;
static int at_prompt;
static int continuing;   /* reading a continuation line ("... ") of a multi-line input */
static int input_dropped; /* Ctrl-C there: the lines read so far are thrown away */

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Ctrl-C while reading a line: say how to leave and start a fresh line. Inside a
 * multi-line input it drops the lines read so far and goes back to the ">>> " prompt
 * (readline keeps waiting for a key, so read_input learns it from input_dropped). */
static int signal_hook(void)
{
    if (interrupted && at_prompt) {
        interrupted = 0;
        rl_replace_line("", 0);
        rl_crlf();
        if (continuing) {
            input_dropped = 1;
            fputs("(input dropped)\n", stderr);
            rl_set_prompt(">>> ");
        } else {
            fputs("(type /bye or press Ctrl-D to leave)\n", stderr);
        }
        rl_on_new_line();
        rl_redisplay();
    }
    return 0;
}

void help_chat(FILE *out)
{
    fputs("usage: anemone chat MODEL [options]\n"
          "\n"
          "Interactive chat. Each turn prefills only the new tokens: earlier turns stay in the\n"
          "model's KV cache. Multi-line input between \"\"\" and \"\"\", or end a line with \\.\n"
          "Ctrl-C stops an answer (or its prefill), or drops a multi-line input; Ctrl-D leaves.\n"
          "\n"
          "Commands at the prompt:\n"
          "  /help                 this list\n"
          "  /bye, /exit           leave\n"
          "  /clear                forget the conversation (keeps the system prompt)\n"
          "  /regen                answer the last message again\n"
          "  /set PARAM VALUE      temp, top_k, top_p, min_p, repeat_penalty, repeat_last_n,\n"
          "                        presence_penalty, frequency_penalty, seed, n_predict\n"
          "  /set system TEXT      replace the system prompt\n"
          "  /show                 model, parameters and context use\n"
          "  /save FILE, /load FILE  the conversation as JSON\n"
          "  /think                toggle thinking (templates with enable_thinking)\n"
          "\n"
          "History is kept in $XDG_STATE_HOME/anemone/history unless ANEMONE_NOHISTORY is set.\n",
          out);
    cli_opts_help(out, CHAT_GROUPS);
}

typedef struct chat {
    cli_opts *o;
    cli_model m;
    pipe_session *s;
    json_object *msgs;      /* the conversation */
    char *system;           /* current system prompt, or NULL */
    int tty, color;
    char *history_path;
} chat;

static json_object *message(const char *role, const char *content)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string(role));
    json_object_object_add(m, "content", json_object_new_string(content));
    return m;
}

static void reset_messages(chat *c)
{
    json_object_put(c->msgs);
    c->msgs = json_object_new_array();
    if (c->system)
        json_object_array_add(c->msgs, message("system", c->system));
}

/* Drop the oldest non-system message pair; 0 when nothing can go. */
static int drop_oldest_turn(chat *c)
{
    size_t n = json_object_array_length(c->msgs), first = 0;
    if (n && c->system)
        first = 1;
    if (n <= first + 1)
        return 0;
    json_object_array_del_idx(c->msgs, first, n - first >= 3 ? 2 : 1);
    return 1;
}

/* Render the conversation and tokenize it; with --ctx-overflow shift, drop the oldest
 * turns until the prompt fits with room to answer. */
static int build_prompt(chat *c, int32_t **ids, size_t *n, an_error *err)
{
    int C = pipe_model_get_info(c->m.model)->context;
    for (;;) {
        an_strbuf text;
        an_sb_init(&text);
        int r = cli_render(&c->m, c->o, c->msgs, 1, &text, err);
        if (r == 0)
            r = cli_tokenize_prompt(&c->m, text.buf, 0, ids, n, err);
        an_sb_free(&text);
        if (r < 0)
            return -1;
        if ((int)*n < C - 1)
            return 0;
        if (!c->o->ctx_shift || !drop_oldest_turn(c))
            return an_errorf(err, "the conversation is %zu tokens; the context holds %d%s", *n, C,
                             c->o->ctx_shift ? "" : " (use /clear, or --ctx-overflow shift to drop old turns)");
        fprintf(stderr, "anemone: context full: dropped the oldest turn to make room\n");
        free(*ids);
        *ids = NULL;
    }
}

/* The tokens the session generated after the prompt of the last turn. */
static int32_t *answer_tokens(pipe_session *s, int n_prompt, int *n)
{
    int total;
    const int32_t *all = pipe_session_tokens(s, &total);
    *n = total > n_prompt ? total - n_prompt : 0;
    int32_t *ids = malloc((size_t)(*n + 1) * sizeof *ids);
    if (ids && *n)
        memcpy(ids, all + n_prompt, (size_t)*n * sizeof *ids);
    return ids;
}

static int answer(chat *c)
{
    an_error err;
    an_error_clear(&err);
    int32_t *ids = NULL;
    size_t n = 0;
    if (build_prompt(c, &ids, &n, &err) < 0) {
        cli_error_multiline(err.msg);
        /* the message that does not fit is not kept */
        size_t k = json_object_array_length(c->msgs);
        if (k)
            json_object_array_del_idx(c->msgs, k - 1, 1);
        return -1;
    }
    an_strbuf said;
    an_sb_init(&said);
    cli_turn turn;
    int budget = c->o->n_predict, rc = 0;
    for (;;) {
        int r = cli_run_turn(&c->m, c->s, ids, (int)n, c->o, stdout, c->color, &interrupted, &turn, &err);
        if (r < 0) {
            cli_error_multiline(err.msg);
            an_sb_free(&turn.text);
            rc = -1;
            break;
        }
        an_sb_append(&said, turn.text.buf, turn.text.len);
        if (turn.reason != PIPE_STOP_CTX_FULL || !c->o->ctx_shift || !drop_oldest_turn(c))
            break;
        /* --ctx-overflow shift: drop the oldest turn, re-render, put the answer so far
         * after the generation prompt and carry on from there */
        int n_ans;
        int32_t *ans = answer_tokens(c->s, (int)n, &n_ans);
        free(ids);
        ids = NULL;
        an_sb_free(&turn.text);
        if (c->o->n_predict != CLI_UNSET_I && c->o->n_predict >= 0) {
            c->o->n_predict -= turn.timing.decode_tokens;
            if (c->o->n_predict <= 0) {
                free(ans);
                break;
            }
        }
        if (!ans || build_prompt(c, &ids, &n, &err) < 0) {
            cli_error(NULL, "%s", ans ? err.msg : "out of memory");
            free(ans);
            rc = -1;
            break;
        }
        int32_t *joined = realloc(ids, (n + (size_t)n_ans) * sizeof *ids);
        if (!joined || (int)(n + (size_t)n_ans) >= pipe_model_get_info(c->m.model)->context - 1) {
            free(joined ? joined : ids);
            ids = NULL;
            free(ans);
            fputs("\nanemone: the answer alone fills the context; it was cut there\n", stderr);
            break;
        }
        ids = joined;
        memcpy(ids + n, ans, (size_t)n_ans * sizeof *ids);
        n += (size_t)n_ans;
        free(ans);
        fputs("\n[context full: dropped the oldest turn and continued]\n", stderr);
    }
    c->o->n_predict = budget;
    free(ids);
    if (rc < 0) {
        an_sb_free(&said);
        return -1;
    }
    if (turn.reason == PIPE_STOP_CANCELLED && !said.len) {
        /* stopped before the first word of the answer (in the prefill, mostly): the
         * question stays unanswered and leaves the conversation */
        size_t k = json_object_array_length(c->msgs);
        json_object_array_del_idx(c->msgs, k - 1, 1);
        fputs("\n[interrupted]\n", stderr);
    } else {
        /* a cut answer stays in the history, closed as a normal assistant turn */
        json_object_array_add(c->msgs, message("assistant", said.buf));
        fputc('\n', stdout);
        if (turn.reason == PIPE_STOP_CANCELLED)
            fputs("[interrupted]\n", stderr);
        else if (turn.reason == PIPE_STOP_CTX_FULL)
            fputs("anemone: the context is full; the answer was cut there (/clear, or --ctx-overflow shift)\n",
                  stderr);
    }
    fflush(stdout);
    if (!c->o->quiet) {
        int used;
        pipe_session_tokens(c->s, &used);
        char footer[200];
        cli_format_footer(&turn, used, pipe_model_get_info(c->m.model)->context, footer, sizeof footer);
        fprintf(stderr, "%s\n", footer);
    }
    an_sb_free(&turn.text);
    an_sb_free(&said);
    interrupted = 0;
    return 0;
}

static int set_param(chat *c, const char *name, const char *value)
{
    pipe_sampler_params *p = &c->m.sampling;
    char *end;
    double v = strtod(value, &end);
    if (!strcmp(name, "system")) {
        free(c->system);
        c->system = strdup(value);
        size_t n = json_object_array_length(c->msgs);
        json_object *first = n ? json_object_array_get_idx(c->msgs, 0) : NULL;
        json_object *role;
        if (first && json_object_object_get_ex(first, "role", &role) && !strcmp(json_object_get_string(role), "system"))
            json_object_array_put_idx(c->msgs, 0, message("system", value));
        else {
            json_object *nm = json_object_new_array();
            json_object_array_add(nm, message("system", value));
            for (size_t i = 0; i < n; i++)
                json_object_array_add(nm, json_object_get(json_object_array_get_idx(c->msgs, i)));
            json_object_put(c->msgs);
            c->msgs = nm;
        }
        return 0;
    }
    /* -1 means "no limit" for the token counts, as on the command line */
    int minus_one_ok = !strcmp(name, "n_predict") || !strcmp(name, "n-predict") ||
                       !strcmp(name, "repeat_last_n") || !strcmp(name, "repeat-last-n");
    if (end == value || *end || (v < 0 && !(minus_one_ok && v == -1))) {
        fprintf(stderr, "anemone: /set %s wants a non-negative number%s\n", name, minus_one_ok ? " or -1" : "");
        return -1;
    }
    if (!strcmp(name, "temp") || !strcmp(name, "temperature"))
        p->temp = (float)v, p->greedy = v == 0;
    else if (!strcmp(name, "top_k") || !strcmp(name, "top-k"))
        p->top_k = (int)v;
    else if (!strcmp(name, "top_p") || !strcmp(name, "top-p"))
        p->top_p = (float)v;
    else if (!strcmp(name, "min_p") || !strcmp(name, "min-p"))
        p->min_p = (float)v;
    else if (!strcmp(name, "repeat_penalty") || !strcmp(name, "repeat-penalty"))
        p->repeat_penalty = (float)v;
    else if (!strcmp(name, "repeat_last_n") || !strcmp(name, "repeat-last-n"))
        p->repeat_last_n = (int)v;
    else if (!strcmp(name, "presence_penalty") || !strcmp(name, "presence-penalty"))
        p->presence_penalty = (float)v;
    else if (!strcmp(name, "frequency_penalty") || !strcmp(name, "frequency-penalty"))
        p->frequency_penalty = (float)v;
    else if (!strcmp(name, "seed"))
        p->seed = (uint64_t)v;
    else if (!strcmp(name, "n_predict") || !strcmp(name, "n-predict"))
        c->o->n_predict = (int)v;
    else {
        fprintf(stderr, "anemone: /set: unknown parameter '%s' (see /help)\n", name);
        return -1;
    }
    an_error err;
    if (pipe_session_set_sampling(c->s, p, &err) < 0) {
        cli_error_multiline(err.msg);
        return -1;
    }
    return 0;
}

static void show(chat *c)
{
    const pipe_model_info *i = pipe_model_get_info(c->m.model);
    const pipe_sampler_params *p = &c->m.sampling;
    int used;
    pipe_session_tokens(c->s, &used);
    fprintf(stderr, "model: %s (%s)\n", i->meta->name ? i->meta->name : "?", c->m.dir);
    fprintf(stderr, "architecture: %s, %d chunk(s), context %d, batch %d, vocabulary %d, backend %s\n",
            i->meta->architecture ? i->meta->architecture : "?", i->n_chunks, i->context, i->batch, i->vocab, i->backend);
    fprintf(stderr, "sampling: %s temp %.2f, top_k %d, top_p %.2f, min_p %.2f, repeat_penalty %.2f (last %d), "
                    "presence %.2f, frequency %.2f, seed %llu\n",
            p->greedy ? "greedy;" : "", p->temp, p->top_k, p->top_p, p->min_p, p->repeat_penalty, p->repeat_last_n,
            p->presence_penalty, p->frequency_penalty, (unsigned long long)p->seed);
    fprintf(stderr, "thinking: %s; context used: %d of %d tokens; %zu messages\n",
            c->o->think < 0 ? "template default" : c->o->think ? "on" : "off", used, i->context,
            json_object_array_length(c->msgs));
}

/* NULL when j is a conversation /load can take: an array of objects with string "role"
 * and "content"; else what is wrong with it. */
static const char *valid_messages(json_object *j)
{
    if (!j || !json_object_is_type(j, json_type_array))
        return "not a JSON array of messages";
    for (size_t i = 0; i < json_object_array_length(j); i++) {
        json_object *m = json_object_array_get_idx(j, i), *v;
        if (!json_object_is_type(m, json_type_object))
            return "a message is not a JSON object";
        if (!json_object_object_get_ex(m, "role", &v) || !json_object_is_type(v, json_type_string) ||
            !json_object_object_get_ex(m, "content", &v) || !json_object_is_type(v, json_type_string))
            return "a message lacks a string \"role\" or \"content\"";
    }
    return NULL;
}

/* Returns 1 to leave. */
static int slash(chat *c, char *line)
{
    char *cmd = strtok(line, " \t"), *arg = strtok(NULL, "");
    while (arg && (*arg == ' ' || *arg == '\t'))
        arg++;
    if (!strcmp(cmd, "/bye") || !strcmp(cmd, "/exit") || !strcmp(cmd, "/quit"))
        return 1;
    if (!strcmp(cmd, "/help") || !strcmp(cmd, "/?")) {
        help_chat(stderr);
    } else if (!strcmp(cmd, "/clear")) {
        reset_messages(c);
        fputs("(conversation cleared)\n", stderr);
    } else if (!strcmp(cmd, "/regen")) {
        size_t n = json_object_array_length(c->msgs);
        json_object *last = n ? json_object_array_get_idx(c->msgs, n - 1) : NULL, *role;
        if (last && json_object_object_get_ex(last, "role", &role) && !strcmp(json_object_get_string(role), "assistant")) {
            json_object_array_del_idx(c->msgs, n - 1, 1);
            answer(c);
        } else {
            fputs("anemone: /regen: no answer to redo\n", stderr);
        }
    } else if (!strcmp(cmd, "/set")) {
        char *name = arg ? strtok(arg, " \t") : NULL, *value = name ? strtok(NULL, "") : NULL;
        if (!name || !value)
            fputs("anemone: /set PARAM VALUE (see /help)\n", stderr);
        else
            set_param(c, name, value);
    } else if (!strcmp(cmd, "/show")) {
        show(c);
    } else if (!strcmp(cmd, "/save")) {
        an_error err;
        const char *js = json_object_to_json_string_ext(c->msgs, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!arg || !*arg)
            fputs("anemone: /save FILE\n", stderr);
        else if (an_write_file_atomic(arg, js, strlen(js), &err) < 0)
            cli_error_multiline(err.msg);
        else
            fprintf(stderr, "(saved %zu messages to %s)\n", json_object_array_length(c->msgs), arg);
    } else if (!strcmp(cmd, "/load")) {
        json_object *j = arg && *arg ? json_object_from_file(arg) : NULL;
        const char *bad = valid_messages(j);
        if (bad) {
            fprintf(stderr, "anemone: /load: %s: %s\n", arg && *arg ? arg : "(no file)", bad);
            json_object_put(j);
        } else {
            json_object_put(c->msgs);
            c->msgs = j;
            /* its system prompt (or none) is the one /clear keeps from now on */
            free(c->system);
            c->system = NULL;
            json_object *first = json_object_array_length(j) ? json_object_array_get_idx(j, 0) : NULL, *v;
            if (first && json_object_object_get_ex(first, "role", &v) && !strcmp(json_object_get_string(v), "system") &&
                json_object_object_get_ex(first, "content", &v))
                c->system = strdup(json_object_get_string(v));
            fprintf(stderr, "(loaded %zu messages)\n", json_object_array_length(j));
        }
    } else if (!strcmp(cmd, "/think")) {
        c->o->think = c->o->think == 1 ? 0 : 1;
        fprintf(stderr, "(thinking %s)\n", c->o->think ? "on" : "off");
    } else {
        fprintf(stderr, "anemone: unknown command %s (try /help)\n", cmd);
    }
    return 0;
}

/* One input: a line, a \-continued block or a """ block. NULL at end of input. */
static char *read_input(chat *c)
{
    an_strbuf sb;
    an_sb_init(&sb);
    int in_block = 0, first = 1, lines = 0; /* lines: of the """ block's text so far */
    /* a Ctrl-C from now on belongs to this input's turn (one pressed earlier, during a
     * slash command, does not cut the next answer) */
    interrupted = 0;
    for (;;) {
        char *line;
        if (c->tty) {
            at_prompt = 1;
            continuing = !first;
            input_dropped = 0;
            line = readline(first ? ">>> " : "... ");
            at_prompt = 0;
            if (input_dropped) { /* what was typed after Ctrl-C starts a new input */
                an_sb_free(&sb);
                an_sb_init(&sb);
                in_block = 0;
                lines = 0;
                first = 1;
            }
        } else {
            char *buf = NULL;
            size_t cap = 0;
            ssize_t got = getline(&buf, &cap, stdin);
            if (got < 0) {
                free(buf);
                line = NULL;
            } else {
                if (got > 0 && buf[got - 1] == '\n')
                    buf[got - 1] = '\0';
                line = buf;
            }
        }
        if (!line) {
            if (sb.len) /* end of input inside a block: use what there is */
                return an_sb_steal(&sb);
            an_sb_free(&sb);
            return NULL;
        }
        size_t n = strlen(line);
        if (first && !strncmp(line, "\"\"\"", 3)) {
            in_block = 1;
            an_sb_puts(&sb, line + 3);
            lines = n > 3; /* a bare """ opens the block without starting its text */
            if (n > 6 && !strcmp(line + n - 3, "\"\"\"")) { /* """one line""" */
                sb.len -= 3;
                sb.buf[sb.len] = '\0';
                free(line);
                break;
            }
        } else if (in_block) {
            if (n >= 3 && !strcmp(line + n - 3, "\"\"\"")) {
                if (lines)
                    an_sb_putc(&sb, '\n');
                an_sb_append(&sb, line, n - 3);
                free(line);
                break;
            }
            if (lines++)
                an_sb_putc(&sb, '\n');
            an_sb_puts(&sb, line);
        } else if (n > 0 && line[n - 1] == '\\') {
            an_sb_append(&sb, line, n - 1);
            an_sb_putc(&sb, '\n');
        } else {
            an_sb_puts(&sb, line);
            free(line);
            break;
        }
        free(line);
        first = 0;
    }
    return an_sb_steal(&sb);
}

static char *history_file(void)
{
    if (getenv("ANEMONE_NOHISTORY"))
        return NULL;
    const char *state = getenv("XDG_STATE_HOME");
    char *dir;
    if (state && *state)
        dir = an_path_join(state, "anemone");
    else {
        const char *home = getenv("HOME");
        if (!home)
            return NULL;
        dir = an_path_join(home, ".local/state/anemone");
    }
    an_error err;
    char *path = NULL;
    if (dir && an_mkdir_p(dir, 0700, &err) == 0)
        path = an_path_join(dir, "history");
    free(dir);
    return path;
}

int cmd_chat(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o);
    int rc = cli_opts_parse(&o, CHAT_GROUPS, argc, argv, NULL, NULL);
    if (rc)
        return rc;
    const char *ref = o.model ? o.model : o.n_args ? o.args[0] : NULL;
    if (!ref || o.n_args > (o.model ? 0 : 1)) {
        free(o.args);
        return cli_usage_error("chat", ref ? "too many arguments" : "which model? (anemone chat MODEL)");
    }
    chat c;
    memset(&c, 0, sizeof c);
    c.o = &o;
    c.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    c.color = o.color == 1 || (o.color < 0 && c.tty && !getenv("NO_COLOR") &&
                               !(getenv("TERM") && !strcmp(getenv("TERM"), "dumb")));
    an_error err;
    if (c.tty && !o.quiet)
        fprintf(stderr, "loading %s ...\n", ref);
    if (cli_model_open(&o, ref, &c.m, &err) < 0) {
        cli_error_multiline(err.msg);
        free(o.args);
        return CLI_ERROR;
    }
    c.s = pipe_session_new(c.m.model, &c.m.sampling, &err);
    if (!c.s) {
        cli_error_multiline(err.msg);
        cli_model_close(&c.m);
        free(o.args);
        return CLI_ERROR;
    }
    c.system = o.system ? strdup(o.system) : NULL;
    reset_messages(&c);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a read at the prompt returns to readline's hook */
    sigaction(SIGINT, &sa, NULL);
    if (c.tty) {
        rl_catch_signals = 0;
        rl_signal_event_hook = signal_hook;
        c.history_path = history_file();
        if (c.history_path) {
            /* Each entry is written after a "#<seconds>" line, so an entry of several lines
             * (a """ block or \-continued input) reads back as one: readline joins the
             * lines up to the next timestamp when the file starts with one. A file written
             * without timestamps still reads as one entry per line. */
            history_comment_char = '#';
            history_write_timestamps = 1;
            stifle_history(CHAT_HISTORY_MAX); /* the file keeps the newest entries only */
            read_history(c.history_path);
        }
        if (!o.quiet) {
            const pipe_model_info *i = pipe_model_get_info(c.m.model);
            fprintf(stderr, "%s: context %d tokens, loaded in %.0f ms. /help for commands, Ctrl-D to leave.\n",
                    i->meta->name ? i->meta->name : ref, i->context, c.m.load_ms);
        }
    }
    for (;;) {
        char *in = read_input(&c);
        if (!in)
            break;
        char *p = in;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) {
            free(in);
            continue;
        }
        if (c.tty && c.history_path)
            add_history(in);
        if (p[0] == '/' && strncmp(p, "//", 2)) {
            int leave = slash(&c, p);
            free(in);
            if (leave)
                break;
            continue;
        }
        json_object_array_add(c.msgs, message("user", in));
        free(in);
        answer(&c);
    }
    if (c.tty) {
        if (c.history_path)
            write_history(c.history_path);
        fputc('\n', stderr);
    }
    free(c.history_path);
    free(c.system);
    json_object_put(c.msgs);
    pipe_session_free(c.s);
    cli_model_close(&c.m);
    free(o.args);
    return CLI_OK;
}
