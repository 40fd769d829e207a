/*
 * main.c — entry point: global options, then dispatch to a subcommand.
 *
 *   anemone [-q|-v] [--version] [--help] COMMAND [ARGS...]
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/log.h"

void cli_error(const char *advice, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("anemone: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (advice)
        fprintf(stderr, "%s\n", advice);
}

void cli_error_multiline(const char *msg)
{
    size_t n = strcspn(msg, "\n");
    fprintf(stderr, "anemone: %.*s\n", (int)n, msg);
    if (msg[n] && msg[n + 1])
        fprintf(stderr, "%s\n", msg + n + 1);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cmd)
        fprintf(stderr, "anemone %s: ", cmd);
    else
        fputs("anemone: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "Try 'anemone help %s'.\n", cmd);
    else
        fputs("Try 'anemone --help' for the list of commands.\n", stderr);
    return CLI_USAGE;
}

void cli_print_help(FILE *out)
{
    fputs("usage: anemone [-q|-v] COMMAND [ARGS...]\n"
          "\n"
          "Run ANEMLL large language models (Core ML pipelines) on the CPU.\n"
          "\n"
          "Commands:\n",
          out);
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-11s %s\n", c->name, c->summary);
    fputs("\n"
          "Options:\n"
          "  -h, --help     show this help and exit\n"
          "  -V, --version  show version, build and CPU features, and exit\n"
          "  -q, --quiet    print errors only\n"
          "  -v, --verbose  print more about what is happening (repeat for more)\n"
          "\n"
          "'anemone help COMMAND' shows the options of one command.\n"
          "Exit status: 0 success, 1 error, 2 usage error, 130 interrupted.\n",
          out);
}

int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        cli_print_help(stdout);
        return CLI_OK;
    }
    if (argc > 2)
        return cli_usage_error("help", "too many arguments");
    const cli_command *c = cli_find_command(argv[1]);
    if (!c)
        return cli_usage_error(NULL, "no such command '%s'", argv[1]);
    c->help(stdout);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    int i = 1;
    int verbosity = AN_LOG_WARN;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_print_help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            cli_print_version(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            verbosity = AN_LOG_ERROR;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            if (verbosity < AN_LOG_TRACE)
                verbosity = verbosity < AN_LOG_INFO ? AN_LOG_INFO : verbosity + 1;
        } else {
            return cli_usage_error(NULL, "unknown option '%s'", a);
        }
    }
    an_log_set_level((an_log_level)verbosity);
    if (i >= argc) {
        cli_print_help(stderr);
        return CLI_USAGE;
    }
    const cli_command *c = cli_find_command(argv[i]);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
    /* `anemone CMD --help` is the same as `anemone help CMD`. */
    for (int j = i + 1; j < argc; j++) {
        if (!strcmp(argv[j], "--"))
            break;
        if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
            c->help(stdout);
            return CLI_OK;
        }
    }
    return c->run(argc - i, argv + i);
}
