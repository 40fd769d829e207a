/* runner.c — ANEMLL prefill and decode over the backend interface; see runner.h. */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "common/log.h"

#define FP16_NEG_INF 0xFC00u
#define MAX_SPLITS 256

enum { IN_HIDDEN, IN_POSITION, IN_MASK, IN_CURPOS, IN_UPDATE_MASK, IN_IDS, IN_COUNT };
static const char *const input_names[IN_COUNT] = {
    "hidden_states", "position_ids", "causal_mask", "current_pos", "update_mask", "input_ids",
};

/* One function of one component, with its inputs mapped to what the runner feeds. */
typedef struct bound_fn {
    pipe_component *comp;
    const pipe_function *fn;
    const char *role;          /* "FFN chunk 1 of 2 (infer)", for messages */
    int n_in;
    int kind[16];              /* IN_* per declared input */
    pipe_tensor in[16];
} bound_fn;

struct pipe_model {
    pipe_model_info info;
    pipe_meta *meta;
    pipe_gen_config cfg;
    const pipe_backend *be;
    pipe_component *embed, *head, *mono;
    pipe_component *chunk[PIPE_MAX_CHUNKS];
    char role_names[PIPE_MAX_CHUNKS * 2 + 4][96];

    bound_fn embed_fn;                         /* embeddings, any T */
    bound_fn infer[PIPE_MAX_CHUNKS], prefill[PIPE_MAX_CHUNKS];
    bound_fn head_fn;
    int has_prefill;
    int update_mask_rows;                      /* A of update_mask [1,1,A,B], 0 if absent */
    int single_token_prefill;

    int n_splits;
    int split_out[MAX_SPLITS];                 /* output index of logits split k */
    int split_size[MAX_SPLITS];
    int argmax_idx_out, argmax_val_out;
    int split_offset[MAX_SPLITS];              /* argmax heads: first id of split k */

    pipe_state *state;

    /* per-call buffers, sized at open */
    int32_t *ids;       /* [B] */
    int32_t *positions; /* [B] */
    int32_t cur_pos[1];
    uint16_t *mask;     /* [B, C] */
    uint16_t *upd_mask; /* [A, B] */

    pipe_model_counters counters;
    void (*progress)(void *ctx, int i, int n, const char *role);
    void *progress_ctx;
    int n_loaded, n_to_load;
};

static const char *dtype_name(pipe_dtype d)
{
    switch (d) {
    case PIPE_DT_FP16: return "fp16";
    case PIPE_DT_FP32: return "fp32";
    case PIPE_DT_INT32: return "int32";
    case PIPE_DT_INT16: return "int16";
    case PIPE_DT_UINT16: return "uint16";
    default: return "another type";
    }
}

/* Map a function's declared inputs onto the runner's feeds; unknown inputs are errors. */
static int bind(bound_fn *b, pipe_component *comp, const pipe_function *fn, const char *role, an_error *err)
{
    memset(b, 0, sizeof *b);
    b->comp = comp;
    b->fn = fn;
    b->role = role;
    if (fn->n_inputs > 16)
        return an_errorf(err, "%s: %d inputs (at most 16 expected)", role, fn->n_inputs);
    for (int i = 0; i < fn->n_inputs; i++) {
        const pipe_io *io = &fn->inputs[i];
        int k = -1;
        for (int j = 0; j < IN_COUNT; j++)
            if (!strcmp(io->name, input_names[j]))
                k = j;
        if (k < 0)
            return an_errorf(err, "%s: declares input '%s', which is not part of ANEMLL's interface", role, io->name);
        pipe_dtype want = (k == IN_HIDDEN || k == IN_MASK || k == IN_UPDATE_MASK) ? PIPE_DT_FP16 : PIPE_DT_INT32;
        if (io->dtype != want)
            return an_errorf(err, "%s: input '%s' is %s, expected %s", role, io->name, dtype_name(io->dtype),
                             dtype_name(want));
        b->kind[i] = k;
        b->in[i].name = io->name;
        b->in[i].dtype = io->dtype;
        b->in[i].rank = io->rank;
        memcpy(b->in[i].shape, io->shape, sizeof io->shape);
    }
    b->n_in = fn->n_inputs;
    return 0;
}

