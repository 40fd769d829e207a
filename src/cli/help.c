/* help.c — messages and help shared by every command (kept out of main.c so that
 * tests can link them). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

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
