/*
 * cmd_show.c — `anemone show`: what a model is.
 *
 * Today PATH is one Core ML component (.mlmodelc or .mlpackage, or a pipeline bundle of
 * them): functions, inputs/outputs/states, metadata, op histogram per function and
 * weight bytes by dtype and compression, all from the description and the program (no
 * weight file is read). `--program` prints the canonical model.mil text instead
 * (print.h). A whole-model directory (meta.yaml) is the natural next case of show_path.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "mil/ir.h"
#include "mil/print.h"

void help_show(FILE *out)
{
    fputs("usage: anemone show [--program] PATH\n"
          "\n"
          "Describe one Core ML component: PATH is a .mlmodelc or .mlpackage directory\n"
          "(a compiled pipeline bundle lists each of its models). Prints the functions\n"
          "(default marked), their inputs, outputs and states with dtype and shape,\n"
          "enumerated shapes, user metadata (com.anemll.*), the op histogram of each\n"
          "function, and weight bytes by dtype and compression (LUT bits, group size).\n"
          "The weight file is not needed.\n"
          "\n"
          "  --program   print the program in model.mil syntax instead: a canonical dump\n"
          "              (sorted names, hex floats) so that the .mlpackage and the\n"
          "              .mlmodelc of one model print the same text\n",
          out);
}

static void put_type(const mil_type *t, an_strbuf *sb)
{
    if (t->kind == MIL_TYPE_STATE)
        t = t->elem;
    if (t->kind != MIL_TYPE_TENSOR) {
        mil_print_type(t, sb);
        return;
    }
    an_sb_appendf(sb, "%-6s [", mil_dtype_name(t->dtype));
    for (int i = 0; i < t->rank; i++) {
        if (i)
            an_sb_puts(sb, ", ");
        if (t->dims[i] < 0)
            an_sb_putc(sb, '?');
        else
            an_sb_appendf(sb, "%" PRId64, t->dims[i]);
    }
    an_sb_putc(sb, ']');
}

static void put_shape(const mil_shape *s, an_strbuf *sb)
{
    an_sb_putc(sb, '[');
    for (int i = 0; i < s->rank; i++)
        an_sb_appendf(sb, i ? ", %" PRId64 : "%" PRId64, s->dims[i]);
    an_sb_putc(sb, ']');
}

static const mil_param *find_param(const mil_function *fn, const char *name)
{
    for (int i = 0; fn && i < fn->n_params; i++)
        if (strcmp(fn->values[fn->params[i].value].name, name) == 0)
            return &fn->params[i];
    return NULL;
}

static void show_features(const char *title, const mil_feature *fs, int n, const mil_function *fn)
{
    if (!n)
        return;
    printf("    %s:\n", title);
    an_strbuf sb;
    an_sb_init(&sb);
    for (int i = 0; i < n; i++) {
        an_sb_clear(&sb);
        /* the signature's type shows `?` where the description gives the default shape */
        const mil_param *pr = find_param(fn, fs[i].name);
        put_type(pr ? &fn->values[pr->value].type : &fs[i].type, &sb);
        printf("      %-28s %s", fs[i].name, sb.buf);
        if (pr && pr->n_shapes) {
            an_sb_clear(&sb);
            for (int k = 0; k < pr->n_shapes; k++) {
                if (k)
                    an_sb_puts(&sb, " | ");
                put_shape(&pr->shapes[k], &sb);
            }
            printf("  shapes %s", sb.buf);
        }
        if (pr && (pr->n_shapes || pr->has_range) && pr->default_shape.rank > 0) {
            an_sb_clear(&sb);
            put_shape(&pr->default_shape, &sb);
            printf("  default %s", sb.buf);
        }
        if (pr && pr->has_range) {
            const mil_value *v = &fn->values[pr->value];
            printf("  range");
            for (int k = 0; k < v->type.rank; k++)
                printf(pr->range_hi[k] < 0 ? " %" PRId64 "..inf" : " %" PRId64 "..%" PRId64, pr->range_lo[k],
                       pr->range_hi[k]);
        }
        if (fs[i].is_optional)
            printf("  (optional)");
        printf("\n");
    }
    an_sb_free(&sb);
}

typedef struct count {
    const char *key;
    int64_t n;
    uint64_t bytes;
} count;

static void bump(count *c, int *n, int cap, const char *key, uint64_t bytes)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(c[i].key, key) == 0) {
            c[i].n++;
            c[i].bytes += bytes;
            return;
        }
    if (*n < cap)
        c[(*n)++] = (count){key, 1, bytes};
}

static int cmp_count(const void *a, const void *b)
{
    const count *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->key, y->key);
}

static int cmp_count_key(const void *a, const void *b) { return strcmp(((const count *)a)->key, ((const count *)b)->key); }