static int has_input(const bound_fn *b, int kind)
{
    for (int i = 0; i < b->n_in; i++)
        if (b->kind[i] == kind)
            return 1;
    return 0;
}

static const pipe_io *input_of(const bound_fn *b, int kind)
{
    for (int i = 0; i < b->n_in; i++)
        if (b->kind[i] == kind)
            return &b->fn->inputs[i];
    return NULL;
}

/* Run one bound function: inputs with kind-specific data and shapes already set. */
static int run(pipe_model *m, bound_fn *b, const pipe_tensor **out, int *n_out, an_error *err)
{
    if (m->be->predict(b->comp, b->fn->name, b->n_in, b->in, m->state, out, n_out, err) < 0)
        return an_error_prefix(err, "%s", b->role);
    return 0;
}

static void set_input(bound_fn *b, int kind, void *data, int rank, const int64_t *shape)
{
    for (int i = 0; i < b->n_in; i++) {
        if (b->kind[i] != kind)
            continue;
        b->in[i].data = data;
        b->in[i].rank = rank;
        memcpy(b->in[i].shape, shape, sizeof(int64_t) * (size_t)rank);
    }
}

static pipe_component *load_component(pipe_model *m, const pipe_component_file *f, const char *role, an_error *err)
{
    if (m->progress)
        m->progress(m->progress_ctx, m->n_loaded, m->n_to_load, role);
    m->n_loaded++;
    if (f->form == PIPE_FORM_ZIP) {
        an_errorf(err, "%s: %s is still zipped; `anemone pull` extracts downloaded models (or unzip it beside meta.yaml)",
                  role, f->path);
        return NULL;
    }
    pipe_component *c = m->be->load(f->path, err);
    if (!c)
        an_error_prefix(err, "%s", role);
    return c;
}

/* The function named `name`, else (for `infer`) the default one. */
static const pipe_function *function_of(pipe_model *m, pipe_component *c, const char *name, int fallback_default)
{
    const pipe_function *f = m->be->find(c, name);
    if (!f && fallback_default)
        f = m->be->find(c, NULL);
    return f;
}

