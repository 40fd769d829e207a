/* print.c — canonical model.mil text of a program (print.h). */
#include "mil/print.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "mil/packed.h"

int mil_print_type(const mil_type *t, an_strbuf *sb)
{
    int rc = 0;
    switch (t->kind) {
    case MIL_TYPE_TENSOR:
        if (t->rank == 0)
            return an_sb_puts(sb, mil_dtype_name(t->dtype));
        rc |= an_sb_appendf(sb, "tensor<%s, [", mil_dtype_name(t->dtype));
        for (int i = 0; i < t->rank; i++) {
            if (i)
                rc |= an_sb_puts(sb, ", ");
            if (t->dims[i] == MIL_DIM_UNKNOWN)
                rc |= an_sb_putc(sb, '?');
            else
                rc |= an_sb_appendf(sb, "%" PRId64, t->dims[i]);
        }
        if (t->rank < 0)
            rc |= an_sb_putc(sb, '*');
        return rc | an_sb_puts(sb, "]>");
    case MIL_TYPE_STATE:
        rc |= an_sb_puts(sb, "state<");
        rc |= mil_print_type(t->elem, sb);
        return rc | an_sb_putc(sb, '>');
    case MIL_TYPE_LIST:
        rc |= an_sb_puts(sb, "list<");
        rc |= mil_print_type(t->elem, sb);
        if (t->length < 0)
            rc |= an_sb_puts(sb, ", ?>");
        else
            rc |= an_sb_appendf(sb, ", %" PRId64 ">", t->length);
        return rc;
    case MIL_TYPE_TUPLE:
    case MIL_TYPE_DICT:
        rc |= an_sb_puts(sb, t->kind == MIL_TYPE_TUPLE ? "tuple<" : "dict<");
        for (int i = 0; i < t->n_items; i++) {
            if (i)
                rc |= an_sb_puts(sb, ", ");
            rc |= mil_print_type(t->items[i], sb);
        }
        return rc | an_sb_putc(sb, '>');
    }
    return -1;
}

