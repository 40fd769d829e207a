/*
 * meta.c — the component names a meta.yaml asks for, so a download fetches exactly the
 * model's files. Only model_info.parameters is read (ANEMLL.md §1.2–1.3); the pipeline
 * module owns the full meaning of meta.yaml.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "hub_internal.h"

#define META_MAX_BYTES (1 << 20)

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* A scalar's text, copied (NULL when absent, not a scalar or too long). */
static char *scalar(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    yaml_node_t *v = map_get(doc, map, key);
    if (!v || v->type != YAML_SCALAR_NODE || v->data.scalar.length > 512)
        return NULL;
    return strndup((const char *)v->data.scalar.value, v->data.scalar.length);
}

static int push(char ***v, size_t *n, const char *s)
{
    if (!s || !*s || !hub_relpath_safe(s))
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return 0;
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

/* "x.mlmodelc" / "x.mlpackage" / "x.mlmodelc.zip" → "x" (in place). */
static void strip_ext(char *s)
{
    static const char *const ext[] = {".mlmodelc.zip", ".mlmodelc", ".mlpackage", NULL};
    size_t n = strlen(s);
    for (const char *const *e = ext; *e; e++) {
        size_t el = strlen(*e);
        if (n > el && strcmp(s + n - el, *e) == 0) {
            s[n - el] = '\0';
            return;
        }
    }
}

static void lut_suffix(char *out, size_t outsz, const char *v)
{
    out[0] = '\0';
    if (v && *v && strcasecmp(v, "none") != 0 && strcasecmp(v, "null") != 0 &&
        strcasecmp(v, "false") != 0 && strlen(v) < 16)
        hub_pathf(out, outsz, "_lut%s", v);
}

int hub_meta_components(const char *yaml, size_t len, char ***names, size_t *n, size_t *n_explicit,
                        an_error *err)
{
    *n_explicit = 0;
    *names = NULL;
    *n = 0;
    if (len > META_MAX_BYTES)
        return an_errorf(err, "meta.yaml: larger than %d bytes", META_MAX_BYTES);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return an_errorf(err, "meta.yaml: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        an_errorf(err, "meta.yaml:%zu:%zu: %s", parser.problem_mark.line + 1,
                  parser.problem_mark.column + 1, parser.problem ? parser.problem : "not valid YAML");
        yaml_parser_delete(&parser);
        return -1;
    }
    int rc = -1;
    char *vals[11] = {0};
    static const char *const keys[] = {"embeddings",     "lm_head",   "ffn",      "monolithic_model",
                                       "model_prefix",   "lut_embeddings", "lut_lmhead", "lut_ffn",
                                       "lut_bits",       "num_chunks", NULL};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *params = map_get(&doc, map_get(&doc, root, "model_info"), "parameters");
    if (!params || params->type != YAML_MAPPING_NODE) {
        an_errorf(err, "meta.yaml: no model_info.parameters mapping");
        goto out;
    }
    for (int i = 0; keys[i]; i++)
        vals[i] = scalar(&doc, params, keys[i]);
    /* Explicit names first (0.3.0+), extension stripped. An ffn named with its chunk
     * ("x_chunk_01of02") also brings the chunkless base, which matches every chunk. */
    for (int i = 0; i < 4; i++) {
        if (!vals[i])
            continue;
        strip_ext(vals[i]);
        if (push(names, n, vals[i]) != 0)
            goto oom;
        char *ch = strstr(vals[i], "_chunk_");
        if (ch) {
            *ch = '\0';
            if (push(names, n, vals[i]) != 0)
                goto oom;
        }
    }
    *n_explicit = *n;
    /* Then the names ANEMLL's chat.py rebuilds, so older meta.yaml files work too. */
    const char *prefix = vals[4] ? vals[4] : "llama";
    if (strlen(prefix) < 200) {
        char le[24], ll[24], lf[24], buf[512];
        lut_suffix(le, sizeof le, vals[5]);
        lut_suffix(ll, sizeof ll, vals[6]);
        lut_suffix(lf, sizeof lf, vals[7]);
        hub_pathf(buf, sizeof buf, "%s_embeddings%s", prefix, le);
        if (push(names, n, buf) != 0)
            goto oom;
        hub_pathf(buf, sizeof buf, "%s_embeddings", prefix);
        if (push(names, n, buf) != 0)
            goto oom;
        hub_pathf(buf, sizeof buf, "%s_lm_head%s", prefix, ll);
        if (push(names, n, buf) != 0)
            goto oom;
        hub_pathf(buf, sizeof buf, "%s_FFN_PF%s", prefix, lf);
        if (push(names, n, buf) != 0)
            goto oom;
    }
    rc = 0;
    goto out;
oom:
    an_errorf(err, "meta.yaml: out of memory");
out:
    for (int i = 0; i < 11; i++)
        free(vals[i]);
    if (rc != 0) {
        hub_strv_free(*names, *n);
        *names = NULL;
        *n = *n_explicit = 0;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}
