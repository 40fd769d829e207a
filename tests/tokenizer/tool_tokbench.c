/*
 * tool_tokbench — time tokenizer loading and encoding (used by scripts/bench-tokenizer).
 *
 *   tool_tokbench TOKENIZER_PATH TEXT_FILE [REPEATS]
 *
 * Prints one JSON object: load_ms (best of 3), encode_ms (best of REPEATS, one thread, the
 * whole file as one text, add_special=0, word cache cleared before each run by reloading),
 * the same two as CPU time of the process (load_cpu_ms, encode_cpu_ms: steadier than wall
 * time on a busy machine), n_tokens, bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/file.h"
#include "tokenizer/tokenizer.h"

static double clock_ms(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static double cpu_ms(void) { return clock_ms(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tool_tokbench TOKENIZER_PATH TEXT_FILE [REPEATS]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    an_error err;
    an_error_clear(&err);
    char *text;
    size_t len;
    if (an_read_file(argv[2], 0, &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double best_load = 1e30, best_enc = 1e30, best_load_cpu = 1e30, best_enc_cpu = 1e30;
    size_t n = 0;
    for (int i = 0; i < (reps > 3 ? reps : 3); i++) {
        double c0 = cpu_ms(), t0 = now_ms();
        tok_tokenizer *tok = tok_load(argv[1], &err);
        double t1 = now_ms(), c1 = cpu_ms();
        if (!tok) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (t1 - t0 < best_load)
            best_load = t1 - t0;
        if (c1 - c0 < best_load_cpu)
            best_load_cpu = c1 - c0;
        if (i < reps) {
            int32_t *ids;
            double c2 = cpu_ms(), t2 = now_ms();
            if (tok_encode(tok, text, len, 0, &ids, &n, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            double t3 = now_ms(), c3 = cpu_ms();
            if (c3 - c2 < best_enc_cpu)
                best_enc_cpu = c3 - c2;
            free(ids);
            if (t3 - t2 < best_enc)
                best_enc = t3 - t2;
        }
        tok_free(tok);
    }
    printf("{\"load_ms\": %.1f, \"encode_ms\": %.2f, \"load_cpu_ms\": %.1f, "
           "\"encode_cpu_ms\": %.2f, \"n_tokens\": %zu, \"bytes\": %zu}\n",
           best_load, best_enc, best_load_cpu, best_enc_cpu, n, len);
    free(text);
    return 0;
}