typedef struct named {
    const char *name;
    const void *item;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static int print_float(double v, an_strbuf *sb)
{
    if (isnan(v))
        return an_sb_puts(sb, "nan");
    if (isinf(v))
        return an_sb_puts(sb, v < 0 ? "-inf" : "inf");
    return an_sb_appendf(sb, "%a", v);
}

static int print_elem(const mil_literal *l, const uint8_t *unpacked, int64_t i, an_strbuf *sb)
{
    const unsigned char *d = l->data;
    switch (l->type.dtype) {
    case MIL_DT_BOOL: return an_sb_puts(sb, d[i] ? "true" : "false");
    case MIL_DT_STRING: return an_sb_appendf(sb, "\"%s\"", ((const char *const *)l->data)[i]);
    case MIL_DT_FP16: { uint16_t h; memcpy(&h, d + 2 * i, 2); return print_float(an_fp16_to_fp32(h), sb); }
    case MIL_DT_BF16: {
        uint16_t h;
        memcpy(&h, d + 2 * i, 2);
        uint32_t x = (uint32_t)h << 16;
        float f;
        memcpy(&f, &x, 4);
        return print_float(f, sb);
    }
    case MIL_DT_FP32: { float f; memcpy(&f, d + 4 * i, 4); return print_float(f, sb); }
    case MIL_DT_FP64: { double f; memcpy(&f, d + 8 * i, 8); return print_float(f, sb); }
    case MIL_DT_INT8: return an_sb_appendf(sb, "%d", (int)(int8_t)d[i]);
    case MIL_DT_UINT8: return an_sb_appendf(sb, "%u", (unsigned)d[i]);
    case MIL_DT_INT16: { int16_t v; memcpy(&v, d + 2 * i, 2); return an_sb_appendf(sb, "%d", v); }
    case MIL_DT_UINT16: { uint16_t v; memcpy(&v, d + 2 * i, 2); return an_sb_appendf(sb, "%u", v); }
    case MIL_DT_INT32: { int32_t v; memcpy(&v, d + 4 * i, 4); return an_sb_appendf(sb, "%" PRId32, v); }
    case MIL_DT_UINT32: { uint32_t v; memcpy(&v, d + 4 * i, 4); return an_sb_appendf(sb, "%" PRIu32, v); }
    case MIL_DT_INT64: { int64_t v; memcpy(&v, d + 8 * i, 8); return an_sb_appendf(sb, "%" PRId64, v); }
    case MIL_DT_UINT64: { uint64_t v; memcpy(&v, d + 8 * i, 8); return an_sb_appendf(sb, "%" PRIu64, v); }
    case MIL_DT_INT4: return an_sb_appendf(sb, "%d", (int)(int8_t)unpacked[i]);
    case MIL_DT_UINT1: case MIL_DT_UINT2: case MIL_DT_UINT3: case MIL_DT_UINT4: case MIL_DT_UINT6:
        return an_sb_appendf(sb, "%u", (unsigned)unpacked[i]);
    default: return an_sb_appendf(sb, "0x%02x", d[i]); /* fp8: raw byte */
    }
}

/* Row-major nested brackets: [[a, b], [c, d]]. */
static int print_nested(const mil_literal *l, const uint8_t *unp, int axis, int64_t *pos, an_strbuf *sb)
{
    if (axis == l->type.rank)
        return print_elem(l, unp, (*pos)++, sb);
    int rc = an_sb_putc(sb, '[');
    for (int64_t i = 0; i < l->type.dims[axis]; i++) {
        if (i)
            rc |= an_sb_puts(sb, ", ");
        rc |= print_nested(l, unp, axis + 1, pos, sb);
    }
    return rc | an_sb_putc(sb, ']');
}

static int print_body(const mil_literal *l, an_strbuf *sb)
{
    int rc = 0;
    switch (l->kind) {
    case MIL_LIT_BLOB:
        return an_sb_appendf(sb, "BLOBFILE(path = string(\"%s\"), offset = uint64(%" PRIu64 "))", l->blob_path,
                             l->blob_offset);
    case MIL_LIT_TENSOR: {
        int64_t n = mil_type_numel(&l->type), pos = 0;
        uint8_t *unp = NULL;
        if (mil_dtype_bits(l->type.dtype) < 8 && l->type.dtype != MIL_DT_STRING) {
            unp = malloc((size_t)n + 1);
            if (!unp)
                return -1;
            mil_unpack_dtype(l->type.dtype, l->data, n, unp);
        }
        rc = print_nested(l, unp, 0, &pos, sb);
        free(unp);
        return rc;
    }
    case MIL_LIT_TUPLE:
    case MIL_LIT_LIST:
        rc |= an_sb_putc(sb, l->kind == MIL_LIT_TUPLE ? '(' : '[');
        for (int i = 0; i < l->n_items; i++) {
            if (i)
                rc |= an_sb_puts(sb, ", ");
            rc |= print_body(l->items[i], sb);
        }
        return rc | an_sb_putc(sb, l->kind == MIL_LIT_TUPLE ? ')' : ']');
    case MIL_LIT_DICT: {
        /* entries sorted by key text: map order differs between the containers */
        int n = l->n_items / 2;
        named *e = malloc(sizeof *e * (size_t)(n + 1));
        an_strbuf keys;
        an_sb_init(&keys);
        size_t *off = malloc(sizeof *off * (size_t)(n + 1));
        if (!e || !off) {
            free(e);
            free(off);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            off[i] = keys.len;
            rc |= print_body(l->items[2 * i], &keys);
            rc |= an_sb_putc(&keys, '\0');
        }
        for (int i = 0; i < n && !rc; i++)
            e[i] = (named){keys.buf + off[i], l->items[2 * i + 1]};
        if (!rc)
            qsort(e, (size_t)n, sizeof *e, cmp_named);
        rc |= an_sb_putc(sb, '{');
        for (int i = 0; i < n && !rc; i++) {
            rc |= an_sb_appendf(sb, "%s{%s, ", i ? ", " : "", e[i].name);
            rc |= print_body(e[i].item, sb);
            rc |= an_sb_putc(sb, '}');
        }
        free(e);
        free(off);
        an_sb_free(&keys);
        return rc | an_sb_putc(sb, '}');
    }
    }
    return -1;
}

int mil_print_literal(const mil_literal *l, an_strbuf *sb)
{
    int rc = mil_print_type(&l->type, sb);
    rc |= an_sb_putc(sb, '(');
    rc |= print_body(l, sb);
    return rc | an_sb_putc(sb, ')');
}

/* ---- sorted views ----------------------------------------------------------------- */


static const char *lit_str0(const mil_literal *l)
{
    if (l->kind == MIL_LIT_TENSOR && l->type.dtype == MIL_DT_STRING && l->type.rank == 0)
        return ((const char *const *)l->data)[0];
    return NULL;
}

/* `[a = T(v), ...]` sorted by name; an extra pre-printed entry (an op's `name`, a
 * function's regenerated FlexibleShapeInformation) joins in when given. buildInfo loses
 * its coremlc-* entries; FlexibleShapeInformation as read is left out (see
 * print_flexible). */
static int print_attrs(const mil_attr *attrs, int n, const char *extra_name, const char *extra_text,
                       an_strbuf *sb)
{
    if (n == 0 && !extra_name)
        return 0;
    named *v = malloc(sizeof *v * (size_t)(n + 1));
    if (!v)
        return -1;
    int k = 0, rc = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(attrs[i].name, "FlexibleShapeInformation") != 0)
            v[k++] = (named){attrs[i].name, attrs[i].value};
    if (extra_name)
        v[k++] = (named){extra_name, NULL};
    if (k == 0) {
        free(v);
        return 0;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_named);
    rc |= an_sb_putc(sb, '[');
    for (int i = 0; i < k; i++) {
        const mil_literal *l = v[i].item;
        rc |= an_sb_appendf(sb, "%s%s = ", i ? ", " : "", v[i].name);
        if (!l) {
            rc |= an_sb_puts(sb, extra_text);
        } else if (strcmp(v[i].name, "buildInfo") == 0 && l->kind == MIL_LIT_DICT) {
            mil_literal copy = *l;
            const mil_literal **items = malloc(sizeof *items * (size_t)(l->n_items + 1));
            if (!items) {
                rc = -1;
                break;
            }
            copy.n_items = 0;
            for (int j = 0; j + 1 < l->n_items; j += 2) {
                const char *key = lit_str0(l->items[j]);
                if (key && strncmp(key, "coremlc-", 8) == 0)
                    continue;
                items[copy.n_items++] = l->items[j];
                items[copy.n_items++] = l->items[j + 1];
            }
            copy.items = items;
            rc |= mil_print_literal(&copy, sb);
            free(items);
        } else {
            rc |= mil_print_literal(l, sb);
        }
    }
    free(v);
    return rc | an_sb_putc(sb, ']');
}