static uint64_t blob_bytes(const mil_literal *l)
{
    int64_t n = mil_type_numel(&l->type);
    int bits = mil_dtype_bits(l->type.dtype);
    return n < 0 || bits <= 0 ? 0 : ((uint64_t)n * (uint64_t)bits + 7) / 8;
}

typedef struct seen_blob {
    const char *path;
    uint64_t offset;
} seen_blob;

/* Weight bytes by dtype (each distinct blob once) and by compression kind. */
static void show_weights(const mil_program *p)
{
    enum { CAP = 64 };
    count by_dt[CAP], by_comp[CAP];
    int n_dt = 0, n_comp = 0, n_seen = 0, cap_seen = 0;
    seen_blob *seen = NULL;
    static char keys[CAP][96];
    int n_keys = 0;
    for (int f = 0; f < p->n_functions; f++) {
        const mil_function *fn = &p->functions[f];
        for (int o = 0; o < fn->n_ops; o++) {
            const mil_op *op = &fn->ops[o];
            const mil_literal *lits[16];
            int nl = 0;
            for (int i = 0; i < op->n_inputs; i++)
                for (int j = 0; j < op->inputs[i].n_bindings; j++)
                    if (op->inputs[i].bindings[j].literal && nl < 16)
                        lits[nl++] = op->inputs[i].bindings[j].literal;
            for (int i = 0; i < op->n_attrs && nl < 16; i++)
                lits[nl++] = op->attrs[i].value;
            uint64_t op_bytes = 0;
            for (int i = 0; i < nl; i++) {
                if (lits[i]->kind != MIL_LIT_BLOB)
                    continue;
                int dup = 0;
                for (int k = 0; k < n_seen && !dup; k++)
                    dup = seen[k].offset == lits[i]->blob_offset && strcmp(seen[k].path, lits[i]->blob_path) == 0;
                if (dup)
                    continue;
                if (n_seen == cap_seen) {
                    cap_seen = cap_seen ? cap_seen * 2 : 64;
                    seen_blob *ns = realloc(seen, sizeof *seen * (size_t)cap_seen);
                    if (!ns)
                        break;
                    seen = ns;
                }
                seen[n_seen++] = (seen_blob){lits[i]->blob_path, lits[i]->blob_offset};
                uint64_t b = blob_bytes(lits[i]);
                op_bytes += b;
                bump(by_dt, &n_dt, CAP, mil_dtype_name(lits[i]->type.dtype), b);
            }
            if (!op_bytes)
                continue;
            const char *kind = "dense (const)";
            if (strcmp(op->type, "constexpr_lut_to_dense") == 0 && n_keys < CAP) {
                const mil_input *ii = mil_op_input(op, "indices");
                const mil_input *li = mil_op_input(op, "lut");
                const mil_literal *idx = ii && ii->bindings[0].literal ? ii->bindings[0].literal : mil_op_attr(op, "indices");
                const mil_literal *lut = li && li->bindings[0].literal ? li->bindings[0].literal : mil_op_attr(op, "lut");
                int bits = 0;
                int64_t group = 0;
                if (idx && lut && idx->type.dtype != MIL_DT_UINT8 && idx->type.rank >= 1 &&
                    lut->type.rank == idx->type.rank + 2) { /* iOS18 form */
                    bits = mil_dtype_bits(idx->type.dtype);
                    if (lut->type.dims[0] > 0)
                        group = idx->type.dims[0] / lut->type.dims[0];
                } else if (lut) { /* iOS16 form: one LUT of 2^bits entries */
                    int64_t e = mil_type_numel(&lut->type);
                    while (e > 1) {
                        e >>= 1;
                        bits++;
                    }
                    if (idx && idx->type.dtype == MIL_DT_UINT8 && lut->type.rank == idx->type.rank + 2)
                        bits = 8;
                }
                char key[96];
                if (group > 0)
                    snprintf(key, sizeof key, "LUT %d-bit, group size %" PRId64, bits, group);
                else
                    snprintf(key, sizeof key, "LUT %d-bit", bits);
                int k = 0;
                while (k < n_keys && strcmp(keys[k], key) != 0)
                    k++;
                if (k == n_keys)
                    memcpy(keys[n_keys++], key, sizeof key);
                kind = keys[k];
            } else if (strncmp(op->type, "constexpr_", 10) == 0) {
                kind = op->type + 10;
            }
            bump(by_comp, &n_comp, CAP, kind, op_bytes);
        }
    }
    free(seen);
    if (!n_dt) {
        printf("weights: none\n");
        return;
    }
    qsort(by_dt, (size_t)n_dt, sizeof *by_dt, cmp_count_key);
    qsort(by_comp, (size_t)n_comp, sizeof *by_comp, cmp_count_key);
    uint64_t total = 0;
    for (int i = 0; i < n_dt; i++)
        total += by_dt[i].bytes;
    printf("weights: %" PRIu64 " bytes in %d blobs\n", total, n_seen);
    for (int i = 0; i < n_dt; i++)
        printf("    %-10s %12" PRIu64 " bytes  %5" PRId64 " blobs\n", by_dt[i].key, by_dt[i].bytes, by_dt[i].n);
    printf("  by compression:\n");
    for (int i = 0; i < n_comp; i++)
        printf("    %-32s %12" PRIu64 " bytes  %5" PRId64 " tensors\n", by_comp[i].key, by_comp[i].bytes, by_comp[i].n);
}

