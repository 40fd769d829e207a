/* meta.c — meta.yaml keys and component discovery; see meta.h. */
#include "meta.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/strbuf.h"
#include "yamldoc.h"

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* A scalar as a string (NULL when absent or null). */
static const char *get_str(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return NULL;
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int is_scalar_or_absent(json_object *o, const char *key)
{
    json_object *v;
    return !o || !json_object_object_get_ex(o, key, &v) || !v || json_object_is_type(v, json_type_string);
}

/* Parse a non-negative integer written as a YAML scalar; "none" gives none_value. */
static int get_int(json_object *o, const char *key, int absent, int none_value, const char *file,
                   int *out, an_error *err)
{
    if (!is_scalar_or_absent(o, key))
        return an_errorf(err, "%s: parameters.%s should be a number", file, key);
    const char *s = get_str(o, key);
    if (!s) {
        *out = absent;
        return 0;
    }
    if (!strcasecmp(s, "none") || !strcasecmp(s, "null")) {
        *out = none_value;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (end == s || *end || errno || v < 0 || v > INT_MAX)
        return an_errorf(err, "%s: parameters.%s is '%s', expected a non-negative integer%s", file, key, s,
                         none_value == PIPE_LUT_NONE ? " or 'none'" : "");
    *out = (int)v;
    return 0;
}

static int get_bool(json_object *o, const char *key, int absent, const char *file, int *out, an_error *err)
{
    if (!is_scalar_or_absent(o, key))
        return an_errorf(err, "%s: parameters.%s should be true or false", file, key);
    const char *s = get_str(o, key);
    if (!s) {
        *out = absent;
        return 0;
    }
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0"))
        *out = 0;
    else
        return an_errorf(err, "%s: parameters.%s is '%s', expected true or false", file, key, s);
    return 0;
}

static int get_double(json_object *o, const char *key, double *out, const char *file, an_error *err)
{
    const char *s = get_str(o, key);
    if (!s)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno)
        return an_errorf(err, "%s: recommended_sampling.%s is '%s', expected a number", file, key, s);
    *out = v;
    return 0;
}

/* ANEMLL records the converter version in comment lines ("# anemll_version: 0.3.5"). */
static char *find_comment_version(const char *text, size_t len)
{
    const char *key = "anemll_version:";
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '#' || (i > 0 && text[i - 1] != '\n' && text[i - 1] != ' '))
            continue;
        const char *line = text + i + 1, *eol = memchr(line, '\n', len - (size_t)(line - text));
        if (!eol)
            eol = text + len;
        const char *k = line;
        while (k < eol && *k == ' ')
            k++;
        if ((size_t)(eol - k) > strlen(key) && !strncmp(k, key, strlen(key))) {
            const char *v = k + strlen(key);
            while (v < eol && isspace((unsigned char)*v))
                v++;
            const char *e = eol;
            while (e > v && isspace((unsigned char)e[-1]))
                e--;
            return strndup(v, (size_t)(e - v));
        }
    }
    return NULL;
}

