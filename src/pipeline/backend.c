/* backend.c — the backends compiled in, behind pipeline/backend.h: `mil`, anemone's own
 * engine (src/mil). A Core ML backend for macOS plugs in here later. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "mil/engine.h"

/* The pipeline's view of a mil component: the engine component plus the function
 * descriptions translated once at load. */
struct pipe_component {
    mil_component *mc;
    int n_fns;
    pipe_function *fns;
    pipe_io *ios;                   /* every pipe_io of every function, one allocation */
    int64_t (*shapes)[PIPE_MAX_RANK];
    pipe_tensor *out;               /* translated outputs of the last predict */
    int out_cap;                    /* most outputs of any function */
    mil_named_tensor *in;           /* translated inputs, reused */
    int in_cap;                     /* most inputs of any function */
};

struct pipe_state {
    mil_state *ms;
};

static pipe_dtype from_mil(mil_dtype d)
{
    switch (d) {
    case MIL_DT_FP16: return PIPE_DT_FP16;
    case MIL_DT_FP32: return PIPE_DT_FP32;
    case MIL_DT_INT32: return PIPE_DT_INT32;
    case MIL_DT_INT16: return PIPE_DT_INT16;
    case MIL_DT_UINT16: return PIPE_DT_UINT16;
    default: return PIPE_DT_OTHER;
    }
}

static mil_dtype to_mil(pipe_dtype d)
{
    switch (d) {
    case PIPE_DT_FP16: return MIL_DT_FP16;
    case PIPE_DT_FP32: return MIL_DT_FP32;
    case PIPE_DT_INT32: return MIL_DT_INT32;
    case PIPE_DT_INT16: return MIL_DT_INT16;
    case PIPE_DT_UINT16: return MIL_DT_UINT16;
    default: return MIL_DT_INVALID;
    }
}

static void mil_free_component(pipe_component *c)
{
    if (!c)
        return;
    mil_component_free(c->mc);
    free(c->fns);
    free(c->ios);
    free(c->shapes);
    free(c->out);
    free(c->in);
    free(c);
}

static pipe_component *mil_load(const char *path, an_error *err)
{
    pipe_component *c = calloc(1, sizeof *c);
    if (!c) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    c->mc = mil_component_load(path, err);
    if (!c->mc) {
        free(c);
        return NULL;
    }
    c->n_fns = mil_component_n_functions(c->mc);
    int n_io = 0, n_shapes = 0;
    for (int i = 0; i < c->n_fns; i++) {
        const mil_fn_desc *d = mil_component_function(c->mc, i);
        n_io += d->n_inputs + d->n_outputs + d->n_states;
        if (d->n_inputs > c->in_cap)
            c->in_cap = d->n_inputs;
        if (d->n_outputs > c->out_cap)
            c->out_cap = d->n_outputs;
        for (int k = 0; k < d->n_inputs; k++)
            n_shapes += d->inputs[k].n_shapes;
    }
    c->fns = calloc((size_t)c->n_fns + 1, sizeof *c->fns);
    c->ios = calloc((size_t)n_io + 1, sizeof *c->ios);
    c->shapes = calloc((size_t)n_shapes + 1, sizeof *c->shapes);
    c->in = calloc((size_t)c->in_cap + 1, sizeof *c->in);
    c->out = calloc((size_t)c->out_cap + 1, sizeof *c->out);
    if (!c->fns || !c->ios || !c->shapes || !c->in || !c->out) {
        mil_free_component(c);
        an_errorf(err, "out of memory");
        return NULL;
    }
    pipe_io *io = c->ios;
    int64_t (*sh)[PIPE_MAX_RANK] = c->shapes;
    for (int i = 0; i < c->n_fns; i++) {
        const mil_fn_desc *d = mil_component_function(c->mc, i);
        pipe_function *f = &c->fns[i];
        f->name = d->name;
        const mil_io_desc *lists[3] = {d->inputs, d->outputs, d->states};
        int counts[3] = {d->n_inputs, d->n_outputs, d->n_states};
        const pipe_io *starts[3];
        for (int l = 0; l < 3; l++) {
            starts[l] = io;
            for (int k = 0; k < counts[l]; k++, io++) {
                const mil_io_desc *m = &lists[l][k];
                io->name = m->name;
                io->dtype = from_mil(m->dtype);
                io->rank = m->rank < PIPE_MAX_RANK ? m->rank : PIPE_MAX_RANK;
                for (int r = 0; r < io->rank; r++)
                    io->shape[r] = m->dims[r];
                if (m->n_shapes > 0) {
                    io->shapes = (const int64_t(*)[PIPE_MAX_RANK])sh;
                    io->n_shapes = m->n_shapes;
                    for (int s = 0; s < m->n_shapes; s++, sh++)
                        for (int r = 0; r < m->shapes[s].rank && r < PIPE_MAX_RANK; r++)
                            (*sh)[r] = m->shapes[s].dims[r];
                }
            }
        }
        f->inputs = starts[0];
        f->n_inputs = counts[0];
        f->outputs = starts[1];
        f->n_outputs = counts[1];
        f->states = starts[2];
        f->n_states = counts[2];
    }
    return c;
}

