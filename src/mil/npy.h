/*
 * npy.h — NumPy .npy files (format versions 1.0, 2.0, 3.0) to and from mil_tensor.
 *
 * Supported: little-endian (or byte-order-free) bool, int8..int64, uint8..uint64, fp16,
 * fp32, fp64; C order; rank 0..MIL_MAX_RANK. Fortran order, big-endian and object or
 * structured dtypes are refused with a message naming the file. The parser trusts
 * nothing: the header is bounded, and the data size must match the shape exactly.
 *
 * Thread-safe (no shared state).
 */
#ifndef MIL_NPY_H
#define MIL_NPY_H

#include <stddef.h>

#include "common/error.h"
#include "mil/tensor.h"

/* Parse .npy bytes. On success t->data points into `data` (not copied): valid while
 * the buffer is. `name` is used in messages. */
int mil_npy_parse(const void *data, size_t len, const char *name, mil_tensor *t, an_error *err);

/* Read a file: t->data is malloc'd (caller frees). */
int mil_npy_read(const char *path, mil_tensor *t, an_error *err);

/* Write t as .npy version 1.0 (atomically). */
int mil_npy_write(const char *path, const mil_tensor *t, an_error *err);

/* The descr string NumPy uses for dt ("<f2"), NULL when not representable. */
const char *mil_npy_descr(mil_dtype dt);

#endif
