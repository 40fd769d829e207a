/* ir.c — dtype tables and lookups on a loaded mil_program (ir.h). */
#include "mil/ir.h"

#include <string.h>

static const struct {
    const char *name;
    int bits;
    int proto; /* MILSpec.DataType (COREML-FORMAT.md §2.2), 0 = none */
    int blob;  /* BlobDataType (§3.1), 0 = none */
} dtype_info[MIL_DT_COUNT] = {
    [MIL_DT_INVALID] = {"invalid", 0, 0, 0},
    [MIL_DT_BOOL] = {"bool", 8, 1, 0},
    [MIL_DT_STRING] = {"string", 0, 2, 0},
    [MIL_DT_FP16] = {"fp16", 16, 10, 1},
    [MIL_DT_FP32] = {"fp32", 32, 11, 2},
    [MIL_DT_FP64] = {"fp64", 64, 12, 0},
    [MIL_DT_BF16] = {"bf16", 16, 13, 5},
    [MIL_DT_INT4] = {"int4", 4, 25, 8},
    [MIL_DT_INT8] = {"int8", 8, 21, 4},
    [MIL_DT_INT16] = {"int16", 16, 22, 6},
    [MIL_DT_INT32] = {"int32", 32, 23, 14},
    [MIL_DT_INT64] = {"int64", 64, 24, 0},
    [MIL_DT_UINT1] = {"uint1", 1, 37, 9},
    [MIL_DT_UINT2] = {"uint2", 2, 36, 10},
    [MIL_DT_UINT3] = {"uint3", 3, 39, 12},
    [MIL_DT_UINT4] = {"uint4", 4, 35, 11},
    [MIL_DT_UINT6] = {"uint6", 6, 38, 13},
    [MIL_DT_UINT8] = {"uint8", 8, 31, 3},
    [MIL_DT_UINT16] = {"uint16", 16, 32, 7},
    [MIL_DT_UINT32] = {"uint32", 32, 33, 15},
    [MIL_DT_UINT64] = {"uint64", 64, 34, 0},
    [MIL_DT_FP8E4M3] = {"fp8e4m3fn", 8, 40, 16},
    [MIL_DT_FP8E5M2] = {"fp8e5m2", 8, 41, 17},
};

const char *mil_dtype_name(mil_dtype dt)
{
    if ((int)dt <= 0 || dt >= MIL_DT_COUNT)
        return "invalid";
    return dtype_info[dt].name;
}

mil_dtype mil_dtype_from_name(const char *name, size_t len)
{
    for (int i = 1; i < MIL_DT_COUNT; i++)
        if (strlen(dtype_info[i].name) == len && memcmp(dtype_info[i].name, name, len) == 0)
            return (mil_dtype)i;
    /* "bfloat16" is coremltools' Python spelling; the text spelling is unverified. */
    if (len == 8 && memcmp(name, "bfloat16", 8) == 0)
        return MIL_DT_BF16;
    return MIL_DT_INVALID;
}

mil_dtype mil_dtype_from_proto(int64_t code)
{
    for (int i = 1; i < MIL_DT_COUNT; i++)
        if (dtype_info[i].proto == code)
            return (mil_dtype)i;
    return MIL_DT_INVALID;
}

mil_dtype mil_dtype_from_blob(uint32_t code)
{
    for (int i = 1; i < MIL_DT_COUNT; i++)
        if (dtype_info[i].blob != 0 && (uint32_t)dtype_info[i].blob == code)
            return (mil_dtype)i;
    return MIL_DT_INVALID;
}

int mil_dtype_bits(mil_dtype dt)
{
    if ((int)dt <= 0 || dt >= MIL_DT_COUNT)
        return 0;
    return dtype_info[dt].bits;
}

int64_t mil_type_numel(const mil_type *t)
{
    if (!t || t->kind != MIL_TYPE_TENSOR || t->rank < 0)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return -1;
        if (t->dims[i] != 0 && n > INT64_MAX / t->dims[i])
            return -1;
        n *= t->dims[i];
    }
    return n;
}

const mil_function *mil_program_function(const mil_program *p, const char *name)
{
    if (!p)
        return NULL;
    if (!name)
        name = p->default_function;
    for (int i = 0; i < p->n_functions; i++)
        if (strcmp(p->functions[i].name, name) == 0)
            return &p->functions[i];
    return NULL;
}

const mil_function_desc *mil_program_desc(const mil_program *p, const char *name)
{
    if (!p)
        return NULL;
    if (!name)
        name = p->default_function;
    for (int i = 0; i < p->n_descs; i++)
        if (p->descs[i].name && strcmp(p->descs[i].name, name) == 0)
            return &p->descs[i];
    return NULL;
}

const char *mil_program_metadata(const mil_program *p, const char *key)
{
    if (!p)
        return NULL;
    for (int i = 0; i < p->n_metadata; i++)
        if (strcmp(p->metadata[i].key, key) == 0)
            return p->metadata[i].value;
    return NULL;
}

const mil_input *mil_op_input(const mil_op *op, const char *name)
{
    for (int i = 0; i < op->n_inputs; i++)
        if (strcmp(op->inputs[i].name, name) == 0)
            return &op->inputs[i];
    return NULL;
}

const mil_literal *mil_op_attr(const mil_op *op, const char *name)
{
    for (int i = 0; i < op->n_attrs; i++)
        if (strcmp(op->attrs[i].name, name) == 0)
            return op->attrs[i].value;
    return NULL;
}
