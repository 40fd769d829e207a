/*
 * cmd_rm.c — `anemone rm MODEL`: remove a model's snapshots and the blobs only they use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hub/hub.h"

void help_rm(FILE *out)
{
    fputs("usage: anemone rm MODEL [-y] [--revision REV] [--cache-dir DIR]\n"
          "\n"
          "Remove a model from the Hugging Face cache: its snapshots (all of them, or the one\n"
          "named by @REVISION / --revision), the files no other snapshot uses, and anemone's\n"
          "unpacked copies of them. Asks first unless -y is given.\n"
          "\n"
          "Options:\n"
          "  -y, --yes          do not ask\n"
          "  --revision REV     only this branch, tag or commit\n"
          "  --cache-dir DIR    the Hugging Face hub cache\n",
          out);
}

int cmd_rm(int argc, char **argv)
{
    hub_options o = HUB_OPTIONS_INIT;
    const char *model = NULL;
    int yes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-y") || !strcmp(a, "--yes"))
            yes = 1;
        else if ((!strcmp(a, "--revision") || !strcmp(a, "--cache-dir")) && i + 1 < argc)
            *(!strcmp(a, "--revision") ? &o.revision : &o.cache_dir) = argv[++i];
        else if (a[0] == '-')
            return cli_usage_error("rm", "unknown option '%s'", a);
        else if (!model)
            model = a;
        else
            return cli_usage_error("rm", "too many arguments");
    }
    if (!model)
        return cli_usage_error("rm", "missing MODEL");
    hub_removal plan;
    an_error err;
    an_error_clear(&err);
    if (hub_plan_removal(model, &o, &plan, &err) != 0) {
        cli_error_multiline(err.msg);
        return CLI_ERROR;
    }
    fprintf(stderr, "%s: %zu snapshot%s (", plan.repo_id, plan.n_commits, plan.n_commits == 1 ? "" : "s");
    for (size_t i = 0; i < plan.n_commits; i++)
        fprintf(stderr, "%s%.12s", i ? ", " : "", plan.commits[i]);
    fprintf(stderr, "), %zu file%s only they use, %.1f MB\n", plan.n_blobs, plan.n_blobs == 1 ? "" : "s",
            (double)plan.bytes / 1e6);
    int rc = CLI_OK;
    if (!yes) {
        fputs("Remove? [y/N] ", stderr);
        fflush(stderr);
        char line[64];
        if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y')) {
            fputs("anemone: nothing removed\n", stderr);
            hub_removal_free(&plan);
            return CLI_ERROR;
        }
    }
    if (hub_remove(&plan, &o, &err) != 0) {
        cli_error_multiline(err.msg);
        rc = CLI_ERROR;
    } else {
        fprintf(stderr, "removed %s\n", plan.repo_id);
    }
    hub_removal_free(&plan);
    return rc;
}