static void show_component(const mil_program *p)
{
    printf("component: %s\n", p->path);
    printf("format: %s, program %d.%d, specification version %d\n",
           p->container == MIL_CONTAINER_MLPACKAGE ? "mlpackage (protobuf)" : "mlmodelc (model.mil)",
           p->version_major, p->version_minor, p->spec_version);
    if (p->author && *p->author)
        printf("author: %s\n", p->author);
    if (p->license && *p->license)
        printf("license: %s\n", p->license);
    if (p->version_string && *p->version_string)
        printf("version: %s\n", p->version_string);
    if (p->short_description && *p->short_description)
        printf("description: %s\n", p->short_description);
    printf("default function: %s\n", p->default_function);
    for (int f = 0; f < p->n_functions; f++) {
        const mil_function *fn = &p->functions[f];
        const mil_function_desc *d = mil_program_desc(p, fn->name);
        printf("function %s <%s>%s\n", fn->name, fn->opset,
               strcmp(fn->name, p->default_function) == 0 ? " (default)" : "");
        if (d) {
            show_features("inputs", d->inputs, d->n_inputs, fn);
            show_features("outputs", d->outputs, d->n_outputs, fn);
            show_features("states", d->states, d->n_states, fn);
        }
        count ops[256];
        int n = 0;
        for (int o = 0; o < fn->n_ops; o++)
            bump(ops, &n, 256, fn->ops[o].type, 0);
        qsort(ops, (size_t)n, sizeof *ops, cmp_count);
        printf("    ops: %d\n", fn->n_ops);
        for (int i = 0; i < n; i++)
            printf("      %-28s %6" PRId64 "\n", ops[i].key, ops[i].n);
    }
    if (p->n_metadata) {
        printf("metadata:\n");
        for (int i = 0; i < p->n_metadata; i++)
            printf("    %s: %s\n", p->metadata[i].key, p->metadata[i].value);
    }
    show_weights(p);
}

static int show_one(const char *path, int program)
{
    an_error err = {{0}};
    mil_program *p = mil_program_load(path, &err);
    if (!p) {
        cli_error(NULL, "%s", err.msg);
        return CLI_ERROR;
    }
    if (program) {
        an_strbuf sb;
        an_sb_init(&sb);
        if (mil_print_program(p, &sb)) {
            an_sb_free(&sb);
            mil_program_free(p);
            cli_error(NULL, "out of memory");
            return CLI_ERROR;
        }
        fwrite(sb.buf, 1, sb.len, stdout);
        an_sb_free(&sb);
    } else {
        show_component(p);
    }
    mil_program_free(p);
    return CLI_OK;
}

/* A compiled pipeline (model0/, model1/, ... next to a metadata.json): each model in turn. */
static int show_pipeline(const char *path, int program)
{
    int rc = CLI_OK, n = 0;
    for (;; n++) {
        char sub[32];
        snprintf(sub, sizeof sub, "model%d", n);
        char *d = an_path_join(path, sub);
        if (!d || !an_is_dir(d)) {
            free(d);
            break;
        }
        if (n)
            printf("\n");
        if (!program)
            printf("pipeline model %d of %s\n", n, path);
        if (show_one(d, program) != CLI_OK)
            rc = CLI_ERROR;
        free(d);
    }
    return rc;
}

static int show_path(const char *path, int program)
{
    char *m0 = an_path_join(path, "model0"), *mil = an_path_join(path, "model.mil");
    int pipeline = m0 && mil && an_is_dir(m0) && !an_is_file(mil);
    free(m0);
    free(mil);
    return pipeline ? show_pipeline(path, program) : show_one(path, program);
}

int cmd_show(int argc, char **argv)
{
    int program = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--program") == 0)
            program = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help_show(stdout);
            return CLI_OK;
        } else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("show", "unknown option '%s'", argv[i]);
        else if (path)
            return cli_usage_error("show", "only one PATH, please");
        else
            path = argv[i];
    }
    if (!path)
        return cli_usage_error("show", "missing PATH");
    return show_path(path, program);
}
