/*
 * cmd_ls.c — `anemone ls`: the ANEMLL models in the Hugging Face cache.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hub/hub.h"

void help_ls(FILE *out)
{
    fputs("usage: anemone ls [--cache-dir DIR]\n"
          "\n"
          "List the ANEMLL models (snapshots holding meta.yaml) in the Hugging Face cache:\n"
          "repo, revision (commit), size on disk, last modified and the refs naming it.\n"
          "The size counts the distinct files the snapshot uses.\n",
          out);
}

static void human_size(char *out, size_t n, unsigned long long b)
{
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1000 && i < 4)
        v /= 1000, i++;
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

int cmd_ls(int argc, char **argv)
{
    hub_options o = HUB_OPTIONS_INIT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc)
            o.cache_dir = argv[++i];
        else
            return cli_usage_error("ls", "unexpected argument '%s'", argv[i]);
    }
    hub_cached_model *m = NULL;
    size_t n = 0;
    an_error err;
    an_error_clear(&err);
    if (hub_list_cached(&o, &m, &n, &err) != 0) {
        cli_error_multiline(err.msg);
        return CLI_ERROR;
    }
    if (n)
        printf("%-40s %-12s %10s  %-16s  %s\n", "REPO", "REVISION", "SIZE", "MODIFIED", "REFS");
    for (size_t i = 0; i < n; i++) {
        char size[32], when[32];
        human_size(size, sizeof size, m[i].size);
        time_t t = (time_t)m[i].mtime;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        printf("%-40s %-12.12s %10s  %-16s  %s\n", m[i].repo_id, m[i].commit, size, when, m[i].refs);
    }
    hub_cached_models_free(m, n);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}
