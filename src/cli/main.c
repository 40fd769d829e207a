/*
 * main.c — entry point: global options, then dispatch to a subcommand.
 *
 *   anemone [-q|-v] [--version] [--help] COMMAND [ARGS...]
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/log.h"

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
