/* tool_mil_blobs.c — every blob literal of a component, resolved through weights.h:
 *   tool_mil_blobs PATH
 * one line per distinct (path, offset): "<offset> <dtype> <numel> <fnv1a64>", sorted by
 * offset; the digest covers the elements (sub-byte types unpacked to one byte each).
 * Used by tests to compare against coremltools' own blob reader. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mil/ir.h"
#include "mil/packed.h"
#include "mil/weights.h"

typedef struct row {
    uint64_t offset;
    const mil_literal *lit;
} row;

static int cmp_row(const void *a, const void *b)
{
    uint64_t x = ((const row *)a)->offset, y = ((const row *)b)->offset;
    return x < y ? -1 : x > y;
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tool_mil_blobs PATH\n");
        return 2;
    }
    an_error err = {{0}};
    mil_program *p = mil_program_load(argv[1], &err);
    if (!p) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int n = 0, cap = 64;
    row *rows = malloc(sizeof *rows * (size_t)cap);
    for (int f = 0; f < p->n_functions; f++)
        for (int o = 0; o < p->functions[f].n_ops; o++) {
            const mil_op *op = &p->functions[f].ops[o];
            for (int i = 0; i < op->n_attrs + op->n_inputs; i++) {
                const mil_literal *l = i < op->n_attrs ? op->attrs[i].value
                                                        : op->inputs[i - op->n_attrs].bindings[0].literal;
                if (!l || l->kind != MIL_LIT_BLOB)
                    continue;
                int dup = 0;
                for (int k = 0; k < n && !dup; k++)
                    dup = rows[k].offset == l->blob_offset;
                if (dup)
                    continue;
                if (n == cap)
                    rows = realloc(rows, sizeof *rows * (size_t)(cap *= 2));
                rows[n++] = (row){l->blob_offset, l};
            }
        }
    qsort(rows, (size_t)n, sizeof *rows, cmp_row);
    mil_weights *w = mil_weights_open(p);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        mil_blob b;
        if (mil_blob_get(w, rows[i].lit, &b, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
            break;
        }
        uint64_t h;
        if (mil_dtype_bits(b.dtype) < 8) {
            uint8_t *u = malloc((size_t)b.numel + 1);
            mil_unpack_dtype(b.dtype, b.data, b.numel, u);
            h = fnv(u, (size_t)b.numel);
            free(u);
        } else {
            h = fnv(b.data, b.nbytes);
        }
        printf("%" PRIu64 " %s %" PRId64 " %016" PRIx64 "\n", rows[i].offset, mil_dtype_name(b.dtype), b.numel, h);
    }
    mil_weights_close(w);
    free(rows);
    mil_program_free(p);
    return rc;
}
