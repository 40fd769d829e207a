/* tool_mil_bench.c — time mil_program_load on a component (or a bare model.mil):
 *   tool_mil_bench PATH [REPEAT]
 * prints bytes of text, ops, best load time and MB/s (MB = 10^6 bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/file.h"
#include "mil/ir.h"
#include "mil/loaders.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tool_mil_bench PATH [REPEAT]\n");
        return 2;
    }
    int rep = argc > 2 ? atoi(argv[2]) : 5;
    double best = 1e30;
    size_t bytes = 0;
    int ops = 0;
    for (int r = 0; r < rep; r++) {
        an_error err = {{0}};
        double t0 = now();
        mil_program *p = mil_program_load(argv[1], &err);
        double t = now() - t0;
        if (!p) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        ops = 0;
        for (int f = 0; f < p->n_functions; f++)
            ops += p->functions[f].n_ops;
        char *src;
        if (r == 0 && an_read_file(p->source, 0, &src, &bytes, &err) == 0)
            free(src);
        if (r == 0)
            fprintf(stderr, "arena: %zu bytes\n", p->arena.total);
        mil_program_free(p);
        if (t < best)
            best = t;
    }
    printf("%zu bytes, %d ops, best of %d: %.1f ms, %.1f MB/s\n", bytes, ops, rep, best * 1e3,
           bytes / best / 1e6);
    return 0;
}
