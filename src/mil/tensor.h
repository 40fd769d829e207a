/*
 * tensor.h — the runtime tensor of the MIL engine and element access helpers.
 *
 * A mil_tensor is a plain description of a dense row-major buffer: dtype, rank, shape and
 * a data pointer it does not own. Runtime tensors use byte-addressable dtypes only
 * (bool as one byte 0/1, fp16 as IEEE binary16 bits, fp32, int8..int64, uint8..uint64);
 * sub-byte types exist only packed inside constants and are unpacked at load.
 *
 * The load/store helpers convert one element to and from fp32 or int64; fp16 stores
 * round to nearest even. They switch on the dtype, so kernels call them in loops whose
 * dtype is fixed (the branch is perfectly predicted), never through function pointers.
 * Everything here is pure and thread-safe.
 */
#ifndef MIL_TENSOR_H
#define MIL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/fp16.h"
#include "mil/ir.h"

typedef struct mil_tensor {
    mil_dtype dtype;
    int rank;
    int64_t shape[MIL_MAX_RANK];
    void *data; /* not owned */
} mil_tensor;

/* Bytes per element of a runtime dtype; 0 for sub-byte, string and invalid types. */
size_t mil_dtype_size(mil_dtype dt);
int mil_dtype_is_float(mil_dtype dt); /* fp16, fp32, fp64, bf16, fp8 (defined in litpack.c) */

int64_t mil_shape_numel(int rank, const int64_t *shape);
int64_t mil_tensor_numel(const mil_tensor *t);
size_t mil_tensor_nbytes(const mil_tensor *t);

/* "fp16[1,4,8]" into buf (always NUL-terminated); returns buf. */
const char *mil_shape_str(mil_dtype dt, int rank, const int64_t *shape, char *buf, size_t n);

static inline float mil_ld_f32(const void *p, mil_dtype dt, int64_t i)
{
    switch (dt) {
    case MIL_DT_FP16: return an_fp16_to_fp32(((const uint16_t *)p)[i]);
    case MIL_DT_FP32: return ((const float *)p)[i];
    case MIL_DT_FP64: return (float)((const double *)p)[i];
    case MIL_DT_BOOL:
    case MIL_DT_UINT8: return ((const uint8_t *)p)[i];
    case MIL_DT_INT8: return ((const int8_t *)p)[i];
    case MIL_DT_INT16: return ((const int16_t *)p)[i];
    case MIL_DT_UINT16: return ((const uint16_t *)p)[i];
    case MIL_DT_INT32: return (float)((const int32_t *)p)[i];
    case MIL_DT_UINT32: return (float)((const uint32_t *)p)[i];
    case MIL_DT_INT64: return (float)((const int64_t *)p)[i];
    case MIL_DT_UINT64: return (float)((const uint64_t *)p)[i];
    default: return 0.0f;
    }
}

static inline int64_t mil_ld_i64(const void *p, mil_dtype dt, int64_t i)
{
    switch (dt) {
    case MIL_DT_FP16:
    case MIL_DT_FP32:
    case MIL_DT_FP64: {
        double v = dt == MIL_DT_FP64 ? ((const double *)p)[i] : (double)mil_ld_f32(p, dt, i);
        if (v != v)
            return 0;
        if (v >= 9.2e18)
            return INT64_MAX;
        if (v <= -9.2e18)
            return INT64_MIN;
        return (int64_t)v; /* truncation toward zero, as NumPy astype */
    }
    case MIL_DT_BOOL:
    case MIL_DT_UINT8: return ((const uint8_t *)p)[i];
    case MIL_DT_INT8: return ((const int8_t *)p)[i];
    case MIL_DT_INT16: return ((const int16_t *)p)[i];
    case MIL_DT_UINT16: return ((const uint16_t *)p)[i];
    case MIL_DT_INT32: return ((const int32_t *)p)[i];
    case MIL_DT_UINT32: return ((const uint32_t *)p)[i];
    case MIL_DT_INT64: return ((const int64_t *)p)[i];
    case MIL_DT_UINT64: return (int64_t)((const uint64_t *)p)[i];
    default: return 0;
    }
}

/* Integer stores wrap modulo 2^bits (NumPy astype of an in-range value is exact). */
static inline void mil_st_i64(void *p, mil_dtype dt, int64_t i, int64_t v)
{
    switch (dt) {
    case MIL_DT_FP16: ((uint16_t *)p)[i] = an_fp32_to_fp16((float)v); break;
    case MIL_DT_FP32: ((float *)p)[i] = (float)v; break;
    case MIL_DT_FP64: ((double *)p)[i] = (double)v; break;
    case MIL_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case MIL_DT_UINT8:
    case MIL_DT_INT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case MIL_DT_INT16:
    case MIL_DT_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case MIL_DT_INT32:
    case MIL_DT_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case MIL_DT_INT64:
    case MIL_DT_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: break;
    }
}

static inline void mil_st_f32(void *p, mil_dtype dt, int64_t i, float v)
{
    switch (dt) {
    case MIL_DT_FP16: ((uint16_t *)p)[i] = an_fp32_to_fp16(v); break;
    case MIL_DT_FP32: ((float *)p)[i] = v; break;
    case MIL_DT_FP64: ((double *)p)[i] = v; break;
    case MIL_DT_BOOL: ((uint8_t *)p)[i] = v != 0.0f; break;
    default: {
        int64_t iv;
        if (v != v)
            iv = 0;
        else if (v >= 9.2e18f)
            iv = INT64_MAX;
        else if (v <= -9.2e18f)
            iv = INT64_MIN;
        else
            iv = (int64_t)v;
        mil_st_i64(p, dt, i, iv);
    }
    }
}

/* Convert n elements between runtime dtypes (float→int truncates, →bool is != 0).
 * Bulk fp16<->fp32 uses the fast paths of fp16.h. src and dst must not overlap. */
void mil_convert(const void *src, mil_dtype sdt, void *dst, mil_dtype ddt, int64_t n);

#endif