static int print_binding(const mil_function *fn, const mil_binding *b, an_strbuf *sb)
{
    if (b->value >= 0)
        return an_sb_puts(sb, fn->values[b->value].name);
    return mil_print_literal(b->literal, sb);
}

static int print_op(const mil_function *fn, const mil_op *op, an_strbuf *sb)
{
    int rc = an_sb_puts(sb, "            ");
    for (int i = 0; i < op->n_outputs; i++) {
        const mil_value *v = &fn->values[op->outputs[i]];
        if (i)
            rc |= an_sb_puts(sb, ", ");
        rc |= mil_print_type(&v->type, sb);
        rc |= an_sb_appendf(sb, " %s", v->name);
    }
    rc |= an_sb_appendf(sb, "%s%s(", op->n_outputs ? " = " : "", op->type);
    named *in = malloc(sizeof *in * (size_t)(op->n_inputs + 1));
    if (!in)
        return -1;
    for (int i = 0; i < op->n_inputs; i++)
        in[i] = (named){op->inputs[i].name, &op->inputs[i]};
    qsort(in, (size_t)op->n_inputs, sizeof *in, cmp_named);
    for (int i = 0; i < op->n_inputs; i++) {
        const mil_input *x = in[i].item;
        rc |= an_sb_appendf(sb, "%s%s = ", i ? ", " : "", x->name);
        /* a tuple argument is one with several bindings, or one where the op reads a tuple
         * (concat of one value): print parentheses whenever there is not exactly one. */
        if (x->n_bindings != 1)
            rc |= an_sb_putc(sb, '(');
        for (int j = 0; j < x->n_bindings; j++) {
            if (j)
                rc |= an_sb_puts(sb, ", ");
            rc |= print_binding(fn, &x->bindings[j], sb);
        }
        if (x->n_bindings != 1)
            rc |= an_sb_putc(sb, ')');
    }
    free(in);
    rc |= an_sb_putc(sb, ')');
    if (op->name) {
        an_strbuf nm;
        an_sb_init(&nm);
        rc |= an_sb_appendf(&nm, "string(\"%s\")", op->name);
        rc |= print_attrs(op->attrs, op->n_attrs, "name", nm.buf, sb);
        an_sb_free(&nm);
    } else {
        rc |= print_attrs(op->attrs, op->n_attrs, NULL, NULL, sb);
    }
    return rc | an_sb_puts(sb, ";\n");
}