static int mil_n_functions(const pipe_component *c) { return c->n_fns; }

static const pipe_function *be_function(const pipe_component *c, int i)
{
    return i >= 0 && i < c->n_fns ? &c->fns[i] : NULL;
}

static const pipe_function *mil_find(const pipe_component *c, const char *name)
{
    const mil_fn_desc *d = mil_component_find(c->mc, name);
    if (!d)
        return NULL;
    for (int i = 0; i < c->n_fns; i++)
        if (!strcmp(c->fns[i].name, d->name))
            return &c->fns[i];
    return NULL;
}

static const char *mil_metadata(const pipe_component *c, const char *key)
{
    return mil_program_metadata(mil_component_program(c->mc), key);
}

static pipe_state *mil_new_state(const pipe_component *c, const char *function, an_error *err)
{
    pipe_state *s = calloc(1, sizeof *s);
    if (!s) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    s->ms = mil_state_new(c->mc, function, err);
    if (!s->ms) {
        free(s);
        return NULL;
    }
    return s;
}

static void mil_free_state(pipe_state *s)
{
    if (!s)
        return;
    mil_state_free(s->ms);
    free(s);
}

static void mil_reset_state(pipe_state *s) { mil_state_reset(s->ms); }

static int mil_run(pipe_component *c, const char *function, int n_in, const pipe_tensor *in, pipe_state *state,
                   const pipe_tensor **out, int *n_out, an_error *err)
{
    if (n_in > c->in_cap)
        return an_errorf(err, "%d inputs given; no function of this component takes more than %d", n_in, c->in_cap);
    for (int i = 0; i < n_in; i++) {
        c->in[i].name = in[i].name;
        c->in[i].t.dtype = to_mil(in[i].dtype);
        c->in[i].t.rank = in[i].rank;
        memcpy(c->in[i].t.shape, in[i].shape, sizeof(int64_t) * (size_t)in[i].rank);
        c->in[i].t.data = in[i].data;
    }
    const mil_named_tensor *mo;
    int mn;
    if (mil_predict(c->mc, function, n_in, c->in, state ? state->ms : NULL, &mo, &mn, err) < 0)
        return -1;
    if (mn > c->out_cap)
        return an_errorf(err, "the engine returned %d outputs, more than any function declares", mn);
    for (int i = 0; i < mn; i++) {
        c->out[i].name = mo[i].name;
        c->out[i].dtype = from_mil(mo[i].t.dtype);
        c->out[i].rank = mo[i].t.rank;
        memcpy(c->out[i].shape, mo[i].t.shape, sizeof(int64_t) * (size_t)mo[i].t.rank);
        c->out[i].data = mo[i].t.data;
    }
    *out = c->out;
    *n_out = mn;
    return 0;
}

static int mil_threads_set(int n, an_error *err)
{
    if (mil_set_threads(n, err))
        return -1;
    return mil_threads();
}

static const pipe_backend mil_backend = {
    .name = "mil",
    .load = mil_load,
    .free = mil_free_component,
    .n_functions = mil_n_functions,
    .function = be_function,
    .find = mil_find,
    .metadata = mil_metadata,
    .state_new = mil_new_state,
    .state_free = mil_free_state,
    .state_reset = mil_reset_state,
    .predict = mil_run,
    .set_threads = mil_threads_set,
};

const pipe_backend *pipe_backend_get(const char *name)
{
    if (!name || !strcmp(name, "auto") || !strcmp(name, "mil"))
        return &mil_backend;
    return NULL;
}
