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
    {"help", "[COMMAND]", "show help for anemone or for one command", cmd_help, help_help},
    {"pull", "MODEL", "download a model from Hugging Face into the cache", cmd_pull, help_pull},
    {"ls", "", "list the models in the cache", cmd_ls, help_ls},
    {"rm", "MODEL", "remove a model from the cache", cmd_rm, help_rm},
    {NULL, NULL, NULL, NULL, NULL},
};

const cli_command *cli_find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}
