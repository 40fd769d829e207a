/*
 * ops_slice.c — slice_by_index, slice_by_size, slice_update, gather, gather_along_axis
 * (COREML-FORMAT.md §5.7). begin/end may be runtime tensors (ANEMLL computes the KV
 * write position from current_pos); the output shape is then the declared one and a
 * runtime slice of another size is an error, never an out-of-bounds access.
 */
#include <string.h>

#include "mil/exec.h"

/* Inputs shared by slice_by_index and slice_update, after x (and update). */
typedef struct slice_in {
    int begin, end, stride, begin_mask, end_mask, squeeze_mask;
} slice_in;

static const slice_in SBI = {1, 2, 3, 4, 5, 6};
static const slice_in SU = {2, 3, 4, 5, 6, 7};

/* Python slice of one axis: start and count (stride given). */
static void py_slice(int64_t dim, int64_t b, int64_t e, int64_t st, int bm, int em, int64_t *start,
                     int64_t *count)
{
    if (st > 0) {
        if (bm)
            b = 0;
        else {
            if (b < 0)
                b += dim;
            b = b < 0 ? 0 : b > dim ? dim : b;
        }
        if (em)
            e = dim;
        else {
            if (e < 0)
                e += dim;
            e = e < 0 ? 0 : e > dim ? dim : e;
        }
        *count = e > b ? (e - b + st - 1) / st : 0;
    } else {
        if (bm)
            b = dim - 1;
        else {
            if (b < 0)
                b += dim;
            b = b < -1 ? -1 : b > dim - 1 ? dim - 1 : b;
        }
        if (em)
            e = -1;
        else {
            if (e < 0)
                e += dim;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        }
        *count = b > e ? (b - e + (-st) - 1) / (-st) : 0;
    }
    *start = b;
}

static int mask_at(const mx_val *v, int d)
{
    return v && d < v->numel && mil_ld_i64(v->data, v->dt, d) != 0;
}

/* Compute start/stride/count per axis of x from the (maybe runtime) slice inputs.
 * Returns -1 on a malformed input (message through err when given). */
static int slice_params(const mx_step *s, const slice_in *si, const mx_val *x, int64_t *start,
                        int64_t *step, int64_t *count, int *squeeze, an_error *err)
{
    const mx_val *b = mx_in(s, si->begin), *e = mx_in(s, si->end), *st = mx_in(s, si->stride);
    const mx_val *bm = mx_in(s, si->begin_mask), *em = mx_in(s, si->end_mask),
                 *sm = mx_in(s, si->squeeze_mask);
    if (!b || !e || b->numel != x->rank || e->numel != x->rank || (st && st->numel != x->rank))
        return mx_op_error(s, err, "begin/end/stride must have %d elements", x->rank);
    for (int d = 0; d < x->rank; d++) {
        int64_t bb = mil_ld_i64(b->data, b->dt, d), ee = mil_ld_i64(e->data, e->dt, d);
        int64_t ss = st ? mil_ld_i64(st->data, st->dt, d) : 1;
        if (ss == 0)
            return mx_op_error(s, err, "stride is zero");
        squeeze[d] = mask_at(sm, d);
        if (squeeze[d]) {
            if (bb < 0)
                bb += x->shape[d];
            if (bb < 0 || bb >= x->shape[d])
                return mx_op_error(s, err, "squeezed index %lld out of range", (long long)bb);
            start[d] = bb, step[d] = 1, count[d] = 1;
        } else {
            py_slice(x->shape[d], bb, ee, ss, mask_at(bm, d), mask_at(em, d), &start[d], &count[d]);
            step[d] = ss;
        }
    }
    return 0;
}

static int slice_consts(const mx_step *s, const slice_in *si)
{
    const int ks[] = {si->begin, si->end, si->stride, si->begin_mask, si->end_mask, si->squeeze_mask};
    for (int i = 0; i < 6; i++)
        if (mx_in(s, ks[i]) && !mx_is_const(mx_in(s, ks[i])))
            return 0;
    return 1;
}

