/*
 * exec.h — internals shared by the planner, the interpreter and the op kernels.
 * Not a public contract: only src/mil/ includes it (engine.h is the API).
 *
 * A plan is one function planned for one set of input shapes. Each MIL value becomes an
 * mx_val with a static shape and a storage kind; each op an mx_step pointing at its
 * input and output mx_vals. Kernels get everything from the step: they never allocate
 * (scratch memory comes from the component's arena, sized at plan time).
 */
#ifndef MIL_EXEC_H
#define MIL_EXEC_H

#include <stdint.h>

#include "common/arena.h"
#include "common/error.h"
#include "mil/engine.h"
#include "common/pool.h"
#include "mil/ir.h"
#include "mil/kern.h"
#include "mil/tensor.h"

#define MX_MAXIN 10

typedef enum mx_kind {
    MX_CONST = 0, /* data fixed at plan time (folded constants, literals) */
    MX_INPUT,     /* a function input: bound to the caller's buffer at predict */
    MX_ARENA,     /* owns a region of the activation arena at `off` */
    MX_ALIAS,     /* shares the storage of `root` (views, in-place updates) */
    MX_STATE,     /* the buffer of state `state` (a state parameter, or an alias of it) */
} mx_kind;

typedef struct mx_val {
    mil_dtype dt;
    int rank;
    int64_t shape[MIL_MAX_RANK];
    int64_t numel;
    size_t nbytes;
    mx_kind kind;
    void *data;      /* resolved pointer; for CONST set at plan, others at bind time */
    int id;          /* index in plan->vals */
    int root;        /* ALIAS: the owning value (never itself an ALIAS) */
    int64_t alias_off; /* ALIAS: byte offset of this value inside the root's storage */
    int state;       /* STATE: index in plan->states */
    int input;       /* INPUT: index in the function's inputs */
    int read_op;     /* STATE aliases: the read_state op that made the chain, or -1 */
    int def, last;   /* op index of the definition (-1 params/literals) and last use */
    int64_t off;     /* ARENA: offset in the activation arena */
    int is_state_param;
    const struct mx_step *tile; /* a tile (or a view of one) that is never materialized:
                                 * the data is the tile's input; only matmul reads it */
    struct mx_kw *kw; /* CONST projection weight kept in its stored (compressed) form:
                       * data may be NULL until mx_materialize */
} mx_val;

/* A constant weight wired to the matrix kernels (kern.h). LUT weights stay packed in
 * the weight file's mapping; `src` is the constexpr step that can still decode them
 * when some other op needs the dense tensor. Owned by the component (released with it). */
typedef struct mx_kw {
    kn_weight w;
    const struct mx_step *src;
    struct mx_kw *next;
} mx_kw;

struct mx_plan;
struct mx_step;

typedef struct mx_ctx {
    struct mil_component *comp;
    struct mx_plan *plan;
    void *scratch;        /* at least plan->scratch_bytes */
    an_error *err;
    mil_predict_stats *stats;
} mx_ctx;

enum {
    MX_F_PURE = 1, /* folded at load when every input is constant */
    MX_F_VIEW = 2, /* output is input 0 with another shape: an alias, never a copy */
    MX_F_LITERAL = 8, /* const: infer binds the output to the literal itself */
    MX_F_SHAPEONLY = 4,
    MX_F_MULTIOUT = 32, /* one or more outputs (split); others have exactly one */
    MX_F_NOOUT = 64,    /* no outputs (write_state) */
    MX_F_SAMEDT = 16, /* outputs have input 0's dtype (kernels copy raw elements) */ /* reads only the shape of input 0: foldable when the rest is const */
};

typedef struct mx_opdef {
    const char *name;
    const char *inputs[MX_MAXIN]; /* names of the inputs, NULL-terminated */
    /* Set the output dtype/rank/shape (dtype is preset from the declared type),
     * validate, precompute s->aux, request scratch. 0 or -1 + err. */
    int (*infer)(struct mx_plan *p, struct mx_step *s, an_error *err);
    int (*run)(mx_ctx *c, const struct mx_step *s);
    int flags;
} mx_opdef;