static int same_state(const pipe_io *a, const pipe_io *b)
{
    if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

static void shape_str(const pipe_io *io, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < io->rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)io->shape[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

/* Chunks: bind infer/prefill, derive H, C, B, S, and check they agree everywhere. */
static int setup_chunks(pipe_model *m, an_error *err)
{
    pipe_model_info *in = &m->info;
    const pipe_io *state0 = NULL;
    int n = m->info.monolithic ? 1 : m->meta->n_chunks;
    for (int i = 0; i < n; i++) {
        pipe_component *c = m->info.monolithic ? m->mono : m->chunk[i];
        char *role_i = m->role_names[2 * i], *role_p = m->role_names[2 * i + 1];
        if (m->info.monolithic) {
            snprintf(role_i, 96, "monolithic model (infer)");
            snprintf(role_p, 96, "monolithic model (prefill)");
        } else {
            snprintf(role_i, 96, "FFN chunk %d of %d (infer)", i + 1, n);
            snprintf(role_p, 96, "FFN chunk %d of %d (prefill)", i + 1, n);
        }
        const pipe_function *fi = function_of(m, c, "infer", 1);
        const pipe_function *fp = function_of(m, c, "prefill", 0);
        if (!fi)
            return an_errorf(err, "%s: no 'infer' function", role_i);
        if (bind(&m->infer[i], c, fi, role_i, err) < 0)
            return -1;
        if (i == 0)
            m->has_prefill = fp != NULL;
        else if ((fp != NULL) != m->has_prefill)
            return an_errorf(err, "%s: chunks disagree on having a 'prefill' function", role_p);
        if (fp && bind(&m->prefill[i], c, fp, role_p, err) < 0)
            return -1;

        const pipe_io *mask = input_of(&m->infer[i], IN_MASK);
        if (!mask || mask->rank != 4 || mask->shape[3] <= 0)
            return an_errorf(err, "%s: expected a causal_mask input of shape [1,1,1,C]", role_i);
        int C = (int)mask->shape[3];
        if (i == 0)
            in->context = C;
        else if (C != in->context)
            return an_errorf(err, "%s: causal mask spans %d positions, chunk 1 spans %d", role_i, C, in->context);
        if (!m->info.monolithic) {
            const pipe_io *h = input_of(&m->infer[i], IN_HIDDEN);
            if (!h || h->rank != 3 || h->shape[0] != 1 || h->shape[1] != 1 || h->shape[2] <= 0)
                return an_errorf(err, "%s: expected hidden_states of shape [1,1,H]", role_i);
            if (i == 0)
                in->hidden = (int)h->shape[2];
            else if (h->shape[2] != in->hidden)
                return an_errorf(err, "%s: hidden size %lld, chunk 1 has %d", role_i, (long long)h->shape[2], in->hidden);
        }
        if (fp) {
            const pipe_io *pm = input_of(&m->prefill[i], IN_MASK);
            if (!pm || pm->rank != 4 || pm->shape[2] <= 0 || pm->shape[3] != C)
                return an_errorf(err, "%s: expected a causal_mask input of shape [1,1,B,%d]", role_p, C);
            if (i == 0)
                in->batch = (int)pm->shape[2];
            else if (pm->shape[2] != in->batch)
                return an_errorf(err, "%s: batch %lld, chunk 1 has %d", role_p, (long long)pm->shape[2], in->batch);
            const pipe_io *um = input_of(&m->prefill[i], IN_UPDATE_MASK);
            if (um) {
                if (um->rank != 4 || um->shape[3] != in->batch || um->shape[2] <= 0)
                    return an_errorf(err, "%s: update_mask should be [1,1,A,%d]", role_p, in->batch);
                m->update_mask_rows = (int)um->shape[2];
            }
        }
        /* one state, identical everywhere */
        const pipe_function *fns[2] = {fi, fp};
        for (int k = 0; k < 2; k++) {
            if (!fns[k])
                continue;
            if (fns[k]->n_states != 1)
                return an_errorf(err, "%s: declares %d states; ANEMLL chunks share exactly one KV cache",
                                 k ? role_p : role_i, fns[k]->n_states);
            if (!state0) {
                state0 = &fns[k]->states[0];
            } else if (!same_state(state0, &fns[k]->states[0])) {
                char a[128], b[128];
                shape_str(state0, a, sizeof a);
                shape_str(&fns[k]->states[0], b, sizeof b);
                return an_errorf(err, "%s: state '%s' %s differs from chunk 1's '%s' %s", k ? role_p : role_i,
                                 fns[k]->states[0].name, b, state0->name, a);
            }
        }
    }
    if (state0->rank == 4 && state0->shape[2] > 0)
        in->state_length = (int)state0->shape[2];
    else
        in->state_length = in->context;
    /* The converter's Core ML metadata (com.anemll.*) stands in for meta.yaml keys that
     * are absent, and must agree with the declared shapes as meta.yaml must. */
    {
        pipe_component *c0 = m->info.monolithic ? m->mono : m->chunk[0];
        const char *keys[2] = {"com.anemll.context_length", "com.anemll.batch_size"};
        int *meta_vals[2] = {&m->meta->context_length, &m->meta->batch_size};
        for (int k = 0; k < 2; k++) {
            const char *v = m->be->metadata ? m->be->metadata(c0, keys[k]) : NULL;
            char *end;
            long x = v ? strtol(v, &end, 10) : 0;
            if (!v || end == v || *end || x <= 0 || x > 1 << 24)
                continue;
            int shape_val = k == 0 ? in->context : in->batch;
            if ((k == 0 || m->has_prefill) && x != shape_val)
                return an_errorf(err, "%s: metadata %s is %ld, but its shapes say %d", m->infer[0].role, keys[k], x,
                                 shape_val);
            if (*meta_vals[k] == 0)
                *meta_vals[k] = (int)x;
        }
        if (m->meta->state_length == 0)
            m->meta->state_length = m->meta->context_length;
    }
    /* meta.yaml must describe the model it sits beside */
    if (m->meta->context_length && m->meta->context_length != in->context)
        return an_errorf(err, "%s: context_length is %d, but the chunks' causal mask spans %d positions "
                         "(ANEMLL fixes the context at conversion)", m->meta->path, m->meta->context_length, in->context);
    if (m->has_prefill && m->meta->batch_size && m->meta->batch_size != in->batch)
        return an_errorf(err, "%s: batch_size is %d, but the chunks' prefill takes %d tokens", m->meta->path,
                         m->meta->batch_size, in->batch);
    if (in->state_length < in->context)
        return an_errorf(err, "state length %d is shorter than the context %d", in->state_length, in->context);
    return 0;
}

static int parse_logits_index(const char *name)
{
    if (strncmp(name, "logits", 6) != 0)
        return -1;
    if (name[6] == '\0')
        return 0;
    char *end;
    long k = strtol(name + 6, &end, 10);
    return (*end || k < 1 || k > MAX_SPLITS) ? -1 : (int)k;
}

static int setup_head(pipe_model *m, pipe_component *c, const char *role, an_error *err)
{
    const pipe_function *f = function_of(m, c, m->info.monolithic ? "infer" : "main", 1);
    if (!f)
        return an_errorf(err, "%s: no function to run", role);
    if (!m->info.monolithic) {
        if (bind(&m->head_fn, c, f, role, err) < 0)
            return -1;
        const pipe_io *h = input_of(&m->head_fn, IN_HIDDEN);
        if (!h || h->rank != 3 || h->shape[2] != m->info.hidden)
            return an_errorf(err, "%s: expected hidden_states [1,1,%d]", role, m->info.hidden);
    }
    m->argmax_idx_out = m->argmax_val_out = -1;
    int seen[MAX_SPLITS + 1] = {0};
    for (int i = 0; i < f->n_outputs; i++) {
        const pipe_io *o = &f->outputs[i];
        if (!strcmp(o->name, "argmax_idx"))
            m->argmax_idx_out = i;
        else if (!strcmp(o->name, "argmax_val"))
            m->argmax_val_out = i;
        int k = parse_logits_index(o->name);
        if (!strcmp(o->name, "output_logits"))
            k = 0;
        if (k < 0)
            continue;
        if (o->dtype != PIPE_DT_FP16 && o->dtype != PIPE_DT_FP32)
            return an_errorf(err, "%s: output %s is %s, expected fp16", role, o->name, dtype_name(o->dtype));
        if (o->rank < 1 || o->shape[o->rank - 1] <= 0)
            return an_errorf(err, "%s: output %s has no fixed vocabulary size", role, o->name);
        int slot = k == 0 ? 1 : k;
        if (seen[slot])
            return an_errorf(err, "%s: two outputs for logits split %d", role, slot);
        seen[slot] = 1;
        m->split_out[slot - 1] = i;
        m->split_size[slot - 1] = (int)o->shape[o->rank - 1];
        if (slot > m->n_splits)
            m->n_splits = slot;
    }
    if (m->argmax_idx_out >= 0 && m->argmax_val_out >= 0) {
        m->info.argmax_head = 1;
        const pipe_io *iv = &f->outputs[m->argmax_idx_out];
        int n = iv->rank >= 1 ? (int)iv->shape[iv->rank - 1] : 0;
        if (n <= 0 || n > MAX_SPLITS)
            return an_errorf(err, "%s: argmax_idx has no fixed length", role);
        m->n_splits = n;
        /* split sizes: meta lm_head_chunk_sizes, else vocab_size split with the remainder
         * to the first splits (ANEMLL.md §3.5) */
        const pipe_meta *mt = m->meta;
        int vocab = 0;
        if (mt->n_lm_head_chunk_sizes == n) {
            for (int k = 0; k < n; k++)
                m->split_size[k] = mt->lm_head_chunk_sizes[k];
        } else if (mt->vocab_size > 0) {
            for (int k = 0; k < n; k++)
                m->split_size[k] = mt->vocab_size / n + (k < mt->vocab_size % n);
        } else {
            return an_errorf(err, "%s: an argmax head needs vocab_size or lm_head_chunk_sizes in meta.yaml", role);
        }
        for (int k = 0; k < n; k++) {
            m->split_offset[k] = vocab;
            vocab += m->split_size[k];
        }
        m->info.vocab = vocab;
        m->info.n_splits = n;
        return 0;
    }
    if (m->n_splits == 0)
        return an_errorf(err, "%s: no logits outputs (expected logits1..logitsN, logits, or argmax_idx/argmax_val)", role);
    for (int k = 0; k < m->n_splits; k++)
        if (!seen[k + 1])
            return an_errorf(err, "%s: logits split %d of %d is missing", role, k + 1, m->n_splits);
    int vocab = 0;
    for (int k = 0; k < m->n_splits; k++)
        vocab += m->split_size[k];
    m->info.vocab = vocab;
    m->info.n_splits = m->n_splits;
    if (m->meta->vocab_size && m->meta->vocab_size != vocab)
        return an_errorf(err, "%s: vocab_size is %d, but the LM head's splits add up to %d", m->meta->path,
                         m->meta->vocab_size, vocab);
    return 0;
}

static int setup_embeddings(pipe_model *m, an_error *err)
{
    const char *role = "embeddings";
    const pipe_function *f = function_of(m, m->embed, "main", 1);
    if (!f)
        return an_errorf(err, "%s: no function to run", role);
    if (bind(&m->embed_fn, m->embed, f, role, err) < 0)
        return -1;
    const pipe_io *ids = input_of(&m->embed_fn, IN_IDS);
    if (!ids || ids->rank != 2)
        return an_errorf(err, "%s: expected an input_ids input of shape [1,T]", role);
    if (f->n_outputs < 1 || f->outputs[0].rank != 3 || f->outputs[0].shape[2] != m->info.hidden)
        return an_errorf(err, "%s: expected a hidden_states output [1,T,%d]", role, m->info.hidden);
    /* it must accept [1,1], and [1,B] when prefill batches are used */
    int ok1 = 0, okB = !m->has_prefill;
    if (ids->n_shapes == 0) {
        ok1 = ids->shape[1] == 1 || ids->shape[1] < 0;
        okB = okB || ids->shape[1] == m->info.batch || ids->shape[1] < 0;
    }
    for (int s = 0; s < ids->n_shapes; s++) {
        ok1 |= ids->shapes[s][1] == 1;
        okB |= ids->shapes[s][1] == m->info.batch;
    }
    if (!ok1)
        return an_errorf(err, "%s: input_ids does not accept one token ([1,1])", role);
    if (!okB)
        return an_errorf(err, "%s: input_ids does not accept a prefill batch ([1,%d])", role, m->info.batch);
    return 0;
}

pipe_model *pipe_model_open(const char *path, const pipe_open_opts *opts, an_error *err)
{
    pipe_model *m = calloc(1, sizeof *m);
    if (!m) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    m->be = pipe_backend_get(opts && opts->backend ? opts->backend : "auto");
    if (!m->be) {
        an_errorf(err, "unknown backend '%s' (this build has: mil)", opts->backend);
        free(m);
        return NULL;
    }
    m->single_token_prefill = opts && opts->single_token_prefill;
    m->info.threads = m->be->set_threads(opts ? opts->threads : 0, err);
    if (m->info.threads < 0) {
        free(m);
        return NULL;
    }
    if (opts) {
        m->progress = opts->progress;
        m->progress_ctx = opts->progress_ctx;
    }
    m->info.backend = m->be->name;
    m->meta = pipe_meta_load(path, err);
    if (!m->meta || pipe_meta_find_components(m->meta, err) < 0)
        goto fail;
    if (pipe_gen_config_load(m->meta->dir, &m->cfg, err) < 0)
        goto fail;
    m->info.meta = m->meta;
    m->info.config = &m->cfg;
    m->info.monolithic = m->meta->monolithic;
    m->info.n_chunks = m->meta->monolithic ? 1 : m->meta->n_chunks;
    m->n_to_load = m->meta->monolithic ? 1 : m->meta->n_chunks + 2;

    if (m->info.monolithic) {
        if (!(m->mono = load_component(m, &m->meta->monolithic_file, "monolithic model", err)))
            goto fail;
    } else {
        if (!(m->embed = load_component(m, &m->meta->embeddings_file, "embeddings", err)))
            goto fail;
        for (int i = 0; i < m->meta->n_chunks; i++) {
            char role[64];
            snprintf(role, sizeof role, "FFN chunk %d of %d", i + 1, m->meta->n_chunks);
            if (!(m->chunk[i] = load_component(m, &m->meta->chunk_files[i], role, err)))
                goto fail;
        }
        if (!(m->head = load_component(m, &m->meta->lm_head_file, "LM head", err)))
            goto fail;
    }
    if (setup_chunks(m, err) < 0)
        goto fail;
    if (m->info.monolithic) {
        if (setup_head(m, m->mono, "monolithic model (infer)", err) < 0)
            goto fail;
    } else if (setup_embeddings(m, err) < 0 || setup_head(m, m->head, "LM head", err) < 0) {
        goto fail;
    }
    if (!m->has_prefill)
        m->info.batch = 0;
    {
        int B = m->info.batch > 0 ? m->info.batch : 1, C = m->info.context;
        m->ids = calloc((size_t)B, sizeof *m->ids);
        m->positions = calloc((size_t)B, sizeof *m->positions);
        m->mask = calloc((size_t)B * (size_t)C, sizeof *m->mask);
        m->upd_mask = calloc((size_t)(m->update_mask_rows ? m->update_mask_rows : 1) * (size_t)B, sizeof *m->upd_mask);
        if (!m->ids || !m->positions || !m->mask || !m->upd_mask) {
            an_errorf(err, "out of memory");
            goto fail;
        }
    }
    /* one state for everything, made from chunk 1 (ANEMLL: ffn_models[0]['prefill'].make_state()) */
    {
        bound_fn *b = m->has_prefill ? &m->prefill[0] : &m->infer[0];
        m->state = m->be->state_new(b->comp, b->fn->name, err);
        if (!m->state) {
            an_error_prefix(err, "%s", b->role);
            goto fail;
        }
    }
    return m;
fail:
    pipe_model_close(m);
    return NULL;
}

void pipe_model_close(pipe_model *m)
{
    if (!m)
        return;
    if (m->state)
        m->be->state_free(m->state);
    if (m->be) {
        if (m->embed)
            m->be->free(m->embed);
        if (m->head)
            m->be->free(m->head);
        if (m->mono)
            m->be->free(m->mono);
        for (int i = 0; i < PIPE_MAX_CHUNKS; i++)
            if (m->chunk[i])
                m->be->free(m->chunk[i]);
    }
    pipe_meta_free(m->meta);
    pipe_gen_config_free(&m->cfg);
    free(m->ids);
    free(m->positions);
    free(m->mask);
    free(m->upd_mask);
    free(m);
}

const pipe_model_info *pipe_model_get_info(const pipe_model *m) { return &m->info; }

void pipe_model_reset(pipe_model *m) { m->be->state_reset(m->state); }

void pipe_model_get_counters(const pipe_model *m, pipe_model_counters *c) { *c = m->counters; }

/* Row r of the causal mask: 0 where j <= pos, -inf after. */
static void mask_row(uint16_t *row, int C, int pos)
{
    for (int j = 0; j < C; j++)
        row[j] = j <= pos ? 0 : FP16_NEG_INF;
}

/* Feed hidden states (or ids) through every chunk's function; returns the last output. */
static int run_chunks(pipe_model *m, bound_fn *fns, const pipe_tensor *hidden, int T, int pos,
                      const pipe_tensor **last, an_error *err)
{
    int C = m->info.context;
    int64_t pos_shape[1] = {T}, cur_shape[1] = {1};
    int64_t mask_shape[4] = {1, 1, T, C};
    int64_t upd_shape[4] = {1, 1, m->update_mask_rows, T};
    m->cur_pos[0] = pos;
    const pipe_tensor *h = hidden;
    for (int i = 0; i < m->info.n_chunks; i++) {
        bound_fn *b = &fns[i];
        if (h)
            set_input(b, IN_HIDDEN, h->data, h->rank, h->shape);
        set_input(b, IN_POSITION, m->positions, 1, pos_shape);
        set_input(b, IN_MASK, m->mask, 4, mask_shape);
        set_input(b, IN_CURPOS, m->cur_pos, 1, cur_shape);
        set_input(b, IN_UPDATE_MASK, m->upd_mask, 4, upd_shape);
        if (has_input(b, IN_IDS)) {
            int64_t ids_shape[2] = {1, T};
            set_input(b, IN_IDS, m->ids, 2, ids_shape);
        }
        const pipe_tensor *out;
        int n_out;
        if (run(m, b, &out, &n_out, err) < 0)
            return -1;
        if (n_out < 1)
            return an_errorf(err, "%s: produced no output", b->role);
        h = &out[0];
    }
    *last = h;
    return 0;
}

static int embed(pipe_model *m, int T, const pipe_tensor **out, an_error *err)
{
    int64_t shape[2] = {1, T};
    set_input(&m->embed_fn, IN_IDS, m->ids, 2, shape);
    int n_out;
    if (run(m, &m->embed_fn, out, &n_out, err) < 0)
        return -1;
    return 0;
}

/* One token at pos through embeddings and every chunk's infer; *h gets the last output. */
static int forward_one(pipe_model *m, int32_t tok, int pos, const pipe_tensor **h, an_error *err)
{
    if (pos < 0 || pos >= m->info.context)
        return an_errorf(err, "position %d is outside the context of %d", pos, m->info.context);
    m->ids[0] = tok;
    m->positions[0] = pos;
    mask_row(m->mask, m->info.context, pos);
    const pipe_tensor *e = NULL;
    if (!m->info.monolithic && embed(m, 1, &e, err) < 0)
        return -1;
    m->counters.infer_calls++;
    return run_chunks(m, m->infer, e, 1, pos, h, err);
}

int pipe_model_prefill(pipe_model *m, const int32_t *ids, int start, int end, an_error *err)
{
    int B = m->info.batch, C = m->info.context;
    if (start < 0 || end > C || start > end)
        return an_errorf(err, "prefill of positions %d..%d does not fit the context of %d", start, end, C);
    int pos = start;
    while (pos < end) {
        int n = end - pos < B ? end - pos : B;
        /* A batch goes through `prefill` when it is full, or when its padding still fits
         * in the cache (the padded slots are rewritten before they are ever attended).
         * Models with update_mask take full batches only, as ANEMLL 0.3.5 does. A short
         * remainder (under a quarter of a batch) is cheaper token by token: a padded batch
         * costs about as much as a full one. */
        int batched = m->has_prefill && !m->single_token_prefill && B > 0 && pos + B <= C &&
                      (n == B || (!m->update_mask_rows && 4 * n >= B));
        if (!batched) {
            const pipe_tensor *h;
            if (forward_one(m, ids[pos], pos, &h, err) < 0)
                return -1;
            m->counters.prefill_tokens++;
            pos++;
            continue;
        }
        for (int i = 0; i < B; i++) {
            m->ids[i] = i < n ? ids[pos + i] : 0;
            m->positions[i] = pos + i;
            mask_row(m->mask + (size_t)i * (size_t)C, C, pos + i);
        }
        if (m->update_mask_rows) {
            memset(m->upd_mask, 0, (size_t)m->update_mask_rows * (size_t)B * sizeof *m->upd_mask);
            for (int i = 0; i < n && pos + i < m->update_mask_rows; i++)
                m->upd_mask[(size_t)(pos + i) * (size_t)B + (size_t)i] = 0x3C00; /* 1.0 */
        }
        const pipe_tensor *e = NULL, *h;
        if (!m->info.monolithic && embed(m, B, &e, err) < 0)
            return -1;
        if (run_chunks(m, m->prefill, e, B, pos, &h, err) < 0)
            return -1;
        m->counters.prefill_batches++;
        m->counters.prefill_tokens += n;
        pos += n;
    }
    return 0;
}

static int32_t argmax_f32(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

int pipe_model_step(pipe_model *m, int32_t tok, int pos, float *logits, int32_t *argmax_id, an_error *err)
{
    const pipe_tensor *h;
    if (forward_one(m, tok, pos, &h, err) < 0)
        return -1;
    const pipe_tensor *out;
    int n_out;
    if (m->info.monolithic) {
        /* the monolithic infer ran the head too: h is the first of its outputs */
        out = h;
        n_out = m->infer[0].fn->n_outputs;
    } else {
        set_input(&m->head_fn, IN_HIDDEN, h->data, h->rank, h->shape);
        if (run(m, &m->head_fn, &out, &n_out, err) < 0)
            return -1;
    }
    if (m->info.argmax_head) {
        const pipe_tensor *ti = &out[m->argmax_idx_out], *tv = &out[m->argmax_val_out];
        int best = 0;
        float bestv = 0;
        for (int k = 0; k < m->n_splits; k++) {
            float v = tv->dtype == PIPE_DT_FP16 ? an_fp16_to_fp32(((const uint16_t *)tv->data)[k])
                                                : ((const float *)tv->data)[k];
            if (k == 0 || v > bestv) {
                bestv = v;
                best = k;
            }
        }
        int32_t local = ((const int32_t *)ti->data)[best];
        if (local < 0 || local >= m->split_size[best])
            return an_errorf(err, "LM head: argmax index %d is outside split %d", local, best + 1);
        if (argmax_id)
            *argmax_id = m->split_offset[best] + local;
        if (logits)
            return an_errorf(err, "LM head: this model computes the argmax itself; it gives no logits to sample from");
        return 0;
    }
    float *dst = logits;
    float best = 0;
    int32_t best_id = 0, off = 0;
    for (int k = 0; k < m->n_splits; k++) {
        const pipe_tensor *t = &out[m->split_out[k]];
        int n = m->split_size[k];
        if (dst) {
            if (t->dtype == PIPE_DT_FP16)
                an_fp16_to_fp32_n(t->data, dst + off, (size_t)n);
            else
                memcpy(dst + off, t->data, (size_t)n * sizeof(float));
            int32_t a = argmax_f32(dst + off, n);
            if (k == 0 || dst[off + a] > best) {
                best = dst[off + a];
                best_id = off + a;
            }
        } else {
            /* fp16 logits widened a block at a time (the vector conversion), then scanned */
            float blk[1024];
            for (int j0 = 0; j0 < n; j0 += 1024) {
                int len = n - j0 < 1024 ? n - j0 : 1024;
                const float *v = blk;
                if (t->dtype == PIPE_DT_FP16)
                    an_fp16_to_fp32_n((const uint16_t *)t->data + j0, blk, (size_t)len);
                else
                    v = (const float *)t->data + j0;
                for (int j = 0; j < len; j++)
                    if ((k == 0 && j0 + j == 0) || v[j] > best) {
                        best = v[j];
                        best_id = off + j0 + j;
                    }
            }
        }
        off += n;
    }
    if (argmax_id)
        *argmax_id = best_id;
    return 0;
}
