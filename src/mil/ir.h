/*
 * ir.h — the in-memory form of a Core ML ML Program, shared by both containers.
 *
 * The `.mlmodelc` text parser (model.mil) and the `.mlpackage` protobuf reader both
 * produce a mil_program; the planner and interpreter consume it. Everything in a
 * mil_program (names, types, literals, ops) lives in its arena and is freed with
 * mil_program_free. Weights are not in here: a const backed by a blob carries only the
 * (file, offset) reference, resolved through weights.h when the planner needs the data.
 *
 * Spec: ../shared/docs/COREML-FORMAT.md §2 (protobuf), §3 (blobs), §4 (text), §5 (ops).
 * Invariants (checked by the loaders, relied on by everything after them):
 *  - every op input names a value defined earlier in the same function (SSA order) or a
 *    function parameter, or is an inline literal;
 *  - every value has exactly one definition and a type;
 *  - tensor ranks are 0..MIL_MAX_RANK, dims are >= 0 or MIL_DIM_UNKNOWN, and the element
 *    count of every static shape fits in int64 (absurd shapes are rejected at load).
 */
#ifndef MIL_IR_H
#define MIL_IR_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/error.h"

#define MIL_MAX_RANK 8
#define MIL_DIM_UNKNOWN (-1) /* a `?` dimension */

/* Element types (our own numbering; see mil_dtype_from_* for the file encodings). */
typedef enum mil_dtype {
    MIL_DT_INVALID = 0,
    MIL_DT_BOOL,
    MIL_DT_STRING,
    MIL_DT_FP16,
    MIL_DT_FP32,
    MIL_DT_FP64,
    MIL_DT_BF16,
    MIL_DT_INT4,
    MIL_DT_INT8,
    MIL_DT_INT16,
    MIL_DT_INT32,
    MIL_DT_INT64,
    MIL_DT_UINT1,
    MIL_DT_UINT2,
    MIL_DT_UINT3,
    MIL_DT_UINT4,
    MIL_DT_UINT6,
    MIL_DT_UINT8,
    MIL_DT_UINT16,
    MIL_DT_UINT32,
    MIL_DT_UINT64,
    MIL_DT_FP8E4M3,
    MIL_DT_FP8E5M2,
    MIL_DT_COUNT
} mil_dtype;

/* The text spelling ("fp16", "uint6", ...) and back (MIL_DT_INVALID if unknown). */
const char *mil_dtype_name(mil_dtype dt);
mil_dtype mil_dtype_from_name(const char *name, size_t len);
/* MILSpec.DataType numbers (COREML-FORMAT.md §2.2) and BlobDataType codes (§3.1). */
mil_dtype mil_dtype_from_proto(int64_t code);
mil_dtype mil_dtype_from_blob(uint32_t code);
/* Bits per element (1..64); 0 for string/invalid. Sub-byte types pack LSB-first (§3.3). */
int mil_dtype_bits(mil_dtype dt);

typedef enum mil_type_kind {
    MIL_TYPE_TENSOR = 0, /* rank 0 is a scalar */
    MIL_TYPE_STATE,      /* state<tensor<...>>: elem is the wrapped tensor type */
    MIL_TYPE_LIST,       /* list<elem, length>; length MIL_DIM_UNKNOWN when `?` */
    MIL_TYPE_TUPLE,      /* tuple<items...> */
    MIL_TYPE_DICT,       /* dict<key, value>: items[0] key type, items[1] value type */
} mil_type_kind;

typedef struct mil_type mil_type;
struct mil_type {
    mil_type_kind kind;
    mil_dtype dtype;              /* TENSOR: element type */
    int rank;                     /* TENSOR: 0..MIL_MAX_RANK, or -1 when unknown */
    int64_t dims[MIL_MAX_RANK];   /* TENSOR: each >= 0 or MIL_DIM_UNKNOWN */
    const mil_type *elem;         /* STATE, LIST */
    int64_t length;               /* LIST */
    int n_items;                  /* TUPLE, DICT */
    const mil_type *const *items; /* TUPLE, DICT */
};

/* Element count of a tensor type with static shape, or -1 if any dim is unknown. */
int64_t mil_type_numel(const mil_type *t);

/* A literal value: an inline constant, a reference into a weight blob, or a
 * tuple/list/dict of literals (attributes such as buildInfo, FlexibleShapeInformation). */
typedef enum mil_literal_kind {
    MIL_LIT_TENSOR = 0, /* data holds the elements */
    MIL_LIT_BLOB,       /* BLOBFILE(path, offset): the data lives in a weight file */
    MIL_LIT_TUPLE,
    MIL_LIT_LIST,
    MIL_LIT_DICT,       /* items[2i] = key, items[2i+1] = value */
} mil_literal_kind;

typedef struct mil_literal mil_literal;
struct mil_literal {
    mil_literal_kind kind;
    mil_type type; /* TENSOR/BLOB: the tensor type (static shape) */
    /* TENSOR: row-major elements in the dtype's storage form: bool as uint8 0/1;
     * fp16 as uint16 bits; int4/uint1..uint6 packed LSB-first; strings as an array of
     * numel NUL-terminated char pointers. nbytes is the byte size of data. */
    const void *data;
    size_t nbytes;
    /* BLOB: path as written ("@model_path/weights/weight.bin") and the offset of the
     * blob_metadata record (COREML-FORMAT.md §3.2). */
    const char *blob_path;
    uint64_t blob_offset;
    /* TUPLE, LIST, DICT */
    int n_items;
    const mil_literal *const *items;
};

