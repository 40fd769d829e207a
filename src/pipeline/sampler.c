/* sampler.c — see sampler.h. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    float p; /* scaled logit, then unnormalised probability */
    int32_t id;
} cand;

struct pipe_sampler {
    pipe_sampler_params p;
    int vocab;
    uint64_t rng[4];
    cand *cands;      /* scratch: the candidates of one draw */
    uint16_t *count;  /* occurrences of each id in the penalty window (zero between calls) */
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t *s)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

void pipe_sampler_seed(pipe_sampler *s, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
}

double pipe_sampler_uniform(pipe_sampler *s) { return (double)(next_u64(s->rng) >> 11) * 0x1.0p-53; }

void pipe_sampler_defaults(pipe_sampler_params *p)
{
    memset(p, 0, sizeof *p);
    p->temp = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
}

pipe_sampler *pipe_sampler_create(const pipe_sampler_params *p, int vocab, an_error *err)
{
    if (vocab <= 0) {
        an_errorf(err, "sampler: vocabulary size %d", vocab);
        return NULL;
    }
    pipe_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        an_errorf(err, "sampler: out of memory");
        return NULL;
    }
    s->p = *p;
    s->vocab = vocab;
    s->cands = malloc((size_t)vocab * sizeof *s->cands);
    s->count = calloc((size_t)vocab, sizeof *s->count);
    if (!s->cands || !s->count) {
        pipe_sampler_free(s);
        an_errorf(err, "sampler: out of memory for a vocabulary of %d", vocab);
        return NULL;
    }
    pipe_sampler_seed(s, p->seed);
    return s;
}

void pipe_sampler_free(pipe_sampler *s)
{
    if (!s)
        return;
    free(s->cands);
    free(s->count);
    free(s);
}

static void apply_penalties(pipe_sampler *s, float *logits, const int32_t *hist, int n)
{
    const pipe_sampler_params *p = &s->p;
    if (p->repeat_last_n == 0 || n <= 0)
        return;
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f)
        return;
    int start = p->repeat_last_n < 0 || p->repeat_last_n >= n ? 0 : n - p->repeat_last_n;
    for (int i = start; i < n; i++)
        if (hist[i] >= 0 && hist[i] < s->vocab && s->count[hist[i]] < UINT16_MAX)
            s->count[hist[i]]++;
    for (int i = start; i < n; i++) {
        int32_t t = hist[i];
        if (t < 0 || t >= s->vocab || s->count[t] == 0)
            continue; /* already applied for this id */
        float l = logits[t];
        if (p->repeat_penalty != 1.0f)
            l = l > 0 ? l / p->repeat_penalty : l * p->repeat_penalty;
        l -= p->presence_penalty + p->frequency_penalty * (float)s->count[t];
        logits[t] = l;
        s->count[t] = 0; /* also resets the counts for the next call */
    }
}

/* The first index of the largest value; NaNs are never chosen unless all are NaN. */
static int32_t argmax(const float *x, int n)
{
    int32_t best = 0;
    while (best < n - 1 && isnan(x[best]))
        best++;
    for (int i = best + 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Candidates by probability, descending; ties by id, so the order is deterministic. */
static int cmp_cand_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Partition c so that its first k entries are the k best (in cmp_cand_desc order, so
 * ties resolve by id exactly as a full sort would). Quickselect with a median-of-three
 * pivot. */
static void select_top(cand *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        /* median of three to c[hi] as the pivot */
        if (cmp_cand_desc(&c[mid], &c[lo]) < 0) { cand t = c[mid]; c[mid] = c[lo]; c[lo] = t; }
        if (cmp_cand_desc(&c[hi], &c[lo]) < 0) { cand t = c[hi]; c[hi] = c[lo]; c[lo] = t; }
        if (cmp_cand_desc(&c[mid], &c[hi]) < 0) { cand t = c[mid]; c[mid] = c[hi]; c[hi] = t; }
        cand pivot = c[hi];
        int store = lo;
        for (int i = lo; i < hi; i++) {
            if (cmp_cand_desc(&c[i], &pivot) < 0) {
                cand t = c[i]; c[i] = c[store]; c[store] = t;
                store++;
            }
        }
        cand t = c[store]; c[store] = c[hi]; c[hi] = t;
        if (store == k - 1 || store == k)
            return;
        if (store < k)
            lo = store + 1;
        else
            hi = store - 1;
    }
}

int32_t pipe_sampler_sample(pipe_sampler *s, float *logits, const int32_t *history, int n_history)
{
    const pipe_sampler_params *p = &s->p;
    int V = s->vocab;
    apply_penalties(s, logits, history, n_history);
    if (p->greedy || p->temp <= 0.0f || p->top_k == 1)
        return argmax(logits, V);

    /* Temperature, then softmax over the candidates. A logit more than 40·temp below the
     * maximum has under e^-40 of the top token's probability: such tokens are dropped
     * before sorting (together under V·e^-40, far below float resolution). */
    float inv_t = 1.0f / p->temp;
    float mx = logits[argmax(logits, V)];
    float cut = mx - 40.0f * p->temp;
    cand *c = s->cands;
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (logits[i] >= cut) { /* false for NaN */
            c[n].p = (logits[i] - mx) * inv_t;
            c[n].id = i;
            n++;
        }
    }
    if (n == 0) /* every logit NaN or -inf: nothing to draw from */
        return argmax(logits, V);
    if (p->top_k > 0 && p->top_k < n) {
        /* only the k best need sorting: select them first (O(V) on average, not O(V log V)) */
        select_top(c, n, p->top_k);
        n = p->top_k;
    }
    qsort(c, (size_t)n, sizeof *c, cmp_cand_desc);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        c[i].p = expf(c[i].p);
        sum += c[i].p;
    }
    if (p->top_p < 1.0f) {
        double acc = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            acc += c[i].p / sum;
            if (acc >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        float thresh = c[0].p * p->min_p; /* c[0] is the most likely */
        int keep = 1;
        while (keep < n && c[keep].p >= thresh)
            keep++;
        n = keep;
    }
    sum = 0;
    for (int i = 0; i < n; i++)
        sum += c[i].p;
    double r = pipe_sampler_uniform(s) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += c[i].p;
        if (r < acc)
            return c[i].id;
    }
    return c[n - 1].id;
}
