/* commands.c — the table of subcommands. Add one row per command that exists. */
#include "cli.h"

#include <string.h>

static void help_help(FILE *out)
{
    fputs("usage: anemone help [COMMAND]\n"
          "\n"
          "Show the list of commands, or the full help of one command.\n",
          out);
}

const cli_command cli_commands[] = {
    {"show", "[--program] PATH", "describe a Core ML component (.mlmodelc / .mlpackage)", cmd_show, help_show},
    {"predict", "COMPONENT [-f FUNCTION] -i NAME=FILE.npy ... [-o DIR]",
     "run one Core ML component on .npy inputs, write .npy outputs", cmd_predict, help_predict},
    {"help", "[COMMAND]", "show help for anemone or for one command", cmd_help, help_help},
    {NULL, NULL, NULL, NULL, NULL},
};

const cli_command *cli_find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}