typedef struct mx_step {
    const mx_opdef *def;
    const mil_op *op;
    int index;
    int nin[MX_MAXIN];
    mx_val **in[MX_MAXIN];
    int nout;
    mx_val **out;
    size_t scratch;  /* bytes this step needs */
    void *aux;       /* op-specific precomputed parameters (plan arena) */
    int64_t iaux[16];
    int in_place;    /* output aliases input 0 (slice_update, views) */
    int view;        /* set by infer: for these shapes the op only renames the layout
                      * (e.g. a transpose that moves size-1 axes only) or selects one
                      * contiguous block (a slice): planned as a view at view_off bytes */
    int64_t view_off;
    int dead;        /* folded into a later step (a fusion): not run */
} mx_step;

typedef struct mx_plan {
    const mil_function *fn;
    int fn_index;
    struct mil_component *comp;
    int nvals, cap_vals;
    mx_val **vals;
    int nsteps;
    mx_step *steps;
    int n_in;
    int64_t (*in_shapes)[MIL_MAX_RANK]; /* planned shape per function input */
    int *in_ranks;
    int n_out;
    mx_val **outs;
    mil_named_tensor *out_tensors;
    int n_states;
    int *state_params; /* value id of each state param */
    size_t arena_bytes, scratch_bytes;
    unsigned char *force_copy; /* per op: read_state must copy (aliasing conflict) */
    struct mx_plan *next;
} mx_plan;

struct mil_component {
    mil_program *prog;
    an_arena mem;       /* descriptors, plans, folded constants */
    int n_fns;
    mil_fn_desc *fns;
    mx_plan *plans;
    unsigned char *arena; /* activations + scratch, shared by all plans */
    size_t arena_size;
    mil_predict_stats stats;
    struct mx_fold *folds; /* cache of folded constexpr results, by input identity */
    struct mil_weights *weights; /* weight files, mapped on first use */
    size_t folded_bytes;  /* memory taken by folded constants */
    mx_kw *kws;           /* prepared kernel weights, released with the component */
};

/* Memory bounds against hostile model files: the largest single value, and the largest
 * activation arena / total of folded constants. Lowered by the fuzz targets only. */
extern size_t mx_value_limit, mx_memory_limit;

/* Op tables (ops_*.c), each ended by a NULL name, and the lookup over all of them. */
extern const mx_opdef mx_ops_elem[], mx_ops_linalg[], mx_ops_shape[], mx_ops_reduce[],
    mx_ops_const[], mx_ops_slice[];
const mx_opdef *mx_find_op(const char *name);

const mil_literal *mx_op_attr(const mil_op *op, const char *name);

/* Bits per element, as mil_dtype_bits. */
int mx_dtype_bits(mil_dtype dt);

/* The bytes of a tensor or blob literal (engine.c; blobs through the weight reader). */
int mx_literal_data(mil_component *c, const mil_literal *lit, const void **data, size_t *nbytes,
                    an_error *err);

/* Folded-constant cache (engine.c): a constexpr/pure op over the same constant inputs
 * (e.g. the infer and prefill functions sharing one weight blob) is folded once.
 * lookup fills the step's outputs and returns 1 when found. */
int mx_fold_lookup(mil_component *c, mx_step *s);
void mx_fold_remember(mil_component *c, const mx_step *s);

/* n elements of a tensor (any numeric dtype) from element off, as fp32 (stride 0: one
 * element repeated), and back (ops_elem.c). fp16 goes through the vector converters. */
/* exp of n values (y may be x), and the softmax of one contiguous row in place: vector
 * code where the CPU has it (vexp.c), within 2 ulp of expf for normal results. */
void mx_exp_n(const float *x, float *y, int64_t n);
void mx_softmax_row(float *buf, int64_t D);
void mx_ld_block(const void *d, mil_dtype dt, int64_t off, int64_t stride, float *dst, int64_t n);
void mx_st_block(void *d, mil_dtype dt, int64_t off, const float *src, int64_t n);