pipe_meta *pipe_meta_parse(const char *text, size_t len, const char *name, const char *dir, an_error *err)
{
    json_object *root = pipe_yaml_parse(text, len, name, err);
    if (!root)
        return NULL;
    pipe_meta *m = calloc(1, sizeof *m);
    if (!m) {
        json_object_put(root);
        an_errorf(err, "%s: out of memory", name);
        return NULL;
    }
    m->path = xstrdup(name);
    m->dir = xstrdup(dir ? dir : ".");
    json_object *info = NULL, *params = NULL;
    if (!json_object_object_get_ex(root, "model_info", &info) || !json_object_is_type(info, json_type_object)) {
        an_errorf(err, "%s: no 'model_info' mapping: this is not an ANEMLL meta.yaml", name);
        goto fail;
    }
    if (!json_object_object_get_ex(info, "parameters", &params) || !json_object_is_type(params, json_type_object)) {
        an_errorf(err, "%s: no 'model_info.parameters' mapping", name);
        goto fail;
    }
    m->name = xstrdup(get_str(info, "name"));
    m->version = xstrdup(get_str(info, "version"));
    m->architecture = xstrdup(get_str(info, "architecture"));
    m->model_type = xstrdup(get_str(info, "model_type"));
    m->anemll_version = find_comment_version(text, len);

    const char *f = name;
    if (get_int(params, "context_length", 0, 0, f, &m->context_length, err) < 0 ||
        get_int(params, "state_length", 0, 0, f, &m->state_length, err) < 0 ||
        get_int(params, "batch_size", 0, 0, f, &m->batch_size, err) < 0 ||
        get_int(params, "lut_embeddings", PIPE_LUT_NONE, PIPE_LUT_NONE, f, &m->lut_embeddings, err) < 0 ||
        get_int(params, "lut_ffn", PIPE_LUT_NONE, PIPE_LUT_NONE, f, &m->lut_ffn, err) < 0 ||
        get_int(params, "lut_lmhead", PIPE_LUT_NONE, PIPE_LUT_NONE, f, &m->lut_lmhead, err) < 0 ||
        get_int(params, "lut_bits", PIPE_LUT_NONE, PIPE_LUT_NONE, f, &m->lut_ffn, err) < 0 ||
        get_int(params, "lut_embeddings_per_channel", 0, 0, f, &m->lut_embeddings_per_channel, err) < 0 ||
        get_int(params, "lut_ffn_per_channel", 0, 0, f, &m->lut_ffn_per_channel, err) < 0 ||
        get_int(params, "lut_lmhead_per_channel", 0, 0, f, &m->lut_lmhead_per_channel, err) < 0 ||
        get_int(params, "num_chunks", 1, 1, f, &m->num_chunks, err) < 0 ||
        get_int(params, "split_lm_head", 8, 8, f, &m->split_lm_head, err) < 0 ||
        get_int(params, "vocab_size", 0, 0, f, &m->vocab_size, err) < 0 ||
        get_int(params, "sliding_window", 0, 0, f, &m->sliding_window, err) < 0 ||
        get_bool(params, "argmax_in_model", 0, f, &m->argmax_in_model, err) < 0 ||
        get_bool(params, "update_mask_prefill", 0, f, &m->update_mask_prefill, err) < 0 ||
        get_bool(params, "prefill_dynamic_slice", 0, f, &m->prefill_dynamic_slice, err) < 0 ||
        get_bool(params, "single_cache", 0, f, &m->single_cache, err) < 0 ||
        get_bool(params, "split_rotate", 0, f, &m->split_rotate, err) < 0)
        goto fail;
    /* lut_bits (monolithic) was read into lut_ffn only when present; keep lut_ffn otherwise */
    if (!get_str(params, "lut_bits"))
        get_int(params, "lut_ffn", PIPE_LUT_NONE, PIPE_LUT_NONE, f, &m->lut_ffn, err);
    if (m->state_length == 0)
        m->state_length = m->context_length;
    if (m->num_chunks < 1 || m->num_chunks > PIPE_MAX_CHUNKS) {
        an_errorf(err, "%s: parameters.num_chunks is %d, expected 1..%d", f, m->num_chunks, PIPE_MAX_CHUNKS);
        goto fail;
    }
    if (m->split_lm_head < 1 || m->split_lm_head > 1024) {
        an_errorf(err, "%s: parameters.split_lm_head is %d, expected 1..1024", f, m->split_lm_head);
        goto fail;
    }
    const char *prefix = get_str(params, "model_prefix");
    m->model_prefix = xstrdup(prefix ? prefix : "llama");
    m->embeddings = xstrdup(get_str(params, "embeddings"));
    m->lm_head = xstrdup(get_str(params, "lm_head"));
    m->ffn = xstrdup(get_str(params, "ffn"));
    m->monolithic_model = xstrdup(get_str(params, "monolithic_model"));
    m->pf = xstrdup(get_str(params, "pf"));
    m->tokenizer_path = xstrdup(get_str(params, "tokenizer_path"));

    json_object *arr;
    if (json_object_object_get_ex(params, "lm_head_chunk_sizes", &arr) && arr) {
        if (!json_object_is_type(arr, json_type_array)) {
            an_errorf(err, "%s: parameters.lm_head_chunk_sizes should be a list of integers", f);
            goto fail;
        }
        size_t n = json_object_array_length(arr);
        if (n > 1024) {
            an_errorf(err, "%s: parameters.lm_head_chunk_sizes has %zu entries (at most 1024)", f, n);
            goto fail;
        }
        m->lm_head_chunk_sizes = calloc(n ? n : 1, sizeof(int));
        m->n_lm_head_chunk_sizes = (int)n;
        for (size_t i = 0; i < n; i++) {
            json_object *holder = json_object_new_object();
            json_object_object_add(holder, "v", json_object_get(json_object_array_get_idx(arr, i)));
            int r = get_int(holder, "v", 0, 0, f, &m->lm_head_chunk_sizes[i], err);
            json_object_put(holder);
            if (r < 0 || m->lm_head_chunk_sizes[i] <= 0) {
                an_errorf(err, "%s: parameters.lm_head_chunk_sizes[%zu] is not a positive integer", f, i);
                goto fail;
            }
        }
    }
    if (json_object_object_get_ex(params, "functions", &arr) && arr && json_object_is_type(arr, json_type_array)) {
        size_t n = json_object_array_length(arr);
        if (n > 64)
            n = 64;
        m->functions = calloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(arr, i);
            if (v && json_object_is_type(v, json_type_string))
                m->functions[m->n_functions++] = strdup(json_object_get_string(v));
        }
    }
    json_object *rec;
    if (json_object_object_get_ex(params, "recommended_sampling", &rec) && rec &&
        json_object_is_type(rec, json_type_object)) {
        m->sampling.present = 1;
        m->sampling.temperature = m->sampling.top_p = -1;
        m->sampling.top_k = -1;
        m->sampling.do_sample = -1;
        if (get_bool(rec, "do_sample", -1, f, &m->sampling.do_sample, err) < 0 ||
            get_double(rec, "temperature", &m->sampling.temperature, f, err) < 0 ||
            get_double(rec, "top_p", &m->sampling.top_p, f, err) < 0 ||
            get_int(rec, "top_k", -1, -1, f, &m->sampling.top_k, err) < 0)
            goto fail;
    }
    m->monolithic = (m->model_type && !strcmp(m->model_type, "monolithic")) || m->monolithic_model != NULL;
    json_object_put(root);
    return m;
