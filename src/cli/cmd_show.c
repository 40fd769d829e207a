/*
 * cmd_show.c — `anemone show`: what a model is.
 *
 * For a whole model (a directory with meta.yaml, a meta.yaml, or a Hugging Face repo):
 * the summary (architecture, context, batch, chunks, vocabulary and LM-head splits,
 * quantization, parameter count, tokenizer, template family, size on disk), then each
 * component. For one Core ML component (.mlmodelc or .mlpackage, or a pipeline bundle of
 * them): functions, inputs/outputs/states, metadata, op histogram per function and
 * weight bytes by dtype and compression, all from the description and the program (no
 * weight file is read). `--program` prints the canonical model.mil text instead
 * (print.h).
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "mil/ir.h"
#include "hub/hub.h"
#include "mil/print.h"
#include "pipeline/meta.h"
#include "tokenizer/template.h"
#include "tokenizer/tokenizer.h"

void help_show(FILE *out)
{
    fputs("usage: anemone show [--program] MODEL|PATH\n"
          "\n"
          "Describe a model: MODEL is a directory with meta.yaml, a meta.yaml, or a\n"
          "Hugging Face repo (org/name[@rev], from the cache or downloaded). Prints the\n"
          "architecture, context, batch, chunks, vocabulary and LM-head splits, LUT bits,\n"
          "parameter count, tokenizer, chat-template family and size on disk, then each\n"
          "component as below.\n"
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
        const mil_type *ty = &fs[i].type;
        if (pr)
            ty = &fn->values[pr->value].type;
        for (int k = 0; !pr && fn && k < fn->n_outputs; k++) /* packages often leave it out */
            if (strcmp(fn->values[fn->outputs[k]].name, fs[i].name) == 0)
                ty = &fn->values[fn->outputs[k]].type;
        put_type(ty, &sb);
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

/* Weights held in weight files: elements of blob-backed consts and constexpr results,
 * each blob counted once however many functions use it. */
static uint64_t param_count(const mil_program *p)
{
    uint64_t total = 0;
    uint64_t seen[4096];
    int n_seen = 0;
    for (int f = 0; f < p->n_functions; f++) {
        const mil_function *fn = &p->functions[f];
        for (int i = 0; i < fn->n_ops; i++) {
            const mil_op *op = &fn->ops[i];
            int is_const = !strcmp(op->type, "const"), is_cx = !strncmp(op->type, "constexpr_", 10);
            if ((!is_const && !is_cx) || op->n_outputs != 1)
                continue;
            uint64_t key = 0;
            if (is_const) {
                const mil_literal *v = mil_op_attr(op, "val");
                if (!v || v->kind != MIL_LIT_BLOB)
                    continue;
                key = v->blob_offset + 1;
            } else {
                for (int k = 0; k < op->n_inputs && !key; k++)
                    if (op->inputs[k].n_bindings == 1 && op->inputs[k].bindings[0].literal &&
                        op->inputs[k].bindings[0].literal->kind == MIL_LIT_BLOB)
                        key = op->inputs[k].bindings[0].literal->blob_offset + 1;
                if (!key)
                    key = ((uint64_t)f << 40) | (uint64_t)i; /* attribute-form constexpr */
            }
            int dup = 0;
            for (int k = 0; k < n_seen && !dup; k++)
                dup = seen[k] == key;
            if (dup)
                continue;
            if (n_seen < 4096)
                seen[n_seen++] = key;
            int64_t n = mil_type_numel(&fn->values[op->outputs[0]].type);
            if (n > 0)
                total += (uint64_t)n;
        }
    }
    return total;
}

static long long disk_size(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "du -sbL '%s' 2>/dev/null", path);
    FILE *fp = popen(cmd, "r");
    long long n = -1;
    if (fp) {
        if (fscanf(fp, "%lld", &n) != 1)
            n = -1;
        pclose(fp);
    }
    return n;
}

static const char *lut_name(int bits, char *buf, size_t n)
{
    if (bits == PIPE_LUT_NONE)
        return "fp16";
    snprintf(buf, n, "LUT%d", bits);
    return buf;
}