/* Kernel weights (ops_proj.c). A constexpr_lut_to_dense step whose output only feeds
 * projection weights is not decoded: mx_lut_pack leaves its output CONST with data NULL
 * and kw set (1), or declines (0, fold as usual), or fails (-1). mx_materialize decodes
 * such a value after all (for ops that need the dense tensor). */
int mx_lut_pack(mx_plan *p, mx_step *s, an_error *err);
int mx_lut_packable(const mx_plan *p, const mx_step *s);
int mx_materialize(mil_component *c, mx_val *v, an_error *err);
/* The projection fast path for conv (1x1) and linear: set up at infer when the weight is
 * a constant (dense fp16/fp32 or packed LUT). 1 = taken (s->aux holds it), 0 = not
 * applicable, -1 = error. mx_proj_run computes the step. */
int mx_proj_infer(mx_plan *p, mx_step *s, int is_conv, an_error *err);
int mx_proj_run(mx_ctx *c, const mx_step *s);
/* The engine's thread pool (engine.c): fn over [0, n) on mil_threads() threads. */
void mx_parallel_for(size_t n, size_t grain, an_pool_fn fn, void *ctx);

/* Planner (plan.c). */
int mx_plan_function(mil_component *c, int fn_index, const int64_t (*shapes)[MIL_MAX_RANK],
                     const int *ranks, mx_plan **out, an_error *err);

/* Parameter helpers for infer(). Inputs are looked up by position in def->inputs. */
static inline mx_val *mx_in(const struct mx_step *s, int k)
{
    return s->nin[k] > 0 ? s->in[k][0] : NULL;
}
int mx_is_const(const mx_val *v);
/* Integer elements of a constant (or -1 + err when not constant / too many). */
int mx_const_ints(const mx_step *s, int k, int64_t *out, int max, int *n, an_error *err);
int mx_param_int(const mx_step *s, int k, int64_t def, int64_t *out, an_error *err);
int mx_param_bool(const mx_step *s, int k, int def, int *out, an_error *err);
int mx_param_float(const mx_step *s, int k, float def, float *out, an_error *err);
const char *mx_param_str(const mx_step *s, int k, const char *def);
int mx_norm_axis(const mx_step *s, int64_t axis, int rank, int *out, an_error *err);
int mx_op_error(const mx_step *s, an_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *mx_plan_alloc(mx_plan *p, size_t n);
/* "model.mil:12:7" (text) or "model.mlmodel@1234" (protobuf offset) of an op. */
const char *mx_place(const mil_component *c, const mil_op *op, char *buf, size_t n);

/* Program lookahead for fusions (plan.c). mx_each_use calls ok on every use of value id
 * (defined by op i): op j, through its input `input`; it returns the number of uses, or
 * -1 when ok refuses one or id is a function output. mx_sole_use: the one op using id,
 * or NULL when there are several uses, none, or it is a function output. mx_op_value:
 * the value bound to input `name` of op (one binding), -2 for a literal, -1 when absent. */
typedef int (*mx_use_fn)(void *ctx, const mil_function *fn, int j, const char *input);
int mx_each_use(const mil_function *fn, int i, int id, mx_use_fn ok, void *ctx);
const mil_op *mx_sole_use(const mil_function *fn, int i, int id);
int mx_op_value(const mil_op *op, const char *name);

/* Broadcast shapes of two operands into out (NumPy rules). -1 + err when incompatible. */
int mx_broadcast(const mx_step *s, int ra, const int64_t *a, int rb, const int64_t *b, int *ro,
                 int64_t *o, an_error *err);
/* Element strides of an operand broadcast to an output of rank ro (0 on broadcast dims). */
void mx_bcast_strides(int r, const int64_t *shape, int ro, const int64_t *oshape, int64_t *st);
/* Copy shape-many elements of size es from src (element strides st) into dense dst;
 * rank up to 2*MIL_MAX_RANK. */
void mx_strided_copy(void *dst, const void *src, size_t es, int rank, const int64_t *shape,
                     const int64_t *st);
void mx_strides(int rank, const int64_t *shape, int64_t *st);

#endif
