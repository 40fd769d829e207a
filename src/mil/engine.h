/*
 * engine.h — run the functions of a Core ML ML Program on the CPU.
 *
 * A mil_component is one loaded program (a .mlmodelc or .mlpackage) ready to execute:
 * at load every function is planned once per input shape (its static shape, or each
 * enumerated shape; shapes must be enumerable, see below): shapes resolved, constants and
 * constexpr ops (LUT, affine, blockwise shift/scale, cast) folded, activation buffers
 * assigned by liveness inside one arena owned by the component. mil_predict then binds
 * the inputs, runs the ops in program order and allocates nothing.
 *
 * Knows nothing about language models: it executes the ops the program contains.
 *
 * States: a mil_state holds zero-filled buffers for the states a function declares
 * (state<tensor<...>> parameters). It is matched by name, dtype and shape, so a state
 * made from one component may be passed to any function of any component that declares
 * states of the same name, dtype and shape. The state is updated in place.
 *
 * Ownership: the component owns the program, folded constants and every output buffer.
 * Output tensors returned by mil_predict stay valid until the next mil_predict on the
 * same component or mil_component_free. Input tensors are read during the call only.
 * A mil_state is owned by its caller (mil_state_free); it must outlive calls using it.
 *
 * Thread-safety: one mil_predict at a time per component (its arena is shared by all of
 * its functions); distinct components may run in parallel on distinct states.
 * Loading and describing are reentrant.
 */
#ifndef MIL_ENGINE_H
#define MIL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "mil/ir.h"
#include "mil/tensor.h"

typedef struct mil_component mil_component;

/* One input, output or state of a function. Dims of -1 vary; `shapes` lists the
 * enumerated choices (n_shapes 0 when the shape is fixed). */
typedef struct mil_io_desc {
    const char *name;
    mil_dtype dtype;
    int rank;
    int64_t dims[MIL_MAX_RANK];
    int n_shapes;
    const mil_shape *shapes;
} mil_io_desc;

typedef struct mil_fn_desc {
    const char *name;
    int n_inputs, n_outputs, n_states;
    const mil_io_desc *inputs, *outputs, *states;
} mil_fn_desc;

typedef struct mil_named_tensor {
    const char *name;
    mil_tensor t;
} mil_named_tensor;

/* Load a component from a .mlmodelc / .mlpackage directory and plan all its functions.
 * NULL + err (naming the file, function, op and place) on failure, e.g. an unknown op. */
mil_component *mil_component_load(const char *path, an_error *err);

/* Plan an already loaded program; takes ownership of p (freed on failure too). */
mil_component *mil_component_from_program(mil_program *p, an_error *err);

void mil_component_free(mil_component *c);

const mil_program *mil_component_program(const mil_component *c);
int mil_component_n_functions(const mil_component *c);
const mil_fn_desc *mil_component_function(const mil_component *c, int i);
/* By name; NULL name means the default function. NULL when absent. */
const mil_fn_desc *mil_component_find(const mil_component *c, const char *name);

/* A state: named zero-filled buffers. */
typedef struct mil_state_buf {
    const char *name;
    mil_tensor t; /* t.data owned by the state */
} mil_state_buf;

typedef struct mil_state {
    int n;
    mil_state_buf *bufs;
} mil_state;

/* Zero-filled buffers for every state of `function` (NULL = default). */
mil_state *mil_state_new(const mil_component *c, const char *function, an_error *err);
void mil_state_free(mil_state *s);
/* Add zero-filled buffers for the states `function` declares that s does not hold yet
 * (to share one state across components whose functions declare different sets). */
int mil_state_extend(mil_state *s, const mil_component *c, const char *function, an_error *err);
void mil_state_reset(mil_state *s); /* zero again */
mil_state_buf *mil_state_find(mil_state *s, const char *name);

/*
 * Run `function` (NULL = default) on named inputs. Every declared input must be given
 * once with the declared dtype and one of the planned shapes; `state` must hold every
 * state the function declares (name, dtype, shape), or may be NULL when it declares
 * none. On success *out / *n_out describe the outputs in declaration order (buffers owned
 * by the component). Returns 0, or -1 with err filled (no partial state guarantees).
 */
int mil_predict(mil_component *c, const char *function, int n_in, const mil_named_tensor *in,
                mil_state *state, const mil_named_tensor **out, int *n_out, an_error *err);

/* Threads used by mil_predict (all components share one pool): n >= 1, or 0 for the
 * physical core count. Not to be called while a predict runs. 0, or -1 + err. */
int mil_set_threads(int n, an_error *err);
int mil_threads(void);

/* Counters of the last mil_predict (for tests and profiling). */
typedef struct mil_predict_stats {
    uint64_t state_bytes_copied; /* bytes of state buffers copied (read/write_state) */
    uint64_t state_bytes_written_in_place; /* bytes written into state by slice_update */
    uint64_t ops_run;
    uint64_t kernel_projections; /* projections run by the matrix kernels (kern.h) */
    uint64_t kernel_projections_int8; /* of those, on the int8 path (ANEMONE_KERNEL_PATH=i8) */
    uint64_t kernel_projections_int16; /* of those, on the 16-bit integer path (the default
                                        * for LUT weights on AVX-512, kn_default_path) */
} mil_predict_stats;

void mil_component_stats(const mil_component *c, mil_predict_stats *st);

/* Bytes of constants decoded or folded at load (weights kept compressed are not). */
size_t mil_component_decoded_bytes(const mil_component *c);

#endif
