/*
 * metadata.c — metadata.json of a .mlmodelc (COREML-FORMAT.md §1.2) into the program's
 * descriptions, user metadata, default function and spec version.
 *
 * The file is a JSON array holding one object (a bare object is accepted too). Fields
 * we do not use are ignored; fields we use must have the documented types.
 */
#include "mil/loaders.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mj {
    mil_program *p;
    const char *fname;
    an_error *err;
} mj;

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static char *adup(mj *m, const char *s) { return s ? an_arena_strdup(&m->p->arena, s) : NULL; }

/* "[1, 10]" → shape; returns the rank or -1. */
static int parse_shape_text(const char *s, int64_t *dims)
{
    int rank = 0;
    while (*s == ' ')
        s++;
    if (*s++ != '[')
        return -1;
    for (;;) {
        while (*s == ' ')
            s++;
        if (*s == ']')
            return s[1] == '\0' || s[1] == ' ' ? rank : -1;
        if (rank == MIL_MAX_RANK || *s < '0' || *s > '9')
            return -1;
        int64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            if (v > (INT64_MAX - 9) / 10 / 64)
                return -1;
            v = v * 10 + (*s++ - '0');
        }
        dims[rank++] = v;
        while (*s == ' ')
            s++;
        if (*s == ',')
            s++;
        else if (*s != ']')
            return -1;
    }
}

static mil_dtype array_dtype(const char *s)
{
    static const struct { const char *n; mil_dtype dt; } map[] = {
        {"Float16", MIL_DT_FP16}, {"Float32", MIL_DT_FP32}, {"Double", MIL_DT_FP64},
        {"Float64", MIL_DT_FP64}, {"Int32", MIL_DT_INT32},  {"Int8", MIL_DT_INT8},
        {"Int16", MIL_DT_INT16},  {"Int64", MIL_DT_INT64},
    };
    for (size_t i = 0; s && i < sizeof map / sizeof *map; i++)
        if (strcmp(s, map[i].n) == 0)
            return map[i].dt;
    return MIL_DT_INVALID;
}

static int feature(mj *m, json_object *o, const char *where, mil_feature *f)
{
    if (!json_object_is_type(o, json_type_object))
        return an_errorf(m->err, "%s: %s: a feature must be an object", m->fname, where);
    const char *name = jstr(o, "name"), *type = jstr(o, "type");
    if (!name || !type)
        return an_errorf(m->err, "%s: %s: a feature needs string 'name' and 'type'", m->fname, where);
    f->name = adup(m, name);
    const char *opt = jstr(o, "isOptional");
    f->is_optional = opt && strcmp(opt, "1") == 0;
    mil_type t;
    memset(&t, 0, sizeof t);
    t.kind = MIL_TYPE_TENSOR;
    if (strcmp(type, "MultiArray") == 0 || strcmp(type, "State") == 0) {
        const char *dt = jstr(o, "dataType"), *shape = jstr(o, "shape");
        t.dtype = array_dtype(dt);
        if (t.dtype == MIL_DT_INVALID)
            return an_errorf(m->err, "%s: %s: feature '%s' has unknown dataType '%s'", m->fname, where,
                             name, dt ? dt : "(none)");
        t.rank = shape ? parse_shape_text(shape, t.dims) : -1;
        if (shape && t.rank < 0)
            return an_errorf(m->err, "%s: %s: feature '%s' has a malformed shape '%.60s'", m->fname,
                             where, name, shape);
        if (strcmp(type, "State") == 0) {
            mil_type *el = an_arena_memdup(&m->p->arena, &t, sizeof t);
            if (!el)
                return an_errorf(m->err, "out of memory");
            memset(&t, 0, sizeof t);
            t.kind = MIL_TYPE_STATE;
            t.elem = el;
        }
    } else if (strcmp(type, "Int64") == 0) {
        t.dtype = MIL_DT_INT64;
    } else if (strcmp(type, "Double") == 0) {
        t.dtype = MIL_DT_FP64;
    } else if (strcmp(type, "String") == 0) {
        t.dtype = MIL_DT_STRING;
    } else {
        return an_errorf(m->err, "%s: %s: feature '%s' has unsupported type '%.40s'", m->fname, where,
                         name, type);
    }
    f->type = t;
    return 0;
}

static int schema(mj *m, json_object *o, const char *key, const char *where, int *n, const mil_feature **out)
{
    json_object *a;
    *n = 0;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &a))
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return an_errorf(m->err, "%s: %s.%s must be an array", m->fname, where, key);
    size_t len = json_object_array_length(a);
    mil_feature *fs = an_arena_calloc(&m->p->arena, len + 1, sizeof *fs);
    if (!fs)
        return an_errorf(m->err, "out of memory");
    for (size_t i = 0; i < len; i++) {
        char w[160];
        snprintf(w, sizeof w, "%s.%s[%zu]", where, key, i);
        if (feature(m, json_object_array_get_idx(a, i), w, &fs[i]))
            return -1;
    }
    *n = (int)len;
    *out = fs;
    return 0;
}