/* One binding of an op input: a value by id, or an inline literal. */
typedef struct mil_binding {
    int value;                 /* index into mil_function.values, or -1 */
    const mil_literal *literal; /* when value == -1 */
} mil_binding;

/* A named op input. Most have one binding; a tuple argument (`values = (a, b)`, concat)
 * has several. */
typedef struct mil_input {
    const char *name;
    int n_bindings;
    const mil_binding *bindings;
} mil_input;

/* A named attribute (the `[...]` bracket of an op, function or program). */
typedef struct mil_attr {
    const char *name;
    const mil_literal *value;
} mil_attr;

typedef struct mil_op {
    const char *type;  /* "conv", "constexpr_lut_to_dense", "write_state", ... */
    const char *name;  /* the `name` attribute, or NULL when absent */
    int n_inputs;
    const mil_input *inputs;   /* in file order (sorted by name as printed) */
    int n_attrs;
    const mil_attr *attrs;     /* excluding `name`; `const` keeps `val` here */
    int n_outputs;
    const int *outputs;        /* value ids; 0 outputs for write_state */
    int n_blocks;              /* nested blocks (cond/while_loop): loaders reject these */
    /* Where the op came from, for error messages: line:col in model.mil, or the byte
     * offset of the Operation message in model.mlmodel (line == 0). */
    int line, col;
    uint64_t offset;
} mil_op;

typedef struct mil_value {
    const char *name;
    mil_type type;
    int producer; /* op index that defines it, or -1 for a function parameter */
} mil_value;

/* A declared shape choice of one input (EnumeratedShapes / default shape). */
typedef struct mil_shape {
    int rank;
    int64_t dims[MIL_MAX_RANK];
} mil_shape;

typedef struct mil_param {
    int value;                  /* value id of the parameter */
    int n_shapes;               /* enumerated shapes, 0 when the shape is fixed */
    const mil_shape *shapes;
    mil_shape default_shape;    /* valid when n_shapes > 0 or a range has a default */
    int has_range;              /* RangeDims flexibility */
    int64_t range_lo[MIL_MAX_RANK], range_hi[MIL_MAX_RANK]; /* hi -1 = unbounded */
} mil_param;

typedef struct mil_function {
    const char *name;
    const char *opset;          /* "ios18" (text) / "CoreML8" (proto) normalised to "ios18" */
    int n_params;
    const mil_param *params;    /* inputs and states, in declaration order */
    int n_values;
    mil_value *values;
    int n_ops;
    const mil_op *ops;          /* SSA order */
    int n_outputs;
    const int *outputs;         /* value ids of `-> (a, b)` */
    int n_attrs;
    const mil_attr *attrs;      /* e.g. FlexibleShapeInformation, as read */
} mil_function;

/* A feature of the model's description (metadata.json / ModelDescription). */
typedef struct mil_feature {
    const char *name;
    mil_type type;      /* TENSOR, or STATE wrapping a tensor */
    int is_optional;
} mil_feature;

typedef struct mil_function_desc {
    const char *name;
    int n_inputs, n_outputs, n_states;
    const mil_feature *inputs, *outputs, *states;
} mil_function_desc;

typedef struct mil_kv {
    const char *key, *value;
} mil_kv;

typedef enum mil_container {
    MIL_CONTAINER_MLMODELC = 1,
    MIL_CONTAINER_MLPACKAGE = 2,
} mil_container;

typedef struct mil_program {
    an_arena arena;             /* owns everything below */
    mil_container container;
    const char *path;           /* the .mlmodelc / .mlpackage directory */
    const char *model_dir;      /* what @model_path means: the .mlmodelc dir, or the
                                   directory holding model.mlmodel */
    const char *source;         /* model.mil or model.mlmodel, for error messages */
    int version_major, version_minor; /* program(1.3) → 1, 3; protobuf: version, 0 */
    int spec_version;           /* specificationVersion (0 when unknown) */
    int n_attrs;
    const mil_attr *attrs;      /* program attributes (buildInfo) */
    int n_functions;
    mil_function *functions;
    const char *default_function; /* defaultFunctionName, or "main" */
    /* The description: per function inputs/outputs/states (from metadata.json or the
     * protobuf ModelDescription; derived from the signatures when absent). */
    int n_descs;
    const mil_function_desc *descs;
    int n_metadata;
    const mil_kv *metadata;     /* userDefinedMetadata (com.anemll.* ...) */
    const char *author, *license, *short_description, *version_string;
} mil_program;

/* Load a program from a .mlmodelc or .mlpackage directory (container discovery:
 * COREML-FORMAT.md §1). Reads no weights. NULL + err (naming file and place) on failure. */
mil_program *mil_program_load(const char *path, an_error *err);
void mil_program_free(mil_program *p);

const mil_function *mil_program_function(const mil_program *p, const char *name);
const mil_function_desc *mil_program_desc(const mil_program *p, const char *name);
const char *mil_program_metadata(const mil_program *p, const char *key); /* NULL if absent */

/* Lookups within an op (NULL when absent). */
const mil_input *mil_op_input(const mil_op *op, const char *name);
const mil_literal *mil_op_attr(const mil_op *op, const char *name);

#endif
