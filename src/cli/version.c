/* version.c — what `anemone --version` reports. */
#include "cli.h"

#include "common/cpu.h"
#include "gitrev.h"

#ifndef ANEMONE_VERSION
#define ANEMONE_VERSION "unknown"
#endif

void cli_print_version(FILE *out)
{
    fprintf(out, "anemone %s (git %s)\n", ANEMONE_VERSION, ANEMONE_GIT_REV);
#if defined(__clang__)
    fprintf(out, "compiler: clang %s\n", __clang_version__);
#elif defined(__GNUC__)
    fprintf(out, "compiler: gcc %s\n", __VERSION__);
#else
    fprintf(out, "compiler: unknown\n");
#endif
    fprintf(out, "cpu: %s (%d cores, %d threads)\n", an_cpu_features_string(), an_cpu_physical(),
            an_cpu_logical());
    fprintf(out, "backends: mil\n");
}
