/*
 * backend.h — what the pipeline needs from an engine that runs Core ML components.
 *
 * Exactly what Core ML itself offers (DESIGN.md, "The backend interface"): load a
 * component from a path, describe its functions (inputs, outputs, states with dtype and
 * shape, enumerated shapes), make a zero-filled state, and predict. A state made from one
 * component can be passed to any function of any component that declares a state of the
 * same name, dtype and shape: ANEMLL shares one KV cache across all chunks and both
 * functions. The pipeline never sees an op.
 *
 * Ownership: a component owns its output buffers; outputs stay valid until the next
 * predict on the same component. States belong to the caller. One predict at a time per
 * component.
 */
#ifndef PIPE_BACKEND_H
#define PIPE_BACKEND_H

#include <stdint.h>

#include "common/error.h"

#define PIPE_MAX_RANK 8

typedef enum pipe_dtype {
    PIPE_DT_OTHER = 0, /* anything the pipeline does not exchange */
    PIPE_DT_FP16,
    PIPE_DT_FP32,
    PIPE_DT_INT32,
    PIPE_DT_INT16,
    PIPE_DT_UINT16,
} pipe_dtype;

typedef struct pipe_tensor {
    const char *name;
    pipe_dtype dtype;
    int rank;
    int64_t shape[PIPE_MAX_RANK];
    void *data; /* not owned */
} pipe_tensor;

typedef struct pipe_io {
    const char *name;
    pipe_dtype dtype;
    int rank;
    int64_t shape[PIPE_MAX_RANK]; /* -1 where the size varies */
    int n_shapes;                 /* enumerated shapes (0 when fixed) */
    const int64_t (*shapes)[PIPE_MAX_RANK];
} pipe_io;

typedef struct pipe_function {
    const char *name;
    int n_inputs, n_outputs, n_states;
    const pipe_io *inputs, *outputs, *states;
} pipe_function;

typedef struct pipe_component pipe_component;
typedef struct pipe_state pipe_state;

typedef struct pipe_backend {
    const char *name;
    pipe_component *(*load)(const char *path, an_error *err);
    void (*free)(pipe_component *c);
    int (*n_functions)(const pipe_component *c);
    const pipe_function *(*function)(const pipe_component *c, int i);
    /* NULL name: the default function. NULL when absent. */
    const pipe_function *(*find)(const pipe_component *c, const char *name);
    /* "com.anemll.context_length" and friends; NULL when absent. */
    const char *(*metadata)(const pipe_component *c, const char *key);
    pipe_state *(*state_new)(const pipe_component *c, const char *function, an_error *err);
    void (*state_free)(pipe_state *s);
    void (*state_reset)(pipe_state *s);
    /* Outputs in declaration order, owned by the component. */
    int (*predict)(pipe_component *c, const char *function, int n_in, const pipe_tensor *in,
                   pipe_state *state, const pipe_tensor **out, int *n_out, an_error *err);
    /* Threads for predict (n >= 1; 0 = the physical cores). Returns the count in effect,
     * or -1 + err. */
    int (*set_threads)(int n, an_error *err);
} pipe_backend;

/* The backends compiled in; NULL when the name is unknown ("auto" picks the best). */
const pipe_backend *pipe_backend_get(const char *name);

#endif