static int check_masks_const(const mx_step *s, const slice_in *si, an_error *err)
{
    const int ks[] = {si->stride, si->begin_mask, si->end_mask, si->squeeze_mask};
    for (int i = 0; i < 4; i++)
        if (mx_in(s, ks[i]) && !mx_is_const(mx_in(s, ks[i])))
            return mx_op_error(s, err, "input '%s' must be a constant", s->def->inputs[ks[i]]);
    return 0;
}

static int infer_slice_by_index(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *o = s->out[0];
    if (!x || mil_dtype_size(x->dt) == 0)
        return mx_op_error(s, err, "needs a tensor x");
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    if (check_masks_const(s, &SBI, err))
        return -1;
    int64_t start[MIL_MAX_RANK], step[MIL_MAX_RANK], count[MIL_MAX_RANK];
    int sq[MIL_MAX_RANK];
    if (slice_consts(s, &SBI)) {
        if (slice_params(s, &SBI, x, start, step, count, sq, err))
            return -1;
        o->rank = 0;
        for (int d = 0; d < x->rank; d++)
            if (!sq[d])
                o->shape[o->rank++] = count[d];
        /* one contiguous block of x (leading axes of count 1, then one axis of unit
         * step, then whole axes): a view of x, no copy */
        int64_t xs[MIL_MAX_RANK], off = 0, n = 1;
        mx_strides(x->rank, x->shape, xs);
        int d0 = 0;
        while (d0 < x->rank && count[d0] == 1)
            d0++;
        int ok = o->dt == x->dt;
        for (int d = d0 + 1; d < x->rank && ok; d++)
            ok = start[d] == 0 && count[d] == x->shape[d] && step[d] == 1;
        if (d0 < x->rank)
            ok = ok && step[d0] == 1;
        for (int d = 0; d < x->rank; d++) {
            off += start[d] * xs[d];
            n *= count[d];
        }
        if (ok && n > 0) {
            s->view = 1;
            s->view_off = off * (int64_t)mil_dtype_size(x->dt);
        }
        return 0;
    }
    for (int d = 0; d < o->rank; d++)
        if (o->shape[d] < 0)
            return mx_op_error(s, err, "runtime begin/end need a static declared output shape");
    if (!mx_in(s, 1) || !mx_in(s, 2) || mx_in(s, 1)->numel != x->rank || mx_in(s, 2)->numel != x->rank)
        return mx_op_error(s, err, "begin/end must have %d elements", x->rank);
    return 0;
}

static int run_slice_by_index(mx_ctx *c, const mx_step *s)
{
    const mx_val *x = s->in[0][0], *o = s->out[0];
    int64_t start[MIL_MAX_RANK], step[MIL_MAX_RANK], count[MIL_MAX_RANK], xs[MIL_MAX_RANK],
        st[MIL_MAX_RANK];
    int sq[MIL_MAX_RANK];
    if (slice_params(s, &SBI, x, start, step, count, sq, c->err))
        return -1;
    if (mil_shape_numel(x->rank, count) != o->numel)
        return mx_op_error(s, c->err, "runtime slice has %lld elements, planned %lld",
                           (long long)mil_shape_numel(x->rank, count), (long long)o->numel);
    mx_strides(x->rank, x->shape, xs);
    int64_t off = 0;
    for (int d = 0; d < x->rank; d++) {
        off += start[d] * xs[d];
        st[d] = step[d] * xs[d];
    }
    size_t es = mil_dtype_size(x->dt);
    if (o->numel == 0)
        return 0;
    mx_strided_copy(o->data, (const char *)x->data + (size_t)off * es, es, x->rank, count, st);
    return 0;
}