static int cmp_shape(const mil_shape *a, const mil_shape *b)
{
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return a->dims[i] < b->dims[i] ? -1 : 1;
    return 0;
}

static int print_shape(const int64_t *dims, int rank, an_strbuf *sb)
{
    int rc = an_sb_putc(sb, '[');
    for (int i = 0; i < rank; i++)
        rc |= an_sb_appendf(sb, "%s%" PRId64, i ? ", " : "", dims[i]);
    return rc | an_sb_putc(sb, ']');
}

/* FlexibleShapeInformation regenerated from the params (mil_param), so that shapes read
 * from a package description and from a compiled function attribute print alike:
 * DefaultShapes, then EnumeratedShapes (sets sorted, keyed "0", "1", ...) and/or
 * RangeDims. Appends nothing when no parameter is flexible. */
static int print_flexible(const mil_function *fn, an_strbuf *sb)
{
    int n_sets = 0, any_range = 0, first = -1, rc = 0;
    for (int i = 0; i < fn->n_params; i++) {
        const mil_param *pr = &fn->params[i];
        if (pr->n_shapes > n_sets)
            n_sets = pr->n_shapes;
        if (pr->n_shapes && first < 0)
            first = i;
        any_range |= pr->has_range;
    }
    if (!n_sets && !any_range)
        return 0;
    rc |= an_sb_puts(sb, "tuple<tuple<string, dict<string, tensor<int32, [?]>>>");
    if (n_sets)
        rc |= an_sb_puts(sb, ", tuple<string, dict<string, dict<string, tensor<int32, [?]>>>>");
    if (any_range)
        rc |= an_sb_puts(sb, ", tuple<string, dict<string, list<tensor<int32, [2]>, ?>>>");
    rc |= an_sb_puts(sb, ">(((\"DefaultShapes\", {");
    int k = 0;
    for (int i = 0; i < fn->n_params; i++) {
        const mil_param *pr = &fn->params[i];
        if ((!pr->n_shapes && !pr->has_range) || pr->default_shape.rank == 0)
            continue;
        rc |= an_sb_appendf(sb, "%s{\"%s\", ", k++ ? ", " : "", fn->values[pr->value].name);
        rc |= print_shape(pr->default_shape.dims, pr->default_shape.rank, sb);
        rc |= an_sb_putc(sb, '}');
    }
    rc |= an_sb_puts(sb, "})");
    if (n_sets) {
        int order[256];
        int n = n_sets < 256 ? n_sets : 256;
        for (int s = 0; s < n; s++)
            order[s] = s;
        const mil_param *fp = &fn->params[first];
        for (int a = 1; a < n; a++) /* insertion sort by the first flexible param's shape */
            for (int b = a; b > 0 && b < fp->n_shapes &&
                            cmp_shape(&fp->shapes[order[b]], &fp->shapes[order[b - 1]]) < 0;
                 b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        rc |= an_sb_puts(sb, ", (\"EnumeratedShapes\", {");
        for (int s = 0; s < n; s++) {
            rc |= an_sb_appendf(sb, "%s{\"%d\", {", s ? ", " : "", s);
            int m = 0;
            for (int i = 0; i < fn->n_params; i++) {
                const mil_param *pr = &fn->params[i];
                if (order[s] >= pr->n_shapes)
                    continue;
                rc |= an_sb_appendf(sb, "%s{\"%s\", ", m++ ? ", " : "", fn->values[pr->value].name);
                rc |= print_shape(pr->shapes[order[s]].dims, pr->shapes[order[s]].rank, sb);
                rc |= an_sb_putc(sb, '}');
            }
            rc |= an_sb_puts(sb, "}}");
        }
        rc |= an_sb_puts(sb, "})");
    }
    if (any_range) {
        rc |= an_sb_puts(sb, ", (\"RangeDims\", {");
        int m = 0;
        for (int i = 0; i < fn->n_params; i++) {
            const mil_param *pr = &fn->params[i];
            if (!pr->has_range)
                continue;
            rc |= an_sb_appendf(sb, "%s{\"%s\", [", m++ ? ", " : "", fn->values[pr->value].name);
            int rank = fn->values[pr->value].type.rank;
            for (int d = 0; d < rank && d < MIL_MAX_RANK; d++)
                rc |= an_sb_appendf(sb, "%s[%" PRId64 ", %" PRId64 "]", d ? ", " : "", pr->range_lo[d],
                                    pr->range_hi[d]);
            rc |= an_sb_puts(sb, "]}");
        }
        rc |= an_sb_puts(sb, "})");
    }
    return rc | an_sb_puts(sb, "))");
}

static int print_function(const mil_function *fn, an_strbuf *sb)
{
    int rc = an_sb_appendf(sb, "    func %s<%s>(", fn->name, fn->opset);
    for (int i = 0; i < fn->n_params; i++) {
        const mil_value *v = &fn->values[fn->params[i].value];
        if (i)
            rc |= an_sb_puts(sb, ", ");
        rc |= mil_print_type(&v->type, sb);
        rc |= an_sb_appendf(sb, " %s", v->name);
    }
    rc |= an_sb_putc(sb, ')');
    an_strbuf flex;
    an_sb_init(&flex);
    rc |= print_flexible(fn, &flex);
    size_t before = sb->len;
    rc |= an_sb_putc(sb, ' ');
    size_t mark = sb->len;
    rc |= print_attrs(fn->attrs, fn->n_attrs, flex.len ? "FlexibleShapeInformation" : NULL, flex.buf, sb);
    if (sb->len == mark) { /* no bracket: drop the space */
        sb->len = before;
        sb->buf[before] = '\0';
    }
    an_sb_free(&flex);
    rc |= an_sb_puts(sb, " {\n");
    for (int i = 0; i < fn->n_ops; i++)
        rc |= print_op(fn, &fn->ops[i], sb);
    rc |= an_sb_puts(sb, "        } -> (");
    for (int i = 0; i < fn->n_outputs; i++)
        rc |= an_sb_appendf(sb, "%s%s", i ? ", " : "", fn->values[fn->outputs[i]].name);
    return rc | an_sb_puts(sb, ");\n");
}

int mil_print_program(const mil_program *p, an_strbuf *sb)
{
    int rc = an_sb_puts(sb, "program(1.3)\n");
    if (p->n_attrs) {
        rc |= print_attrs(p->attrs, p->n_attrs, NULL, NULL, sb);
        rc |= an_sb_putc(sb, '\n');
    }
    rc |= an_sb_puts(sb, "{\n");
    named *f = malloc(sizeof *f * (size_t)(p->n_functions + 1));
    if (!f)
        return -1;
    for (int i = 0; i < p->n_functions; i++)
        f[i] = (named){p->functions[i].name, &p->functions[i]};
    qsort(f, (size_t)p->n_functions, sizeof *f, cmp_named);
    for (int i = 0; i < p->n_functions; i++)
        rc |= print_function(f[i].item, sb);
    free(f);
    return rc | an_sb_puts(sb, "}\n");
}
