/*
 * cmd_pull.c — `anemone pull MODEL`: download a model into the Hugging Face cache and
 * print its local model directory (the last and only line on stdout).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hub/hub.h"

void help_pull(FILE *out)
{
    fputs("usage: anemone pull MODEL [OPTIONS]\n"
          "\n"
          "Download an ANEMLL model from Hugging Face into the standard cache (shared with\n"
          "'hf download') and print its local model directory on stdout. Fetches meta.yaml,\n"
          "the components it names (.mlmodelc directories or .mlmodelc.zip files, unpacked\n"
          "once into anemone's cache) and the tokenizer and config files; nothing else unless\n"
          "--include asks. Interrupted downloads resume where they stopped; every file is\n"
          "checked against its SHA-256 (LFS) or git hash before it enters the cache.\n"
          "\n"
          "MODEL is org/name, org/name@REVISION, hf://org/name[@REVISION], or a local directory.\n"
          "\n"
          "Options:\n"
          "  --revision REV     branch, tag or commit (default: main, or the @REVISION)\n"
          "  --include GLOB     also fetch files matching GLOB ('*' matches '/'); repeatable\n"
          "  --exclude GLOB     never fetch files matching GLOB; repeatable\n"
          "  --offline          use only the cache (also HF_HUB_OFFLINE=1)\n"
          "  --cache-dir DIR    the Hugging Face hub cache (default: $HF_HUB_CACHE, $HF_HOME/hub)\n"
          "  --token TOKEN      Hugging Face token (default: $HF_TOKEN, then $HF_HOME/token)\n"
          "\n"
          "Progress goes to stderr when it is a terminal (HF_HUB_DISABLE_PROGRESS_BARS=1 hides it).\n",
          out);
}

int cmd_pull(int argc, char **argv)
{
    hub_options o = HUB_OPTIONS_INIT;
    const char *model = NULL;
    const char **inc = calloc((size_t)argc, sizeof *inc), **exc = calloc((size_t)argc, sizeof *exc);
    int rc = CLI_USAGE;
    if (!inc || !exc) {
        cli_error(NULL, "out of memory");
        rc = CLI_ERROR;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--offline")) {
            o.offline = 1;
        } else if (!strcmp(a, "--revision") || !strcmp(a, "--include") || !strcmp(a, "--exclude") ||
                   !strcmp(a, "--cache-dir") || !strcmp(a, "--token")) {
            if (!has_val) {
                rc = cli_usage_error("pull", "%s needs a value", a);
                goto out;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--revision"))
                o.revision = v;
            else if (!strcmp(a, "--include"))
                inc[o.n_include++] = v;
            else if (!strcmp(a, "--exclude"))
                exc[o.n_exclude++] = v;
            else if (!strcmp(a, "--cache-dir"))
                o.cache_dir = v;
            else
                o.token = v;
        } else if (a[0] == '-' && a[1] && strcmp(a, "-")) {
            rc = cli_usage_error("pull", "unknown option '%s'", a);
            goto out;
        } else if (!model) {
            model = a;
        } else {
            rc = cli_usage_error("pull", "too many arguments");
            goto out;
        }
    }
    if (!model) {
        rc = cli_usage_error("pull", "missing MODEL");
        goto out;
    }
    o.include = inc;
    o.exclude = exc;
    char *dir = NULL;
    an_error err;
    an_error_clear(&err);
    if (hub_resolve_model(model, &o, &dir, &err) != 0) {
        cli_error_multiline(err.msg);
        rc = CLI_ERROR;
        goto out;
    }
    printf("%s\n", dir);
    free(dir);
    rc = fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
out:
    free(inc);
    free(exc);
    return rc;
}
