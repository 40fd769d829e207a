/*
 * load.c — container discovery (COREML-FORMAT.md §1) and mil_program_load.
 *
 * .mlmodelc: model.mil (+ optional metadata.json). .mlpackage: Manifest.json names the
 * root item, whose path (relative to Data/) is the protobuf model.mlmodel. Weights are
 * never opened here.
 */
#include "mil/build.h"
#include "mil/loaders.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

#define MAX_TEXT_BYTES ((size_t)1 << 31)  /* model.mil / model.mlmodel hold no weights */
#define MAX_JSON_BYTES ((size_t)64 << 20)

mil_program *mil_program_new(void)
{
    mil_program *p = calloc(1, sizeof *p);
    if (p)
        an_arena_init(&p->arena);
    return p;
}

void mil_program_free(mil_program *p)
{
    if (!p)
        return;
    an_arena_free(&p->arena);
    free(p);
}

static int finish(mil_program *p, an_error *err)
{
    if (!p->default_function) {
        p->default_function = "main";
        if (!mil_program_function(p, "main") && p->n_functions > 0)
            p->default_function = p->functions[0].name;
    }
    if (!mil_program_function(p, p->default_function))
        return an_errorf(err, "%s: the default function '%s' does not exist", p->source,
                         p->default_function);
    if (p->n_descs == 0 && mil_derive_descs(p, err))
        return -1;
    return 0;
}

static int load_mlmodelc(mil_program *p, const char *dir, an_error *err)
{
    char *mil = an_path_join(dir, "model.mil"), *meta = an_path_join(dir, "metadata.json");
    char *text = NULL;
    size_t len = 0;
    int rc = -1;
    if (!mil || !meta) {
        an_errorf(err, "out of memory");
        goto out;
    }
    p->container = MIL_CONTAINER_MLMODELC;
    p->model_dir = an_arena_strdup(&p->arena, dir);
    p->source = an_arena_strdup(&p->arena, mil);
    if (an_read_file(mil, MAX_TEXT_BYTES, &text, &len, err) ||
        mil_parse_text(p, text, len, p->source, err))
        goto out;
    free(text);
    text = NULL;
    if (an_is_file(meta)) {
        if (an_read_file(meta, MAX_JSON_BYTES, &text, &len, err) ||
            mil_parse_metadata_json(p, text, len, meta, err))
            goto out;
    }
    rc = finish(p, err);
out:
    free(text);
    free(mil);
    free(meta);
    return rc;
}

/* A Manifest path must stay inside Data/: relative, no "..", no empty components. */
static int safe_rel_path(const char *s)
{
    if (!*s || *s == '/')
        return 0;
    for (const char *c = s; *c;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        c += n + (e ? 1 : 0);
    }
    return 1;
}

static int load_mlpackage(mil_program *p, const char *dir, an_error *err)
{
    char *manifest = an_path_join(dir, "Manifest.json");
    char *text = NULL, *spec = NULL, *data_dir = NULL;
    size_t len = 0;
    json_object *root = NULL;
    int rc = -1;
    if (!manifest) {
        an_errorf(err, "out of memory");
        goto out;
    }
    p->container = MIL_CONTAINER_MLPACKAGE;
    if (an_read_file(manifest, MAX_JSON_BYTES, &text, &len, err))
        goto out;
    root = json_tokener_parse(text);
    json_object *id, *entries, *entry, *path;
    if (!root || !json_object_is_type(root, json_type_object)) {
        an_errorf(err, "%s: not a JSON object", manifest);
        goto out;
    }
    if (!json_object_object_get_ex(root, "rootModelIdentifier", &id) ||
        !json_object_is_type(id, json_type_string) ||
        !json_object_object_get_ex(root, "itemInfoEntries", &entries) ||
        !json_object_is_type(entries, json_type_object)) {
        an_errorf(err, "%s: needs 'rootModelIdentifier' and 'itemInfoEntries'", manifest);
        goto out;
    }
    if (!json_object_object_get_ex(entries, json_object_get_string(id), &entry) ||
        !json_object_object_get_ex(entry, "path", &path) || !json_object_is_type(path, json_type_string)) {
        an_errorf(err, "%s: the root model '%.80s' has no entry with a path", manifest,
                  json_object_get_string(id));
        goto out;
    }
    if (!safe_rel_path(json_object_get_string(path))) {
        an_errorf(err, "%s: root model path '%.200s' leaves the package", manifest,
                  json_object_get_string(path));
        goto out;
    }
    data_dir = an_path_join(dir, "Data");
    spec = data_dir ? an_path_join(data_dir, json_object_get_string(path)) : NULL;
    if (!spec) {
        an_errorf(err, "out of memory");
        goto out;
    }
    p->source = an_arena_strdup(&p->arena, spec);
    char *slash = strrchr(spec, '/');
    p->model_dir = slash ? an_arena_strndup(&p->arena, spec, (size_t)(slash - spec)) : ".";
    free(text);
    text = NULL;
    if (an_read_file(spec, MAX_TEXT_BYTES, &text, &len, err) ||
        mil_parse_proto(p, (const unsigned char *)text, len, p->source, err))
        goto out;
    rc = finish(p, err);
out:
    json_object_put(root);
    free(text);
    free(spec);
    free(data_dir);
    free(manifest);
    return rc;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    while (n > 1 && s[n - 1] == '/')
        n--;
    return n >= m && strncmp(s + n - m, suf, m) == 0;
}

mil_program *mil_program_load(const char *path, an_error *err)
{
    mil_program *p = mil_program_new();
    if (!p) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    p->path = an_arena_strdup(&p->arena, path);
    int rc = -1;
    char *probe = NULL;
    if (!an_is_dir(path)) {
        an_errorf(err, "%s: not a directory (expected a .mlmodelc or .mlpackage)", path);
    } else if ((probe = an_path_join(path, "Manifest.json")) && an_is_file(probe)) {
        rc = load_mlpackage(p, path, err);
    } else if (free(probe), (probe = an_path_join(path, "model.mil")) && an_is_file(probe)) {
        rc = load_mlmodelc(p, path, err);
    } else if (free(probe), (probe = an_path_join(path, "model0")) && an_is_dir(probe)) {
        an_errorf(err, "%s: a pipeline bundle (model0/, model1/, ...): load its models one by one", path);
    } else if (has_suffix(path, ".mlpackage")) {
        an_errorf(err, "%s: no Manifest.json in this .mlpackage", path);
    } else {
        an_errorf(err, "%s: neither a .mlmodelc (no model.mil) nor a .mlpackage (no Manifest.json)", path);
    }
    free(probe);
    if (rc) {
        mil_program_free(p);
        return NULL;
    }
    return p;
}
