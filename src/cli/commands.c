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
    {"run", "MODEL [PROMPT...]", "one-shot completion, streamed to stdout", cmd_run, help_run},
    {"chat", "MODEL", "interactive chat that keeps earlier turns in the KV cache", cmd_chat, help_chat},
    {"bench", "MODEL", "tokens/s benchmark in the style of llama-bench", cmd_bench, help_bench},
    {"pull", "MODEL", "download a model from Hugging Face into the cache", cmd_pull, help_pull},
    {"ls", "", "list the models in the cache", cmd_ls, help_ls},
    {"rm", "MODEL", "remove a model from the cache", cmd_rm, help_rm},
    {"show", "[--program] MODEL|PATH", "describe a model, or one Core ML component", cmd_show, help_show},
    {"tokenize", "MODEL TEXT", "print the token ids of a text (JSON array)", cmd_tokenize, help_tokenize},
    {"detokenize", "MODEL ID...", "print the text of token ids", cmd_detokenize, help_detokenize},
    {"template", "MODEL --messages FILE", "print the rendered chat prompt of a conversation", cmd_template,
     help_template},
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