fail:
    json_object_put(root);
    pipe_meta_free(m);
    return NULL;
}

pipe_meta *pipe_meta_load(const char *path, an_error *err)
{
    char *file = an_is_dir(path) ? an_path_join(path, "meta.yaml") : strdup(path);
    if (!file) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    char *dir = strdup(file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        strcpy(dir, ".");
    char *text;
    size_t len;
    pipe_meta *m = NULL;
    if (an_read_file(file, 1 << 20, &text, &len, err) == 0) {
        m = pipe_meta_parse(text, len, file, dir, err);
        free(text);
    }
    free(file);
    free(dir);
    return m;
}

/* ---- component discovery ------------------------------------------------------------ */

static char *strip_ext(const char *name)
{
    static const char *const exts[] = {".mlmodelc.zip", ".mlmodelc", ".mlpackage"};
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/')
        n--;
    for (size_t i = 0; i < 3; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && !strncmp(name + n - e, exts[i], e)) {
            n -= e;
            break;
        }
    }
    return strndup(name, n);
}

/* Try base, base.mlmodelc, base.mlpackage, base.mlmodelc.zip in dir. Records what was
 * tried in `tried` for the error message. */
static int resolve_one(const char *dir, const char *base, pipe_component_file *out, an_strbuf *tried)
{
    static const struct { const char *ext; pipe_component_form form; int is_dir; } forms[] = {
        {".mlmodelc", PIPE_FORM_MLMODELC, 1},
        {".mlpackage", PIPE_FORM_MLPACKAGE, 1},
        {".mlmodelc.zip", PIPE_FORM_ZIP, 0},
    };
    for (size_t i = 0; i < 3; i++) {
        an_strbuf name;
        an_sb_init(&name);
        an_sb_appendf(&name, "%s%s", base, forms[i].ext);
        char *p = an_path_join(dir, name.buf);
        int ok = p && (forms[i].is_dir ? an_is_dir(p) : an_is_file(p));
        if (tried->len < 600)
            an_sb_appendf(tried, "%s%s", tried->len ? ", " : "", name.buf);
        an_sb_free(&name);
        if (ok) {
            out->path = p;
            out->form = forms[i].form;
            return 0;
        }
        free(p);
    }
    return -1;
}

static int find_component(pipe_meta *m, const char *what, const char *explicit_name, const char *rebuilt,
                          int lut, pipe_component_file *out, an_error *err)
{
    an_strbuf tried;
    an_sb_init(&tried);
    int rc = -1;
    char *base = explicit_name ? strip_ext(explicit_name) : strdup(rebuilt);
    if (resolve_one(m->dir, base, out, &tried) == 0) {
        rc = 0;
    } else if (lut != PIPE_LUT_NONE) {
        /* names without the _lutN suffix (ANEMLL falls back for embeddings, and
         * explicit names may carry one the files do not) */
        char suffix[32];
        snprintf(suffix, sizeof suffix, "_lut%d", lut);
        char *at = strstr(base, suffix);
        if (at) {
            memmove(at, at + strlen(suffix), strlen(at + strlen(suffix)) + 1);
            rc = resolve_one(m->dir, base, out, &tried);
        }
    }
    if (rc < 0)
        an_errorf(err, "%s: the %s component is missing in %s (tried %s)", m->path, what, m->dir, tried.buf);
    free(base);
    an_sb_free(&tried);
    return rc;
}