static int desc(mj *m, json_object *o, const char *name, const char *where, mil_function_desc *d)
{
    d->name = adup(m, name);
    if (schema(m, o, "inputSchema", where, &d->n_inputs, &d->inputs) ||
        schema(m, o, "outputSchema", where, &d->n_outputs, &d->outputs) ||
        schema(m, o, "stateSchema", where, &d->n_states, &d->states))
        return -1;
    return 0;
}

int mil_parse_metadata_json(mil_program *p, const char *text, size_t len, const char *fname,
                            an_error *err)
{
    mj m = {p, fname, err};
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return an_errorf(err, "out of memory");
    json_object *root = len > INT32_MAX ? NULL : json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || je != json_tokener_success) {
        json_object_put(root);
        return an_errorf(err, "%s: byte %zu: invalid JSON (%s)", fname, off,
                         je == json_tokener_continue ? "unexpected end of file" : json_tokener_error_desc(je));
    }
    int rc = -1;
    json_object *o = root;
    if (json_object_is_type(o, json_type_array)) {
        if (json_object_array_length(o) < 1) {
            an_errorf(err, "%s: the top-level array is empty", fname);
            goto out;
        }
        o = json_object_array_get_idx(o, 0);
    }
    if (!json_object_is_type(o, json_type_object)) {
        an_errorf(err, "%s: expected an object (or an array holding one)", fname);
        goto out;
    }
    json_object *v;
    if (json_object_object_get_ex(o, "specificationVersion", &v) && json_object_is_type(v, json_type_int))
        p->spec_version = (int)json_object_get_int(v);
    p->author = adup(&m, jstr(o, "author"));
    p->license = adup(&m, jstr(o, "license"));
    p->short_description = adup(&m, jstr(o, "shortDescription"));
    p->version_string = adup(&m, jstr(o, "version"));
    if (jstr(o, "defaultFunctionName") && *jstr(o, "defaultFunctionName"))
        p->default_function = adup(&m, jstr(o, "defaultFunctionName"));
    if (json_object_object_get_ex(o, "userDefinedMetadata", &v)) {
        if (!json_object_is_type(v, json_type_object)) {
            an_errorf(err, "%s: userDefinedMetadata must be an object", fname);
            goto out;
        }
        int n = json_object_object_length(v), i = 0;
        mil_kv *kv = an_arena_calloc(&p->arena, (size_t)n + 1, sizeof *kv);
        if (!kv) {
            an_errorf(err, "out of memory");
            goto out;
        }
        json_object_object_foreach(v, key, val)
        {
            if (!json_object_is_type(val, json_type_string)) {
                an_errorf(err, "%s: userDefinedMetadata.%.100s must be a string", fname, key);
                goto out;
            }
            kv[i].key = adup(&m, key);
            kv[i].value = adup(&m, json_object_get_string(val));
            i++;
        }
        p->metadata = kv;
        p->n_metadata = i;
    }
    json_object *fa;
    if (json_object_object_get_ex(o, "functions", &fa) && json_object_is_type(fa, json_type_array) &&
        json_object_array_length(fa) > 0) {
        size_t n = json_object_array_length(fa);
        mil_function_desc *d = an_arena_calloc(&p->arena, n + 1, sizeof *d);
        if (!d) {
            an_errorf(err, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_object *f = json_object_array_get_idx(fa, i);
            char w[64];
            snprintf(w, sizeof w, "functions[%zu]", i);
            if (!json_object_is_type(f, json_type_object) || !jstr(f, "name")) {
                an_errorf(err, "%s: %s needs a string 'name'", fname, w);
                goto out;
            }
            if (desc(&m, f, jstr(f, "name"), w, &d[i]))
                goto out;
        }
        p->descs = d;
        p->n_descs = (int)n;
    } else if (json_object_object_get_ex(o, "inputSchema", &v) ||
               json_object_object_get_ex(o, "outputSchema", &v)) {
        mil_function_desc *d = an_arena_calloc(&p->arena, 1, sizeof *d);
        if (!d) {
            an_errorf(err, "out of memory");
            goto out;
        }
        const char *name = p->default_function;
        if (!name)
            name = p->n_functions > 0 ? p->functions[0].name : "main";
        if (desc(&m, o, name, "top", d))
            goto out;
        p->descs = d;
        p->n_descs = 1;
    }
    rc = 0;
out:
    json_object_put(root);
    return rc;
}
