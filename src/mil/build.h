/*
 * build.h — pieces shared by the two loaders (text and protobuf); internal to src/mil.
 *
 * A mil_fbuild accumulates one function (params, values, ops) in malloc'd growable
 * arrays, resolves value names through a hash table, and copies the result into the
 * program arena at the end. Every check stated as an invariant in ir.h that is not
 * specific to one syntax lives here (duplicate names, SSA order, shape sanity).
 */
#ifndef MIL_BUILD_H
#define MIL_BUILD_H

#include "mil/ir.h"

typedef struct mil_fbuild {
    an_arena *arena;
    mil_value *values;
    int n_values, cap_values;
    mil_op *ops;
    int n_ops, cap_ops;
    mil_param *params;
    int n_params, cap_params;
    int *slots;     /* open addressing: value id + 1, 0 = empty */
    size_t n_slots; /* power of two */
} mil_fbuild;

void mil_fb_init(mil_fbuild *fb, an_arena *arena);
void mil_fb_free(mil_fbuild *fb);
/* Value id of a name, or -1. */
int mil_fb_lookup(const mil_fbuild *fb, const char *name, size_t len);
/* Define a value (name copied into the arena). Returns its id, -1 when the name is
 * already defined (err filled), -2 on out of memory (err filled). */
int mil_fb_add_value(mil_fbuild *fb, const char *name, size_t len, const mil_type *type,
                     int producer, an_error *err);
int mil_fb_add_param(mil_fbuild *fb, int value, an_error *err);
/* Append an op (the struct is copied; its arrays must already live in the arena).
 * Returns the op index or -1 on out of memory. */
int mil_fb_add_op(mil_fbuild *fb, const mil_op *op, an_error *err);
/* Copy everything into fn (arrays into the arena). fn->name, opset, outputs and attrs
 * are the caller's. */
int mil_fb_finish(mil_fbuild *fb, mil_function *fn, an_error *err);

/* Type agreement the loaders can check without running anything: a `const` has one
 * output whose type is its `val`'s (known dims equal); read_state/write_state take a
 * state value, read_state yields the wrapped type and write_state's data has it. On
 * failure the message starts with "<fname>:<line>:<col>:" (text) or "<fname>: byte N:"
 * (protobuf), from the op's position. */
int mil_check_function(const mil_function *fn, const char *fname, an_error *err);

/* 0 when a type obeys ir.h (rank, dims, element count of static shapes times 64 bits fits
 * in int64); otherwise -1 with a message (no location: the caller prefixes one). */
int mil_type_check(const mil_type *t, an_error *err);

/* Byte size of numel elements of dt in storage form (sub-byte types packed), or
 * (size_t)-1 for string/invalid or overflow. */
size_t mil_dtype_storage_bytes(mil_dtype dt, int64_t numel);

/* Read FlexibleShapeInformation (DefaultShapes, RangeDims, EnumeratedShapes) from a
 * function attribute into the params' shape choices. Unknown parts are ignored. */
int mil_apply_flexible_shapes(an_arena *arena, mil_function *fn, const mil_literal *info,
                              an_error *err);

/* Derive per-function descriptions from the signatures (params → inputs/states,
 * outputs → outputs) for programs whose container has none. */
int mil_derive_descs(mil_program *p, an_error *err);

#endif