/* Split "X_chunk_NNofMM" into the part before "_chunk_" and the count MM; 0 if absent. */
static int chunk_suffix(const char *base, size_t *stem_len, int *total)
{
    const char *p = strstr(base, "_chunk_");
    const char *last = NULL;
    while (p) {
        last = p;
        p = strstr(p + 1, "_chunk_");
    }
    if (!last)
        return 0;
    int a, b, n = 0;
    if (sscanf(last, "_chunk_%dof%d%n", &a, &b, &n) != 2 || last[n] != '\0')
        return 0;
    *stem_len = (size_t)(last - base);
    *total = b;
    return 1;
}

int pipe_meta_find_components(pipe_meta *m, an_error *err)
{
    char lut[32], rebuilt[512];
    if (m->monolithic) {
        if (!m->monolithic_model)
            snprintf(rebuilt, sizeof rebuilt, "%s_monolithic_full", m->model_prefix);
        return find_component(m, "monolithic", m->monolithic_model, rebuilt, m->lut_ffn, &m->monolithic_file, err);
    }
    /* embeddings: ANEMLL never gave them a LUT suffix before 0.3 — the fallback drops it */
    if (m->lut_embeddings != PIPE_LUT_NONE)
        snprintf(lut, sizeof lut, "_lut%d", m->lut_embeddings);
    else
        lut[0] = '\0';
    snprintf(rebuilt, sizeof rebuilt, "%s_embeddings%s", m->model_prefix, lut);
    if (find_component(m, "embeddings", m->embeddings, rebuilt, m->lut_embeddings, &m->embeddings_file, err) < 0)
        return -1;
    if (m->lut_lmhead != PIPE_LUT_NONE)
        snprintf(lut, sizeof lut, "_lut%d", m->lut_lmhead);
    else
        lut[0] = '\0';
    snprintf(rebuilt, sizeof rebuilt, "%s_lm_head%s", m->model_prefix, lut);
    if (find_component(m, "LM head", m->lm_head, rebuilt, PIPE_LUT_NONE, &m->lm_head_file, err) < 0)
        return -1;

    /* FFN chunks */
    if (m->lut_ffn != PIPE_LUT_NONE)
        snprintf(lut, sizeof lut, "_lut%d", m->lut_ffn);
    else
        lut[0] = '\0';
    char *stem;
    if (m->ffn) {
        char *base = strip_ext(m->ffn);
        size_t stem_len;
        int total;
        if (chunk_suffix(base, &stem_len, &total)) {
            if (total != m->num_chunks) {
                an_errorf(err, "%s: ffn '%s' says %d chunks but num_chunks is %d", m->path, m->ffn, total, m->num_chunks);
                free(base);
                return -1;
            }
            stem = strndup(base, stem_len);
            free(base);
        } else if (m->num_chunks == 1) {
            /* 0.3.4 writes the name without a chunk suffix: try it as given first */
            an_strbuf tried;
            an_sb_init(&tried);
            int found = resolve_one(m->dir, base, &m->chunk_files[0], &tried) == 0;
            an_sb_free(&tried);
            if (found) {
                m->n_chunks = 1;
                free(base);
                return 0;
            }
            stem = base;
        } else {
            stem = base;
        }
    } else {
        snprintf(rebuilt, sizeof rebuilt, "%s_FFN_PF%s", m->model_prefix, lut);
        stem = strdup(rebuilt);
    }
    int rc = 0;
    for (int i = 0; i < m->num_chunks && rc == 0; i++) {
        char name[600], what[64];
        snprintf(name, sizeof name, "%s_chunk_%02dof%02d", stem, i + 1, m->num_chunks);
        snprintf(what, sizeof what, "FFN chunk %d of %d", i + 1, m->num_chunks);
        rc = find_component(m, what, NULL, name, PIPE_LUT_NONE, &m->chunk_files[i], err);
        if (rc == 0)
            m->n_chunks = i + 1;
    }
    free(stem);
    return rc;
}

static void free_component(pipe_component_file *c)
{
    free(c->path);
    c->path = NULL;
}

void pipe_meta_free(pipe_meta *m)
{
    if (!m)
        return;
    free(m->path), free(m->dir), free(m->name), free(m->version), free(m->architecture);
    free(m->model_type), free(m->anemll_version), free(m->model_prefix), free(m->embeddings);
    free(m->lm_head), free(m->ffn), free(m->monolithic_model), free(m->pf), free(m->tokenizer_path);
    free(m->lm_head_chunk_sizes);
    for (int i = 0; i < m->n_functions; i++)
        free(m->functions[i]);
    free(m->functions);
    free_component(&m->embeddings_file);
    free_component(&m->lm_head_file);
    free_component(&m->monolithic_file);
    for (int i = 0; i < m->n_chunks; i++)
        free_component(&m->chunk_files[i]);
    free(m);
}