static int infer_slice_by_size(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *o = s->out[0], *b = mx_in(s, 1);
    if (!x || !b || mil_dtype_size(x->dt) == 0)
        return mx_op_error(s, err, "needs x and begin");
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    int64_t size[MIL_MAX_RANK];
    int n;
    if (mx_const_ints(s, 2, size, MIL_MAX_RANK, &n, err))
        return -1;
    if (n != x->rank || b->numel != x->rank)
        return mx_op_error(s, err, "begin/size must have %d elements", x->rank);
    int64_t begin[MIL_MAX_RANK];
    for (int d = 0; d < n; d++) {
        if (size[d] == -1) {
            if (!mx_is_const(b))
                return mx_op_error(s, err, "size -1 needs a constant begin");
            begin[d] = mil_ld_i64(b->data, b->dt, d);
            if (begin[d] < 0)
                begin[d] += x->shape[d];
            size[d] = x->shape[d] - begin[d];
        }
        if (size[d] < 0 || size[d] > x->shape[d])
            return mx_op_error(s, err, "size %lld out of range", (long long)size[d]);
        s->iaux[d] = size[d];
    }
    o->rank = n;
    memcpy(o->shape, size, sizeof(int64_t) * (size_t)n);
    return 0;
}

static int run_slice_by_size(mx_ctx *c, const mx_step *s)
{
    const mx_val *x = s->in[0][0], *b = s->in[1][0], *o = s->out[0];
    int64_t xs[MIL_MAX_RANK], off = 0;
    mx_strides(x->rank, x->shape, xs);
    for (int d = 0; d < x->rank; d++) {
        int64_t bb = mil_ld_i64(b->data, b->dt, d);
        if (bb < 0)
            bb += x->shape[d];
        if (bb < 0 || bb + o->shape[d] > x->shape[d])
            return mx_op_error(s, c->err, "begin %lld out of range for dim %d",
                               (long long)mil_ld_i64(b->data, b->dt, d), d);
        off += bb * xs[d];
    }
    size_t es = mil_dtype_size(x->dt);
    if (o->numel)
        mx_strided_copy(o->data, (const char *)x->data + (size_t)off * es, es, x->rank, o->shape, xs);
    return 0;
}

/* ---- slice_update ---- */

static int infer_slice_update(mx_plan *p, mx_step *s, an_error *err)
{
    (void)p;
    mx_val *x = mx_in(s, 0), *u = mx_in(s, 1), *o = s->out[0];
    if (!x || !u || mil_dtype_size(x->dt) == 0 || mil_dtype_size(u->dt) == 0)
        return mx_op_error(s, err, "needs x and update");
    if (u->rank == 0)
        return mx_op_error(s, err, "rank-0 update is not allowed");
    if (check_masks_const(s, &SU, err))
        return -1;
    if (slice_consts(s, &SU)) {
        int64_t start[MIL_MAX_RANK], step[MIL_MAX_RANK], count[MIL_MAX_RANK];
        int sq[MIL_MAX_RANK];
        if (slice_params(s, &SU, x, start, step, count, sq, err))
            return -1;
        int r = 0;
        for (int d = 0; d < x->rank; d++)
            if (!sq[d]) {
                if (r >= u->rank || u->shape[r] != count[d])
                    return mx_op_error(s, err, "update shape does not match the slice");
                r++;
            }
        if (r != u->rank)
            return mx_op_error(s, err, "update rank does not match the slice");
    }
    o->dt = x->dt;
    o->rank = x->rank;
    memcpy(o->shape, x->shape, sizeof o->shape);
    return 0;
}

