/*
 * parse.c — the pure parsers of the hub: response headers, Link pagination, the tree
 * and revision JSON, path safety, globs. No I/O; every input may be hostile (these are
 * the fuzz targets' entry points), so sizes are bounded and nothing is trusted.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "hub_internal.h"

/* Trees larger than this are refused: ANEMLL repos have tens of files. */
#define HUB_TREE_MAX_FILES 100000

void hub_etag_normalize(const char *in, char *out, size_t outsz)
{
    if (!outsz)
        return;
    while (*in == ' ' || *in == '\t')
        in++;
    if (in[0] == 'W' && in[1] == '/')
        in += 2;
    size_t n = strlen(in);
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    if (n >= 1 && in[0] == '"') {
        in++;
        n--;
    }
    if (n >= 1 && in[n - 1] == '"')
        n--;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

int hub_etag_valid(const char *etag)
{
    size_t n = strlen(etag);
    if (n == 0 || n > 128 || etag[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)etag[i]) && etag[i] != '-' && etag[i] != '_' && etag[i] != '.')
            return 0;
    return 1;
}

void hub_headers_reset(hub_headers *h)
{
    memset(h, 0, sizeof *h);
    h->linked_size = -1;
    h->content_length = -1;
    h->retry_after = -1;
    h->range_start = -1;
}

static void copy_value(char *dst, size_t dstsz, const char *v, size_t n)
{
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* A non-negative decimal that fits in long long, or -1. */
static long long parse_count(const char *v, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

void hub_headers_feed(hub_headers *h, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        hub_headers_reset(h);
        const char *sp = memchr(line, ' ', len);
        if (sp) {
            size_t rest = len - (size_t)(sp + 1 - line);
            size_t d = 0;
            while (d < rest && d < 3 && isdigit((unsigned char)sp[1 + d]))
                d++;
            if (d == 3)
                h->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        }
        return;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
    char tmp[256];
    if (IS("ETag") || IS("X-Linked-Etag")) {
        copy_value(tmp, sizeof tmp, v, vlen);
        hub_etag_normalize(tmp, IS("ETag") ? h->etag : h->linked_etag, sizeof h->etag);
    } else if (IS("X-Linked-Size")) {
        h->linked_size = parse_count(v, vlen);
    } else if (IS("Content-Length")) {
        h->content_length = parse_count(v, vlen);
    } else if (IS("Location")) {
        copy_value(h->location, sizeof h->location, v, vlen);
    } else if (IS("X-Repo-Commit")) {
        copy_value(h->repo_commit, sizeof h->repo_commit, v, vlen);
    } else if (IS("X-Error-Code")) {
        copy_value(h->error_code, sizeof h->error_code, v, vlen);
    } else if (IS("X-Error-Message")) {
        copy_value(h->error_message, sizeof h->error_message, v, vlen);
    } else if (IS("Retry-After")) {
        long long s = parse_count(v, vlen);
        h->retry_after = s < 0 ? -1 : s > 3600 ? 3600 : (long)s;
    } else if (IS("Content-Range")) {
        /* "bytes START-END/TOTAL" */
        if (vlen > 6 && strncasecmp(v, "bytes ", 6) == 0) {
            size_t d = 6;
            while (d < vlen && v[d] >= '0' && v[d] <= '9')
                d++;
            h->range_start = d < vlen && v[d] == '-' ? parse_count(v + 6, d - 6) : -1;
        }
    } else if (IS("Link")) {
        char *buf = malloc(vlen + 1);
        if (buf) {
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            hub_link_next(buf, h->link_next, sizeof h->link_next);
            free(buf);
        }
    } else if (IS("X-Request-Id") || (!h->request_id[0] && IS("X-Amzn-Trace-Id"))) {
        copy_value(h->request_id, sizeof h->request_id, v, vlen);
    }
#undef IS
}

/* Link: <url1>; rel="next", <url2>; rel="last" — GitHub style, as the Hub sends it. */
int hub_link_next(const char *value, char *out, size_t outsz)
{
    const char *p = value;
    while (*p) {
        const char *lt = strchr(p, '<');
        if (!lt)
            return -1;
        const char *gt = strchr(lt + 1, '>');
        if (!gt)
            return -1;
        const char *end = strchr(gt, ',');
        size_t plen = end ? (size_t)(end - gt) : strlen(gt);
        /* Look for rel="next" or rel=next among the parameters of this link. */
        int is_next = 0;
        for (size_t i = 0; i + 3 <= plen; i++) {
            if (strncasecmp(gt + i, "rel", 3) != 0)
                continue;
            size_t j = i + 3;
            while (j < plen && gt[j] == ' ')
                j++;
            if (j >= plen || gt[j] != '=')
                continue;
            j++;
            while (j < plen && gt[j] == ' ')
                j++;
            if (j < plen && gt[j] == '"')
                j++;
            if (j + 4 <= plen && strncasecmp(gt + j, "next", 4) == 0 &&
                (j + 4 == plen || gt[j + 4] == '"' || gt[j + 4] == ';' || gt[j + 4] == ' '))
                is_next = 1;
        }
        if (is_next) {
            size_t ulen = (size_t)(gt - lt - 1);
            if (ulen == 0 || ulen >= outsz)
                return -1;
            memcpy(out, lt + 1, ulen);
            out[ulen] = '\0';
            return 0;
        }
        if (!end)
            return -1;
        p = end + 1;
    }
    return -1;
}

int hub_relpath_safe(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 4096 || p[0] == '/')
        return 0;
    const char *c = p;
    while (*c) {
        const char *slash = strchr(c, '/');
        size_t clen = slash ? (size_t)(slash - c) : strlen(c);
        if (clen == 0 && slash) /* "a//b" or a leading "/" */
            return 0;
        if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        for (size_t i = 0; i < clen; i++)
            if ((unsigned char)c[i] < 0x20 || c[i] == '\\' || c[i] == 0x7f)
                return 0;
        if (!slash)
            break;
        c = slash + 1;
    }
    return 1;
}

void hub_tree_free(hub_tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->files[i].path);
        free(t->files[i].oid);
        free(t->files[i].lfs_sha256);
    }
    free(t->files);
    memset(t, 0, sizeof *t);
}

