/* tensor.c — runtime tensor helpers (see tensor.h). */
#include "mil/tensor.h"

#include <stdio.h>
#include <string.h>

size_t mil_dtype_size(mil_dtype dt)
{
    switch (dt) {
    case MIL_DT_BOOL:
    case MIL_DT_INT8:
    case MIL_DT_UINT8: return 1;
    case MIL_DT_FP16:
    case MIL_DT_BF16:
    case MIL_DT_INT16:
    case MIL_DT_UINT16: return 2;
    case MIL_DT_FP32:
    case MIL_DT_INT32:
    case MIL_DT_UINT32: return 4;
    case MIL_DT_FP64:
    case MIL_DT_INT64:
    case MIL_DT_UINT64: return 8;
    default: return 0;
    }
}


int64_t mil_shape_numel(int rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    return n;
}

int64_t mil_tensor_numel(const mil_tensor *t) { return mil_shape_numel(t->rank, t->shape); }

size_t mil_tensor_nbytes(const mil_tensor *t)
{
    return (size_t)mil_tensor_numel(t) * mil_dtype_size(t->dtype);
}

static const char *dt_name(mil_dtype dt)
{
    static const char *const names[MIL_DT_COUNT] = {
        [MIL_DT_BOOL] = "bool",     [MIL_DT_STRING] = "string", [MIL_DT_FP16] = "fp16",
        [MIL_DT_FP32] = "fp32",     [MIL_DT_FP64] = "fp64",     [MIL_DT_BF16] = "bf16",
        [MIL_DT_INT4] = "int4",     [MIL_DT_INT8] = "int8",     [MIL_DT_INT16] = "int16",
        [MIL_DT_INT32] = "int32",   [MIL_DT_INT64] = "int64",   [MIL_DT_UINT1] = "uint1",
        [MIL_DT_UINT2] = "uint2",   [MIL_DT_UINT3] = "uint3",   [MIL_DT_UINT4] = "uint4",
        [MIL_DT_UINT6] = "uint6",   [MIL_DT_UINT8] = "uint8",   [MIL_DT_UINT16] = "uint16",
        [MIL_DT_UINT32] = "uint32", [MIL_DT_UINT64] = "uint64",
    };
    return (unsigned)dt < MIL_DT_COUNT && names[dt] ? names[dt] : "?";
}

const char *mil_shape_str(mil_dtype dt, int rank, const int64_t *shape, char *buf, size_t n)
{
    size_t len = 0;
    int w = snprintf(buf, n, "%s[", dt_name(dt));
    len = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < rank && len < n; i++) {
        if (shape[i] < 0)
            w = snprintf(buf + len, n - len, "%s?", i ? "," : "");
        else
            w = snprintf(buf + len, n - len, "%s%lld", i ? "," : "", (long long)shape[i]);
        len += w > 0 ? (size_t)w : 0;
    }
    if (len < n)
        snprintf(buf + len, n - len, "]");
    return buf;
}

void mil_convert(const void *src, mil_dtype sdt, void *dst, mil_dtype ddt, int64_t n)
{
    if (n <= 0)
        return;
    if (sdt == ddt) {
        memcpy(dst, src, (size_t)n * mil_dtype_size(sdt));
    } else if (sdt == MIL_DT_FP16 && ddt == MIL_DT_FP32) {
        an_fp16_to_fp32_n(src, dst, (size_t)n);
    } else if (sdt == MIL_DT_FP32 && ddt == MIL_DT_FP16) {
        an_fp32_to_fp16_n(src, dst, (size_t)n);
    } else if (mil_dtype_is_float(ddt) && ddt != MIL_DT_FP64 && sdt != MIL_DT_FP64 &&
               sdt != MIL_DT_INT64 && sdt != MIL_DT_UINT64 && sdt != MIL_DT_INT32 &&
               sdt != MIL_DT_UINT32) {
        for (int64_t i = 0; i < n; i++)
            mil_st_f32(dst, ddt, i, mil_ld_f32(src, sdt, i));
    } else if (mil_dtype_is_float(ddt)) {
        /* wide ints and fp64: go through double so int32 → fp32 rounds once */
        for (int64_t i = 0; i < n; i++) {
            double v = sdt == MIL_DT_FP64 ? ((const double *)src)[i]
                                          : (double)mil_ld_i64(src, sdt, i);
            if (ddt == MIL_DT_FP64)
                ((double *)dst)[i] = v;
            else
                mil_st_f32(dst, ddt, i, (float)v);
        }
    } else if (ddt == MIL_DT_BOOL) {
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = mil_dtype_is_float(sdt) ? mil_ld_f32(src, sdt, i) != 0.0f
                                                          : mil_ld_i64(src, sdt, i) != 0;
    } else {
        for (int64_t i = 0; i < n; i++)
            mil_st_i64(dst, ddt, i, mil_ld_i64(src, sdt, i));
    }
}

#include "mil/exec.h"

int mx_dtype_bits(mil_dtype dt)
{
    switch (dt) {
    case MIL_DT_UINT1: return 1;
    case MIL_DT_UINT2: return 2;
    case MIL_DT_UINT3: return 3;
    case MIL_DT_INT4:
    case MIL_DT_UINT4: return 4;
    case MIL_DT_UINT6: return 6;
    case MIL_DT_FP8E4M3:
    case MIL_DT_FP8E5M2: return 8;
    default: return (int)mil_dtype_size(dt) * 8;
    }
}
