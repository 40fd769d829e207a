/* tool_sample.c — draw from the sampler, for test_sampler.py.
 *   tool_sample N TEMP TOP_K TOP_P MIN_P REPEAT_PENALTY PRESENCE FREQUENCY SEED LOGITS... [-- HISTORY...]
 * prints the count of each token id drawn, one line per id: "id count". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/sampler.h"

int main(int argc, char **argv)
{
    if (argc < 11)
        return 2;
    int draws = atoi(argv[1]);
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    p.temp = strtof(argv[2], NULL);
    p.top_k = atoi(argv[3]);
    p.top_p = strtof(argv[4], NULL);
    p.min_p = strtof(argv[5], NULL);
    p.repeat_penalty = strtof(argv[6], NULL);
    p.presence_penalty = strtof(argv[7], NULL);
    p.frequency_penalty = strtof(argv[8], NULL);
    p.seed = strtoull(argv[9], NULL, 10);
    p.repeat_last_n = -1;
    int V = 0, H = 0;
    float logits[256];
    int32_t hist[256];
    int i = 10;
    for (; i < argc && strcmp(argv[i], "--") && V < 256; i++)
        logits[V++] = strtof(argv[i], NULL);
    for (i++; i < argc && H < 256; i++)
        hist[H++] = atoi(argv[i]);
    an_error err;
    pipe_sampler *s = pipe_sampler_create(&p, V, &err);
    if (!s)
        return 1;
    long counts[256] = {0};
    float work[256];
    for (int d = 0; d < draws; d++) {
        memcpy(work, logits, sizeof(float) * (size_t)V);
        int32_t t = pipe_sampler_sample(s, work, hist, H);
        if (t < 0 || t >= V)
            return 3;
        counts[t]++;
    }
    for (int k = 0; k < V; k++)
        printf("%d %ld\n", k, counts[k]);
    pipe_sampler_free(s);
    return 0;
}