static int run_slice_update(mx_ctx *c, const mx_step *s)
{
    const mx_val *x = s->in[0][0], *u = s->in[1][0], *o = s->out[0];
    int64_t start[MIL_MAX_RANK], step[MIL_MAX_RANK], count[MIL_MAX_RANK], xs[MIL_MAX_RANK];
    int sq[MIL_MAX_RANK];
    if (slice_params(s, &SU, x, start, step, count, sq, c->err))
        return -1;
    if (mil_shape_numel(x->rank, count) != u->numel)
        return mx_op_error(s, c->err, "update has %lld elements, the slice %lld",
                           (long long)u->numel, (long long)mil_shape_numel(x->rank, count));
    const mx_val *root = x->kind == MX_ALIAS ? c->plan->vals[x->root] : x;
    if (!s->in_place) {
        memcpy(o->data, x->data, o->nbytes);
        if (root->is_state_param)
            c->stats->state_bytes_copied += o->nbytes;
    } else if (root->is_state_param) {
        c->stats->state_bytes_written_in_place += (uint64_t)u->numel * mil_dtype_size(o->dt);
    }
    if (u->numel == 0)
        return 0;
    mx_strides(x->rank, x->shape, xs);
    size_t es = mil_dtype_size(o->dt);
    int r = x->rank;
    int64_t idx[MIL_MAX_RANK] = {0}, off0 = 0;
    for (int d = 0; d < r; d++)
        off0 += start[d] * xs[d];
    int64_t inner = count[r - 1], ist = step[r - 1] * xs[r - 1];
    int same = u->dt == o->dt;
    char *od = o->data;
    int64_t ui = 0;
    for (;;) {
        int64_t off = off0;
        for (int d = 0; d < r - 1; d++)
            off += idx[d] * step[d] * xs[d];
        if (same && ist == 1) {
            memcpy(od + (size_t)off * es, (const char *)u->data + (size_t)ui * es, (size_t)inner * es);
            ui += inner;
        } else {
            for (int64_t j = 0; j < inner; j++, ui++) {
                if (same)
                    memcpy(od + (size_t)(off + j * ist) * es, (const char *)u->data + (size_t)ui * es, es);
                else
                    mil_st_f32(od, o->dt, off + j * ist, mil_ld_f32(u->data, u->dt, ui));
            }
        }
        int d = r - 2;
        for (; d >= 0; d--) {
            if (++idx[d] < count[d])
                break;
            idx[d] = 0;
        }
        if (d < 0)
            break;
    }
    return 0;
}

/* ---- gather ---- */

/* Index wrapping by opset: iOS15/16 wrap -D <= v < 0; iOS17+ treat negatives as out of
 * bounds. Out-of-bounds indices produce zeros (memory safe, as the spec requires). */
static int wraps_negative(const mx_plan *p)
{
    const char *o = p->fn->opset;
    return o && (strcmp(o, "ios15") == 0 || strcmp(o, "ios16") == 0);
}

static int infer_gather(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *ix = mx_in(s, 1), *o = s->out[0];
    if (!x || !ix || mil_dtype_size(x->dt) == 0 || mil_dtype_is_float(ix->dt))
        return mx_op_error(s, err, "needs x and integer indices");
    int64_t axis, bd;
    if (mx_param_int(s, 2, 0, &axis, err) || mx_param_int(s, 3, 0, &bd, err))
        return -1;
    int a;
    if (mx_norm_axis(s, axis, x->rank, &a, err))
        return -1;
    if (bd < 0)
        bd += ix->rank;
    if (bd < 0 || bd > a || bd > ix->rank)
        return mx_op_error(s, err, "batch_dims %lld out of range", (long long)bd);
    for (int d = 0; d < bd; d++)
        if (x->shape[d] != ix->shape[d])
            return mx_op_error(s, err, "batch dims differ");
    int r = 0;
    for (int d = 0; d < a; d++)
        o->shape[r++] = x->shape[d];
    for (int d = (int)bd; d < ix->rank; d++)
        o->shape[r++] = ix->shape[d];
    for (int d = a + 1; d < x->rank; d++)
        o->shape[r++] = x->shape[d];
    if (r > MIL_MAX_RANK)
        return mx_op_error(s, err, "output rank too large");
    o->rank = r;
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    s->iaux[0] = a;
    s->iaux[1] = bd;
    s->iaux[2] = wraps_negative(p);
    return 0;
}

static int run_gather(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *ix = s->in[1][0], *o = s->out[0];
    int a = (int)s->iaux[0], bd = (int)s->iaux[1], wrap = (int)s->iaux[2];
    int64_t B = mil_shape_numel(bd, x->shape);
    int64_t P = mil_shape_numel(a - bd, x->shape + bd);
    int64_t D = x->shape[a];
    int64_t Q = mil_shape_numel(x->rank - a - 1, x->shape + a + 1);
    int64_t I = mil_shape_numel(ix->rank - bd, ix->shape + bd);
    size_t es = mil_dtype_size(x->dt), row = (size_t)Q * es;
    char *od = o->data;
    const char *xd = x->data;
    int same = x->dt == o->dt;
    for (int64_t b = 0; b < B; b++)
        for (int64_t pp = 0; pp < P; pp++)
            for (int64_t i = 0; i < I; i++) {
                int64_t v = mil_ld_i64(ix->data, ix->dt, b * I + i);
                if (v < 0 && wrap)
                    v += D;
                char *dst = od + (size_t)(((b * P + pp) * I + i) * Q) * mil_dtype_size(o->dt);
                if (v < 0 || v >= D) {
                    memset(dst, 0, (size_t)Q * mil_dtype_size(o->dt));
                    continue;
                }
                const char *src = xd + (size_t)(((b * P + pp) * D + v) * Q) * es;
                if (same)
                    memcpy(dst, src, row);
                else
                    mil_convert(src, x->dt, dst, o->dt, Q);
            }
    return 0;
}

