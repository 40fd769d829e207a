/* test_sampler.c — greedy equivalences, seeding, edge cases (distributions: test_sampler.py). */
#include "test.h"

#include "pipeline/sampler.h"

#define V 50

static void fill(float *x, unsigned seed)
{
    for (int i = 0; i < V; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) % 1000) / 100.0f - 5.0f;
    }
}

static int32_t draw(pipe_sampler_params *p, const float *logits)
{
    an_error err;
    pipe_sampler *s = pipe_sampler_create(p, V, &err);
    float w[V];
    memcpy(w, logits, sizeof w);
    int32_t t = pipe_sampler_sample(s, w, NULL, 0);
    pipe_sampler_free(s);
    return t;
}

TEST(greedy_equivalences)
{
    float x[V];
    for (unsigned k = 0; k < 20; k++) {
        fill(x, k);
        int32_t best = 0;
        for (int i = 1; i < V; i++)
            if (x[i] > x[best])
                best = i;
        pipe_sampler_params p;
        pipe_sampler_defaults(&p);
        p.seed = k;
        p.temp = 0;
        CHECK_EQ_INT(draw(&p, x), best);
        pipe_sampler_defaults(&p);
        p.top_k = 1;
        CHECK_EQ_INT(draw(&p, x), best);
        pipe_sampler_defaults(&p);
        p.greedy = 1;
        CHECK_EQ_INT(draw(&p, x), best);
        pipe_sampler_defaults(&p);
        p.temp = 1e-4f; /* temperature -> 0 approaches greedy */
        CHECK_EQ_INT(draw(&p, x), best);
    }
}

TEST(seed_reproducible)
{
    float x[V];
    fill(x, 99);
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    p.temp = 1.5f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0;
    an_error err;
    int32_t a[200], b[200], c[200];
    for (int run = 0; run < 3; run++) {
        p.seed = run == 2 ? 8 : 7;
        pipe_sampler *s = pipe_sampler_create(&p, V, &err);
        REQUIRE(s);
        for (int i = 0; i < 200; i++) {
            float w[V];
            memcpy(w, x, sizeof w);
            (run == 0 ? a : run == 1 ? b : c)[i] = pipe_sampler_sample(s, w, NULL, 0);
        }
        pipe_sampler_free(s);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
}

TEST(penalties_window_and_reset)
{
    /* token 0 leads; penalising it (in the window) hands the argmax to token 1 */
    float x[V] = {0};
    x[0] = 3.0f;
    x[1] = 2.0f;
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    p.greedy = 1;
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 2;
    an_error err;
    pipe_sampler *s = pipe_sampler_create(&p, V, &err);
    REQUIRE(s);
    int32_t hist_in[] = {5, 0, 7};  /* 0 inside the last 2? no: window is {0,7} */
    int32_t hist_out[] = {0, 5, 7}; /* 0 outside the window */
    float w[V];
    memcpy(w, x, sizeof w);
    CHECK_EQ_INT(pipe_sampler_sample(s, w, hist_in, 3), 1);
    CHECK_NEAR(w[0], 1.5, 1e-6);
    memcpy(w, x, sizeof w);
    CHECK_EQ_INT(pipe_sampler_sample(s, w, hist_out, 3), 0); /* counts were reset */
    CHECK_NEAR(w[0], 3.0, 0);
    /* negative logits are multiplied */
    float y[V];
    for (int i = 0; i < V; i++)
        y[i] = -10;
    y[3] = -1.0f;
    int32_t h3[] = {3};
    memcpy(w, y, sizeof w);
    pipe_sampler_sample(s, w, h3, 1);
    CHECK_NEAR(w[3], -2.0, 1e-6);
    pipe_sampler_free(s);
}

TEST(nan_and_inf_logits)
{
    float x[V];
    for (int i = 0; i < V; i++)
        x[i] = -INFINITY;
    x[0] = NAN;
    x[17] = 1.0f;
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    CHECK_EQ_INT(draw(&p, x), 17);
    p.greedy = 1;
    CHECK_EQ_INT(draw(&p, x), 17);
    for (int i = 0; i < V; i++)
        x[i] = NAN;
    p.greedy = 0;
    int32_t t = draw(&p, x);
    CHECK(t >= 0 && t < V);
}

/* top-k keeps exactly the k best tokens (ties broken by id), over a large vocabulary */
TEST(top_k_selects_the_k_best)
{
    enum { BIG = 5000, K = 12 };
    static float x[BIG], w[BIG];
    unsigned seed = 7;
    for (int i = 0; i < BIG; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) % 400) / 10.0f; /* many ties */
    }
    /* the k best by (value desc, id asc), brute force */
    int best[K];
    char taken[BIG] = {0};
    for (int k = 0; k < K; k++) {
        int b = -1;
        for (int i = 0; i < BIG; i++)
            if (!taken[i] && (b < 0 || x[i] > x[b]))
                b = i;
        taken[b] = 1;
        best[k] = b;
    }
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    p.temp = 100.0f; /* nearly flat: every kept token shows up */
    p.top_k = K;
    p.top_p = 1.0f;
    p.min_p = 0;
    an_error err;
    pipe_sampler *s = pipe_sampler_create(&p, BIG, &err);
    REQUIRE(s);
    int seen[K] = {0};
    for (int d = 0; d < 3000; d++) {
        memcpy(w, x, sizeof w);
        int32_t t = pipe_sampler_sample(s, w, NULL, 0);
        int at = -1;
        for (int k = 0; k < K; k++)
            if (best[k] == t)
                at = k;
        if (at < 0) {
            T_FAIL("drew %d, not among the %d best", t, K);
            break;
        }
        seen[at]++;
    }
    for (int k = 0; k < K; k++)
        CHECK(seen[k] > 0);
    pipe_sampler_free(s);
}

TEST(bad_vocab)
{
    an_error err;
    pipe_sampler_params p;
    pipe_sampler_defaults(&p);
    CHECK(pipe_sampler_create(&p, 0, &err) == NULL);
}

int main(void)
{
    RUN(greedy_equivalences);
    RUN(seed_reproducible);
    RUN(penalties_window_and_reset);
    RUN(nan_and_inf_logits);
    RUN(top_k_selects_the_k_best);
    RUN(bad_vocab);
    return t_finish();
}