const hub_file *hub_tree_find(const hub_tree *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->files[i].path, path) == 0)
            return &t->files[i];
    return NULL;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int jsize(json_object *o, const char *key, unsigned long long *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    int64_t x = json_object_get_int64(v);
    if (x < 0)
        return -1;
    *out = (unsigned long long)x;
    return 0;
}

static int hex_len(const char *s, size_t want)
{
    if (!s || strlen(s) != want)
        return 0;
    for (size_t i = 0; i < want; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static json_object *parse_json(const char *json, size_t len, an_error *err)
{
    if (len > (size_t)INT32_MAX)
        return an_errorf(err, "answer too large"), NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return an_errorf(err, "out of memory"), NULL;
    json_object *o = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (!o || je != json_tokener_success) {
        an_errorf(err, "not valid JSON (%s at byte %zu)", json_tokener_error_desc(je),
                  json_tokener_get_parse_end(tok));
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

int hub_tree_parse_json(const char *json, size_t len, hub_tree *t, an_error *err)
{
    json_object *root = parse_json(json, len, err);
    if (!root)
        return -1;
    int rc = -1;
    if (!json_object_is_type(root, json_type_array)) {
        an_errorf(err, "expected a JSON array of files");
        goto out;
    }
    size_t n = json_object_array_length(root);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(root, i);
        if (!json_object_is_type(e, json_type_object)) {
            an_errorf(err, "entry %zu is not an object", i);
            goto out;
        }
        const char *type = jstr(e, "type"), *path = jstr(e, "path"), *oid = jstr(e, "oid");
        if (!type || !path) {
            an_errorf(err, "entry %zu has no type or path", i);
            goto out;
        }
        if (strcmp(type, "file") != 0)
            continue;
        if (!hub_relpath_safe(path) || path[strlen(path) - 1] == '/') {
            an_errorf(err, "entry %zu has an unsafe path", i);
            goto out;
        }
        hub_file f = {0};
        if (jsize(e, "size", &f.size) != 0 || !hex_len(oid, 40)) {
            an_errorf(err, "entry '%.200s' has no valid size or oid", path);
            goto out;
        }
        json_object *lfs;
        if (json_object_object_get_ex(e, "lfs", &lfs) && json_object_is_type(lfs, json_type_object)) {
            const char *sha = jstr(lfs, "oid");
            if (!sha)
                sha = jstr(lfs, "sha256");
            if (!hex_len(sha, 64) || jsize(lfs, "size", &f.size) != 0) {
                an_errorf(err, "entry '%.200s' has a bad lfs object", path);
                goto out;
            }
            f.lfs_sha256 = strdup(sha);
        }
        if (t->n >= HUB_TREE_MAX_FILES) {
            free(f.lfs_sha256);
            an_errorf(err, "more than %d files", HUB_TREE_MAX_FILES);
            goto out;
        }
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            hub_file *nf = realloc(t->files, cap * sizeof *nf);
            if (!nf) {
                free(f.lfs_sha256);
                an_errorf(err, "out of memory");
                goto out;
            }
            t->files = nf;
            t->cap = cap;
        }
        f.path = strdup(path);
        f.oid = strdup(oid);
        for (char *c = f.oid; c && *c; c++)
            *c = (char)tolower((unsigned char)*c);
        for (char *c = f.lfs_sha256; c && *c; c++)
            *c = (char)tolower((unsigned char)*c);
        t->files[t->n++] = f;
        if (!f.path || !f.oid) {
            an_errorf(err, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    json_object_put(root);
    return rc;
}

int hub_revision_parse_json(const char *json, size_t len, char **sha, an_error *err)
{
    json_object *root = parse_json(json, len, err);
    if (!root)
        return -1;
    int rc = -1;
    const char *s = json_object_is_type(root, json_type_object) ? jstr(root, "sha") : NULL;
    if (!hex_len(s, 40)) {
        an_errorf(err, "no commit sha in the answer");
    } else {
        *sha = strdup(s);
        for (char *c = *sha; c && *c; c++)
            *c = (char)tolower((unsigned char)*c);
        rc = *sha ? 0 : an_errorf(err, "out of memory");
    }
    json_object_put(root);
    return rc;
}

int hub_glob_match(const char *pattern, const char *path)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '/') {
        char *p = malloc(n + 2);
        if (!p)
            return 0;
        memcpy(p, pattern, n);
        p[n] = '*';
        p[n + 1] = '\0';
        int m = fnmatch(p, path, 0) == 0;
        free(p);
        return m;
    }
    /* Without FNM_PATHNAME, '*' and '?' match '/' as Python's fnmatch does. */
    return fnmatch(pattern, path, 0) == 0;
}

void hub_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Files beside meta.yaml that every model needs when present. */
static const char *const k_side_files[] = {
    "tokenizer.json",          "tokenizer.model",          "tokenizer_config.json",
    "special_tokens_map.json", "chat_template.jinja",      "config.json",
    "generation_config.json",  "added_tokens.json",        "vocab.json",
    "merges.txt",              NULL,
};

/* path is "<base>.mlmodelc.zip" or "<base>.mlmodelc/..." for this base, or, when
 * chunk_glob, "<base>_chunk_NNofMM" followed by those. */
static int matches_component(const char *path, const char *base, int chunk_glob)
{
    size_t bl = strlen(base);
    if (strncmp(path, base, bl) != 0)
        return 0;
    const char *rest = path + bl;
    if (chunk_glob && strncmp(rest, "_chunk_", 7) == 0) {
        rest += 7;
        int d = 0;
        while (isdigit((unsigned char)*rest))
            rest++, d++;
        if (!d || strncmp(rest, "of", 2) != 0)
            return 0;
        rest += 2;
        d = 0;
        while (isdigit((unsigned char)*rest))
            rest++, d++;
        if (!d)
            return 0;
    }
    return strcmp(rest, ".mlmodelc.zip") == 0 || strncmp(rest, ".mlmodelc/", 10) == 0;
}

void hub_select_files(const hub_tree *t, char *const *components, size_t n_comp,
                      const char *const *include, size_t n_include, const char *const *exclude,
                      size_t n_exclude, unsigned char *sel)
{
    for (size_t i = 0; i < t->n; i++) {
        const char *p = t->files[i].path;
        int want = strcmp(p, "meta.yaml") == 0;
        for (const char *const *s = k_side_files; !want && *s; s++)
            want = strcmp(p, *s) == 0;
        for (size_t c = 0; !want && c < n_comp; c++)
            want = matches_component(p, components[c], strstr(components[c], "_chunk_") == NULL);
        for (size_t k = 0; !want && k < n_include; k++)
            want = hub_glob_match(include[k], p);
        for (size_t k = 0; want && k < n_exclude; k++)
            if (hub_glob_match(exclude[k], p) && strcmp(p, "meta.yaml") != 0)
                want = 0;
        sel[i] = (unsigned char)want;
    }
}