static int infer_gather_along_axis(mx_plan *p, mx_step *s, an_error *err)
{
    mx_val *x = mx_in(s, 0), *ix = mx_in(s, 1), *o = s->out[0];
    if (!x || !ix || mil_dtype_size(x->dt) == 0 || mil_dtype_is_float(ix->dt))
        return mx_op_error(s, err, "needs x and integer indices");
    int64_t axis;
    if (mx_param_int(s, 2, 0, &axis, err))
        return -1;
    int a;
    if (mx_norm_axis(s, axis, x->rank, &a, err))
        return -1;
    if (ix->rank != x->rank)
        return mx_op_error(s, err, "indices rank differs from x");
    for (int d = 0; d < x->rank; d++)
        if (d != a && ix->shape[d] != x->shape[d])
            return mx_op_error(s, err, "indices shape differs from x off the axis");
    o->rank = ix->rank;
    memcpy(o->shape, ix->shape, sizeof o->shape);
    if (o->dt == MIL_DT_INVALID)
        o->dt = x->dt;
    s->iaux[0] = a;
    s->iaux[2] = wraps_negative(p);
    return 0;
}

static int run_gather_along_axis(mx_ctx *c, const mx_step *s)
{
    (void)c;
    const mx_val *x = s->in[0][0], *ix = s->in[1][0], *o = s->out[0];
    int a = (int)s->iaux[0], wrap = (int)s->iaux[2];
    int64_t outer = mil_shape_numel(a, o->shape), n = o->shape[a], D = x->shape[a];
    int64_t inner = mil_shape_numel(o->rank - a - 1, o->shape + a + 1);
    size_t es = mil_dtype_size(o->dt);
    int same = x->dt == o->dt;
    for (int64_t i = 0; i < outer; i++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t k = 0; k < inner; k++) {
                int64_t oi = (i * n + j) * inner + k;
                int64_t v = mil_ld_i64(ix->data, ix->dt, oi);
                if (v < 0 && wrap)
                    v += D;
                if (v < 0 || v >= D) {
                    memset((char *)o->data + (size_t)oi * es, 0, es);
                    continue;
                }
                int64_t xi = (i * D + v) * inner + k;
                if (same)
                    memcpy((char *)o->data + (size_t)oi * es, (const char *)x->data + (size_t)xi * es, es);
                else
                    mil_st_f32(o->data, o->dt, oi, mil_ld_f32(x->data, x->dt, xi));
            }
    return 0;
}

const mx_opdef mx_ops_slice[] = {
    {"slice_by_index",
     {"x", "begin", "end", "stride", "begin_mask", "end_mask", "squeeze_mask", NULL},
     infer_slice_by_index, run_slice_by_index, MX_F_PURE | MX_F_SAMEDT},
    {"slice_by_size", {"x", "begin", "size", NULL}, infer_slice_by_size, run_slice_by_size,
     MX_F_PURE | MX_F_SAMEDT},
    {"slice_update",
     {"x", "update", "begin", "end", "stride", "begin_mask", "end_mask", "squeeze_mask", NULL},
     infer_slice_update, run_slice_update, MX_F_PURE},
    {"gather", {"x", "indices", "axis", "batch_dims", "validate_indices", NULL}, infer_gather,
     run_gather, MX_F_PURE},
    {"gather_along_axis", {"x", "indices", "axis", "validate_indices", NULL},
     infer_gather_along_axis, run_gather_along_axis, MX_F_PURE},
    {NULL, {NULL}, NULL, NULL, 0},
};
