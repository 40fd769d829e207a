/*
 * cli.h — the command-line front end: dispatcher, command table, shared helpers.
 *
 * The CLI is a thin layer: each subcommand lives in its own file (cmd_<name>.c) with
 * one entry point `int cmd_<name>(int argc, char **argv)` that receives the arguments
 * after the command name (argv[0] is the command name) and returns an exit status.
 * Only this folder prints user-facing errors and chooses exit codes (CLI.md).
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

/* Exit statuses (CLI.md). */
enum {
    CLI_OK = 0,
    CLI_ERROR = 1,
    CLI_USAGE = 2,
    CLI_INTERRUPTED = 130,
};

typedef struct cli_command {
    const char *name;
    const char *synopsis; /* arguments after the name, e.g. "MODEL [PROMPT...]" */
    const char *summary;  /* one line for `anemone --help` */
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out); /* full help for `anemone help NAME` / `NAME --help` */
} cli_command;

/* Every command that exists, in the order --help lists them; NULL-name terminated. */
extern const cli_command cli_commands[];

const cli_command *cli_find_command(const char *name);

/* Print "anemone: <msg>" and, when advice is not NULL, a second line with it. */
void cli_error(const char *advice, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A usage error: "anemone <cmd>: <msg>" + "Try 'anemone help <cmd>'."; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Version text for --version (several lines). */
void cli_print_version(FILE *out);

/* Top-level help. */
void cli_print_help(FILE *out);

/* Print a library error message: its first line as "anemone: <line>", the rest (advice)
 * as they are. */
void cli_error_multiline(const char *msg);

int cmd_help(int argc, char **argv);
int cmd_run(int argc, char **argv);
void help_run(FILE *out);
int cmd_chat(int argc, char **argv);
void help_chat(FILE *out);
int cmd_bench(int argc, char **argv);
void help_bench(FILE *out);
int cmd_show(int argc, char **argv);
void help_show(FILE *out);
int cmd_predict(int argc, char **argv);
void help_predict(FILE *out);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
void help_tokenize(FILE *out);
void help_detokenize(FILE *out);
int cmd_template(int argc, char **argv);
void help_template(FILE *out);
int cmd_pull(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
void help_pull(FILE *out);
void help_ls(FILE *out);
void help_rm(FILE *out);

#endif