static int show_model(const char *ref, int program)
{
    hub_options ho = HUB_OPTIONS_INIT;
    ho.prefer_cache = 1;
    an_error err;
    char *dir = NULL;
    if (hub_resolve_model(ref, &ho, &dir, &err) < 0) {
        cli_error_multiline(err.msg);
        return CLI_ERROR;
    }
    pipe_meta *m = pipe_meta_load(dir, &err);
    if (!m || pipe_meta_find_components(m, &err) < 0) {
        cli_error_multiline(err.msg);
        pipe_meta_free(m);
        free(dir);
        return CLI_ERROR;
    }
    const pipe_component_file *comps[PIPE_MAX_CHUNKS + 3];
    const char *roles[PIPE_MAX_CHUNKS + 3];
    char role_buf[PIPE_MAX_CHUNKS][48];
    int n = 0;
    if (m->monolithic) {
        comps[n] = &m->monolithic_file, roles[n++] = "monolithic";
    } else {
        comps[n] = &m->embeddings_file, roles[n++] = "embeddings";
        for (int i = 0; i < m->n_chunks; i++) {
            snprintf(role_buf[i], sizeof role_buf[i], "FFN chunk %d of %d", i + 1, m->n_chunks);
            comps[n] = &m->chunk_files[i], roles[n++] = role_buf[i];
        }
        comps[n] = &m->lm_head_file, roles[n++] = "LM head";
    }
    int rc = CLI_OK;
    if (program) { /* the programs, one after another */
        for (int i = 0; i < n && rc == CLI_OK; i++) {
            printf("%s// %s: %s\n", i ? "\n" : "", roles[i], comps[i]->path);
            rc = show_one(comps[i]->path, 1);
        }
        pipe_meta_free(m);
        free(dir);
        return rc;
    }
    char b1[16], b2[16], b3[16];
    printf("model: %s\n", m->name ? m->name : ref);
    printf("directory: %s\n", dir);
    printf("architecture: %s%s%s\n", m->architecture ? m->architecture : "unknown",
           m->version ? ", ANEMLL " : "", m->version ? m->version : "");
    printf("context: %d tokens (state %d), prefill batch %d\n", m->context_length, m->state_length, m->batch_size);
    if (m->monolithic)
        printf("layout: monolithic");
    else
        printf("layout: embeddings, %d FFN chunk%s, LM head", m->n_chunks, m->n_chunks == 1 ? "" : "s");
    printf(" (%d logits split%s%s)\n", m->split_lm_head, m->split_lm_head == 1 ? "" : "s",
           m->argmax_in_model ? ", argmax in model" : "");
    printf("quantization: embeddings %s, FFN %s, LM head %s\n", lut_name(m->lut_embeddings, b1, sizeof b1),
           lut_name(m->lut_ffn, b2, sizeof b2), lut_name(m->lut_lmhead, b3, sizeof b3));
    uint64_t params = 0;
    for (int i = 0; i < n; i++) {
        if (comps[i]->form == PIPE_FORM_ZIP)
            continue;
        mil_program *p = mil_program_load(comps[i]->path, &err);
        if (!p) {
            cli_error_multiline(err.msg);
            rc = CLI_ERROR;
            continue;
        }
        params += param_count(p);
        mil_program_free(p);
    }
    printf("parameters: %.2f M (weights in the weight files)\n", params / 1e6);
    tok_tokenizer *tok = tok_load(dir, &err);
    if (tok) {
        char *tj = an_path_join(dir, "tokenizer.json");
        printf("tokenizer: %s, %zu tokens, bos %s, eos %s\n",
               an_is_file(tj) ? "tokenizer.json" : "tokenizer.model (sentencepiece)", tok_vocab_size(tok),
               tok_bos_token(tok) ? tok_bos_token(tok) : "none", tok_eos_token(tok) ? tok_eos_token(tok) : "none");
        free(tj);
        tok_free(tok);
    } else {
        printf("tokenizer: not usable (%s)\n", err.msg);
    }
    tpl_chat chat;
    if (tpl_chat_load(dir, NULL, &chat, &err) == 0) {
        printf("chat template: %s (family %s)\n", chat.origin, tpl_detect_family(chat.source));
        tpl_chat_free(&chat);
    } else {
        printf("chat template: not usable (%s)\n", err.msg);
    }
    long long size = disk_size(dir);
    if (size >= 0)
        printf("size on disk: %.2f MiB\n", size / 1048576.0);
    printf("components:\n");
    for (int i = 0; i < n; i++)
        printf("  %-18s %s\n", roles[i], comps[i]->path);
    for (int i = 0; i < n; i++) {
        printf("\n== %s ==\n", roles[i]);
        if (comps[i]->form == PIPE_FORM_ZIP) {
            printf("%s is zipped: `anemone pull` extracts downloaded models\n", comps[i]->path);
            continue;
        }
        if (show_one(comps[i]->path, 0) != CLI_OK)
            rc = CLI_ERROR;
    }
    pipe_meta_free(m);
    free(dir);
    return rc;
}

static int is_component_path(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    return (n > 9 && !strncmp(path + n - 9, ".mlmodelc", 9)) || (n > 10 && !strncmp(path + n - 10, ".mlpackage", 10));
}

static int show_path(const char *path, int program)
{
    /* a model: a directory with meta.yaml, a meta.yaml, or a repo reference */
    char *meta = an_path_join(path, "meta.yaml");
    int model = !is_component_path(path) &&
                ((an_is_dir(path) && an_is_file(meta)) || (an_is_file(path) && strstr(path, ".yaml")) ||
                 (!an_is_dir(path) && !an_is_file(path) && (strchr(path, '/') || !strncmp(path, "hf://", 5))));
    free(meta);
    if (model)
        return show_model(path, program);

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
