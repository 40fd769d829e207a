/* tool_fp16.c — conversion filter for test_fp16_numpy.py.
 *   tool_fp16 h2f   stdin: little-endian uint16 halves  -> stdout: uint32 float bits
 *   tool_fp16 f2h   stdin: little-endian uint32 float bits -> stdout: uint16 halves
 * The bulk path is used (F16C when present); `-s` selects the portable path. */
#include <stdio.h>
#include <string.h>

#include "common/fp16.h"

int main(int argc, char **argv)
{
    int i = 1;
    if (i < argc && !strcmp(argv[i], "-s")) {
        an_fp16_set_hw(0);
        i++;
    }
    if (i >= argc)
        return 2;
    static uint16_t h[4096];
    static float f[4096];
    size_t n;
    if (!strcmp(argv[i], "h2f")) {
        while ((n = fread(h, 2, 4096, stdin)) > 0) {
            an_fp16_to_fp32_n(h, f, n);
            fwrite(f, 4, n, stdout);
        }
    } else if (!strcmp(argv[i], "f2h")) {
        while ((n = fread(f, 4, 4096, stdin)) > 0) {
            an_fp32_to_fp16_n(f, h, n);
            fwrite(h, 2, n, stdout);
        }
    } else {
        return 2;
    }
    return 0;
}
