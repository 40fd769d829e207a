/*
 * resolve.c — MODEL → local model directory: the revision API, the tree listing with
 * pagination, meta.yaml first, then what it names; offline and unreachable fallbacks;
 * anemone's model directory for repos that ship zipped components.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "hub_internal.h"

#define API_MAX_BODY (16u << 20)
#define TREE_MAX_PAGES 1000

static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

static int same_origin(const char *a, const char *b)
{
    size_t la = origin_len(a), lb = origin_len(b);
    return la && la == lb && strncasecmp(a, b, la) == 0;
}

/* ---- the model directory ------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* The entries of a directory (names, malloc'd), without dot files. */
static int list_names(const char *dir, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **nv = realloc(*out, (*n + 1) * sizeof *nv);
        if (!nv)
            break;
        *out = nv;
        if ((nv[*n] = strdup(e->d_name)))
            (*n)++;
    }
    closedir(d);
    return 0;
}

/* Link view/<name> → target (absolute). */
static int link_into(const char *view, const char *name, const char *target, an_error *err)
{
    char p[PATH_MAX];
    hub_pathf(p, sizeof p, "%s/%s", view, name);
    if (symlink(target, p) != 0)
        return an_errorf(err, "%s: cannot create link: %s", p, strerror(errno));
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two directories of symlinks with the same names and targets. */
static int same_links(const char *a, const char *b)
{
    char **na, **nb;
    size_t ca, cb;
    if (list_names(a, &na, &ca) != 0)
        return 0;
    if (list_names(b, &nb, &cb) != 0) {
        hub_strv_free(na, ca);
        return 0;
    }
    int same = ca == cb;
    if (same) {
        qsort(na, ca, sizeof *na, cmp_str);
        qsort(nb, cb, sizeof *nb, cmp_str);
    }
    for (size_t i = 0; same && i < ca; i++) {
        char pa[PATH_MAX], pb[PATH_MAX], ta[PATH_MAX], tb[PATH_MAX];
        hub_pathf(pa, sizeof pa, "%s/%s", a, na[i]);
        hub_pathf(pb, sizeof pb, "%s/%s", b, nb[i]);
        ssize_t la = readlink(pa, ta, sizeof ta - 1), lb = readlink(pb, tb, sizeof tb - 1);
        same = !strcmp(na[i], nb[i]) && la >= 0 && la == lb && !memcmp(ta, tb, (size_t)la);
    }
    hub_strv_free(na, ca);
    hub_strv_free(nb, cb);
    return same;
}

/* For a snapshot with `X.mlmodelc.zip` files: extract each (once per blob) into
 * <anemone cache>/unzipped/<etag>/ and build <anemone cache>/models/<repo>/<commit>/ with
 * links to the snapshot's files and to the extracted X.mlmodelc directories, so that
 * meta.yaml's names resolve beside it. A snapshot without zips is its own model dir. */
static int model_dir(const hub_env *env, const char *repo_id, const char *repo_dir,
                     const char *commit, char **out, an_error *err)
{
    char snap[PATH_MAX];
    hub_pathf(snap, sizeof snap, "%s/snapshots/%s", repo_dir, commit);
    char **names;
    size_t n;
    if (list_names(snap, &names, &n) != 0)
        return an_errorf(err, "%s: cannot read: %s", snap, strerror(errno));
    int zips = 0;
    for (size_t i = 0; i < n; i++)
        zips += ends_with(names[i], ".mlmodelc.zip");
    int rc = 0;
    char *folder = hub_repo_folder_name(repo_id);
    char view[PATH_MAX], tmp[PATH_MAX + 32], p[PATH_MAX];
    if (!zips) {
        *out = strdup(snap);
        rc = *out ? 0 : an_errorf(err, "out of memory");
        goto done;
    }
    hub_pathf(view, sizeof view, "%s/models/%s/%s", env->anemone_cache, folder ? folder : "", commit);
    hub_pathf(tmp, sizeof tmp, "%s.tmp.%d", view, (int)getpid());
    hub_rm_rf(tmp);
    if (an_mkdir_p(tmp, 0755, err) != 0) {
        rc = HUB_ERR_DISK;
        goto done;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        hub_pathf(p, sizeof p, "%s/%s", snap, names[i]);
        if (!ends_with(names[i], ".mlmodelc.zip")) {
            rc = link_into(tmp, names[i], p, err);
            continue;
        }
        char etag[160], dest[PATH_MAX], comp[PATH_MAX];
        if (hub_snapshot_etag(repo_dir, commit, names[i], etag, sizeof etag) != 0 ||
            !hub_etag_valid(etag)) {
            rc = an_errorf(err, "%s: not a link into the cache's blobs", p);
            break;
        }
        hub_pathf(dest, sizeof dest, "%s/unzipped/%s", env->anemone_cache, etag);
        if (!an_is_dir(dest))
            an_info("unpacking %s", names[i]);
        rc = hub_zip_extract(p, dest, err);
        if (rc != 0)
            break;
        size_t bl = strlen(names[i]) - 4; /* "X.mlmodelc" */
        char base[PATH_MAX];
        hub_pathf(base, sizeof base, "%.*s", (int)bl, names[i]);
        hub_pathf(comp, sizeof comp, "%s/%s", dest, base);
        /* Usually the zip holds X.mlmodelc/; some hold its contents directly. */
        rc = link_into(tmp, base, an_is_dir(comp) ? comp : dest, err);
    }
    if (rc == 0 && same_links(tmp, view)) {
        /* Up to date: leave it alone (another process may be using it right now). */
        if (!(*out = strdup(view)))
            rc = an_errorf(err, "out of memory");
    } else if (rc == 0) {
        char old[PATH_MAX + 32];
        hub_pathf(old, sizeof old, "%s.old.%d", view, (int)getpid());
        if (rename(view, old) == 0)
            hub_rm_rf(old);
        if (rename(tmp, view) != 0 && !an_is_dir(view))
            rc = an_errorf(err, "%s: cannot rename into place: %s", view, strerror(errno));
        else if (!(*out = strdup(view)))
            rc = an_errorf(err, "out of memory");
    }
    hub_rm_rf(tmp);
done:
    free(folder);
    hub_strv_free(names, n);
    return rc;
}

/* ---- from the cache --------------------------------------------------------------- */

/* 1 when base.mlmodelc/ or base.mlmodelc.zip (or, for chunkless names, a chunk) exists. */
static int component_present(const char *snap, char **entries, size_t n, const char *base)
{
    char p[PATH_MAX];
    hub_pathf(p, sizeof p, "%s/%s.mlmodelc", snap, base);
    if (an_is_dir(p))
        return 1;
    hub_pathf(p, sizeof p, "%s/%s.mlmodelc.zip", snap, base);
    if (an_is_file(p))
        return 1;
    size_t bl = strlen(base);
    for (size_t i = 0; !strstr(base, "_chunk_") && i < n; i++)
        if (!strncmp(entries[i], base, bl) && !strncmp(entries[i] + bl, "_chunk_", 7)) {
            hub_pathf(p, sizeof p, "%s/%s", snap, entries[i]);
            if (an_is_dir(p) || an_is_file(p))
                return 1;
        }
    return 0;
}

/* The cached snapshot has meta.yaml and every component it names. */
static int snapshot_complete(const char *snap, an_error *err)
{
    char meta[PATH_MAX];
    hub_pathf(meta, sizeof meta, "%s/meta.yaml", snap);
    char *yaml;
    size_t len;
    if (an_read_file(meta, 1 << 20, &yaml, &len, NULL) != 0)
        return an_errorf(err, "no meta.yaml in the cached snapshot");
    char **names = NULL, **entries = NULL;
    size_t n = 0, n_explicit = 0, ne = 0;
    int rc = hub_meta_components(yaml, len, &names, &n, &n_explicit, err);
    free(yaml);
    if (rc != 0)
        return -1;
    list_names(snap, &entries, &ne);
    size_t found = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int have = component_present(snap, entries, ne, names[i]);
        found += have;
        if (i < n_explicit && !have)
            rc = an_errorf(err, "meta.yaml names %s, but there is no %s.mlmodelc nor %s.mlmodelc.zip",
                           names[i], names[i], names[i]);
    }
    if (rc == 0 && !found)
        rc = an_errorf(err, "none of the components meta.yaml names is there");
    hub_strv_free(names, n);
    hub_strv_free(entries, ne);
    return rc;
}

/* Resolve from refs/ and snapshots/ only. */
static int from_cache(const hub_env *env, const char *repo_id, const char *rev, const char *repo_dir,
                      char **out, char commit[41], an_error *err)
{
    if (hub_is_commit(rev))
        memcpy(commit, rev, 41);
    else if (hub_read_ref(repo_dir, rev, commit) != 0)
        return an_errorf(err, "%s (revision %s) is not in the cache", repo_id, rev), HUB_ERR_OFFLINE;
    char snap[PATH_MAX];
    hub_pathf(snap, sizeof snap, "%s/snapshots/%s", repo_dir, commit);
    if (!an_is_dir(snap))
        return an_errorf(err, "%s: revision %s is not in the cache", repo_id, commit), HUB_ERR_OFFLINE;
    an_error why;
    an_error_clear(&why);
    if (snapshot_complete(snap, &why) != 0)
        return an_errorf(err, "%s: the cached copy is incomplete (%s)", repo_id, why.msg), HUB_ERR_OFFLINE;
    int rc = model_dir(env, repo_id, repo_dir, commit, out, err);
    return rc;
}

/* ---- from the Hub ----------------------------------------------------------------- */

static int api_get(const hub_env *env, const char *url, hub_headers *h, char **body, size_t *len,
                   an_error *err)
{
    return hub_http_request(env, "GET", url, same_origin(url, env->endpoint), h, body, len,
                            API_MAX_BODY, err);
}

static int list_tree(const hub_env *env, const char *repo_id, const char *commit, hub_tree *tree,
                     an_error *err)
{
    char url[2048];
    hub_pathf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", env->endpoint, repo_id, commit);
    char what[256];
    hub_pathf(what, sizeof what, "listing the files of %s", repo_id);
    for (int page = 0; page < TREE_MAX_PAGES; page++) {
        hub_headers h;
        char *body = NULL;
        size_t len = 0;
        int rc = api_get(env, url, &h, &body, &len, err);
        if (rc != 0) {
            free(body);
            return rc;
        }
        if (h.status != 200) {
            free(body);
            return hub_http_error(env, &h, what, repo_id, commit, err);
        }
        rc = hub_tree_parse_json(body, len, tree, err);
        free(body);
        if (rc != 0)
            return an_error_prefix(err, "%s: page %d of the file list", repo_id, page + 1), HUB_ERR;
        if (!h.link_next[0])
            return 0;
        if (h.link_next[0] == '/') {
            char next[2048];
            hub_pathf(next, sizeof next, "%.*s%s", (int)origin_len(env->endpoint), env->endpoint,
                     h.link_next);
            hub_pathf(url, sizeof url, "%s", next);
        } else if (!strncmp(h.link_next, "http://", 7) || !strncmp(h.link_next, "https://", 8)) {
            hub_pathf(url, sizeof url, "%s", h.link_next);
        } else {
            return an_errorf(err, "%s: bad pagination link", repo_id);
        }
    }
    return an_errorf(err, "%s: more than %d pages of files", repo_id, TREE_MAX_PAGES);
}

/* HEAD the resolve URL of one file: etag, size and where to GET it. */
static int head_file(const hub_env *env, const char *repo_id, const char *repo_dir, const char *commit,
                     const hub_file *f, hub_job *job, an_error *err)
{
    char *ep = hub_url_escape(f->path, 1);
    if (!ep)
        return an_errorf(err, "out of memory");
    char url[2048 + PATH_MAX];
    hub_pathf(url, sizeof url, "%s/%s/resolve/%s/%s", env->endpoint, repo_id, commit, ep);
    free(ep);
    char what[PATH_MAX + 64];
    hub_pathf(what, sizeof what, "downloading %s from %s", f->path, repo_id);
    hub_headers h;
    int rc = hub_http_request(env, "HEAD", url, 1, &h, NULL, NULL, 0, err);
    if (rc != 0)
        return rc;
    int redirect = h.status >= 300 && h.status < 400;
    if (!(h.status / 100 == 2 || (redirect && h.location[0]))) {
        if (!strcmp(h.error_code, "EntryNotFound") && hub_is_commit(h.repo_commit))
            hub_mark_no_exist(repo_dir, h.repo_commit, f->path);
        return hub_http_error(env, &h, what, repo_id, commit, err);
    }
    if (!h.repo_commit[0])
        return an_errorf(err, "%s: the answer has no X-Repo-Commit header; is HF_ENDPOINT (%s) a Hugging Face Hub?",
                         what, env->endpoint);
    const char *etag = h.linked_etag[0] ? h.linked_etag : h.etag;
    long long size = h.linked_size >= 0 ? h.linked_size : redirect ? -1 : h.content_length;
    if (!hub_etag_valid(etag) || size < 0)
        return an_errorf(err, "%s: the Hub gave no usable ETag or size", what);
    memset(job, 0, sizeof *job);
    job->path = f->path;
    hub_pathf(job->etag, sizeof job->etag, "%s", etag);
    job->size = (unsigned long long)size;
    hub_pathf(job->url, sizeof job->url, "%s", redirect ? h.location : h.final_url);
    /* Pre-signed CDN URLs must not carry the token (PEERS.md §3.3). */
    job->send_token = same_origin(job->url, env->endpoint);
    /* Verify against the listing (what `hf cache verify` checks), whatever the etag's form. */
    hub_pathf(job->verify, sizeof job->verify, "%s", f->lfs_sha256 ? f->lfs_sha256 : f->oid);
    return 0;
}

/* Download (or link) the given tree files into snapshots/<commit>/. */
static int fetch_files(const hub_env *env, const char *repo_id, const char *repo_dir,
                       const char *commit, const hub_file **files, size_t n, an_error *err)
{
    hub_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs)
        return an_errorf(err, "out of memory");
    size_t nj = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char etag[160];
        if (hub_snapshot_etag(repo_dir, commit, files[i]->path, etag, sizeof etag) == 0)
            continue; /* already in this snapshot */
        /* Already in the cache for another snapshot: the listing names the blob. */
        const char *known = files[i]->lfs_sha256 ? files[i]->lfs_sha256 : files[i]->oid;
        char blob[PATH_MAX];
        if (hub_pathf(blob, sizeof blob, "%s/blobs/%s", repo_dir, known) > 0 && access(blob, R_OK) == 0) {
            rc = hub_link_snapshot(repo_dir, commit, files[i]->path, known, err);
            continue;
        }
        rc = head_file(env, repo_id, repo_dir, commit, files[i], &jobs[nj], err);
        if (rc == 0)
            nj++;
    }
    if (rc == 0)
        rc = hub_download_all(env, repo_dir, repo_id, commit, jobs, nj, err);
    free(jobs);
    return rc;
}

static int from_hub(const hub_env *env, const hub_options *opts, const char *repo_id, const char *rev,
                    const char *repo_dir, char **out, char commit[41], an_error *err)
{
    char what[256];
    hub_pathf(what, sizeof what, "cannot get %s", repo_id);
    char *erev = hub_url_escape(rev, 0);
    if (!erev)
        return an_errorf(err, "out of memory");
    char url[2048];
    hub_pathf(url, sizeof url, "%s/api/models/%s/revision/%s", env->endpoint, repo_id, erev);
    free(erev);
    hub_headers h;
    char *body = NULL;
    size_t len = 0;
    /* With a cached copy to fall back on, the first request is not retried: an offline
     * start must be quick (PEERS.md §5.2). */
    char cached[41];
    hub_env quick = *env;
    if (hub_is_commit(rev) || hub_read_ref(repo_dir, rev, cached) == 0)
        quick.max_retries = 0;
    int rc = api_get(&quick, url, &h, &body, &len, err);
    if (rc != 0) {
        free(body);
        return rc;
    }
    if (h.status != 200) {
        free(body);
        return hub_http_error(env, &h, what, repo_id, rev, err);
    }
    char *sha = NULL;
    rc = hub_revision_parse_json(body, len, &sha, err);
    free(body);
    if (rc != 0)
        return an_error_prefix(err, "%s: revision answer", repo_id), HUB_ERR;
    hub_pathf(commit, 41, "%s", sha);
    free(sha);
    /* refs/<rev> moves only once the snapshot is complete, so an interrupted update leaves
     * the previous revision usable offline. */
    if (hub_cache_prepare(env, repo_id, err) != 0)
        return HUB_ERR_DISK;

    hub_tree tree = {0};
    rc = list_tree(env, repo_id, commit, &tree, err);
    const hub_file **sel_files = NULL;
    unsigned char *sel = NULL;
    char **names = NULL;
    size_t n_names = 0, n_explicit = 0;
    if (rc != 0)
        goto out;
    const hub_file *meta = hub_tree_find(&tree, "meta.yaml");
    if (!meta) {
        rc = an_errorf(err, "%s: no meta.yaml at revision %s: not an ANEMLL model\n"
                            "anemone runs models converted by ANEMLL (their repos hold meta.yaml).",
                       repo_id, rev);
        goto out;
    }
    rc = fetch_files(env, repo_id, repo_dir, commit, &meta, 1, err);
    if (rc != 0)
        goto out;
    char mp[PATH_MAX];
    hub_pathf(mp, sizeof mp, "%s/snapshots/%s/meta.yaml", repo_dir, commit);
    char *yaml = NULL;
    if (an_read_file(mp, 1 << 20, &yaml, &len, err) != 0) {
        rc = HUB_ERR;
        goto out;
    }
    rc = hub_meta_components(yaml, len, &names, &n_names, &n_explicit, err);
    free(yaml);
    if (rc != 0) {
        an_error_prefix(err, "%s", repo_id);
        goto out;
    }
    sel = calloc(tree.n ? tree.n : 1, 1);
    sel_files = calloc(tree.n ? tree.n : 1, sizeof *sel_files);
    if (!sel || !sel_files) {
        rc = an_errorf(err, "out of memory");
        goto out;
    }
    hub_select_files(&tree, names, n_names, opts ? opts->include : NULL, opts ? opts->n_include : 0,
                     opts ? opts->exclude : NULL, opts ? opts->n_exclude : 0, sel);
    size_t ns = 0;
    for (size_t i = 0; i < tree.n; i++)
        if (sel[i])
            sel_files[ns++] = &tree.files[i];
    rc = fetch_files(env, repo_id, repo_dir, commit, sel_files, ns, err);
    if (rc != 0)
        goto out;
    an_error why;
    an_error_clear(&why);
    char snap[PATH_MAX];
    hub_pathf(snap, sizeof snap, "%s/snapshots/%s", repo_dir, commit);
    if (snapshot_complete(snap, &why) != 0) {
        rc = an_errorf(err, "%s: %s", repo_id, why.msg);
        goto out;
    }
    if (hub_write_ref(repo_dir, rev, commit, err) != 0) {
        rc = HUB_ERR_DISK;
        goto out;
    }
    rc = model_dir(env, repo_id, repo_dir, commit, out, err);
out:
    hub_strv_free(names, n_names);
    free(sel);
    free(sel_files);
    hub_tree_free(&tree);
    return rc;
}

int hub_resolve_model(const char *text, const hub_options *opts, char **local_dir, an_error *user_err)
{
    *local_dir = NULL;
    an_error e, *err = &e;
    an_error_clear(&e);
    hub_ref ref;
    if (hub_ref_parse(text, &ref, user_err) != 0)
        return HUB_ERR;
    if (ref.local_path) {
        *local_dir = ref.local_path;
        ref.local_path = NULL;
        hub_ref_free(&ref);
        return 0;
    }
    hub_env env;
    if (hub_env_init(&env, opts, user_err) != 0) {
        hub_ref_free(&ref);
        return HUB_ERR;
    }
    const char *rev = opts && opts->revision ? opts->revision : ref.revision ? ref.revision : "main";
    char *repo_dir = hub_repo_dir(&env, ref.repo_id);
    char commit[41] = "";
    int rc;
    if (!repo_dir) {
        rc = an_errorf(err, "out of memory");
    } else if (env.offline) {
        rc = from_cache(&env, ref.repo_id, rev, repo_dir, local_dir, commit, err);
        if (rc == 0) {
            an_warn("offline: using cached revision %.12s of %s", commit, ref.repo_id);
        } else if (rc == HUB_ERR_OFFLINE) {
            an_error why = e;
            an_errorf(err, "%s\nIt was not downloaded yet: run 'anemone pull %s%s%s' while online.",
                      why.msg, ref.repo_id, ref.revision ? "@" : "", ref.revision ? ref.revision : "");
        }
    } else if (opts && opts->prefer_cache &&
               from_cache(&env, ref.repo_id, rev, repo_dir, local_dir, commit, NULL) == 0) {
        an_info("using cached revision %.12s of %s", commit, ref.repo_id);
        rc = 0;
    } else {
        rc = from_hub(&env, opts, ref.repo_id, rev, repo_dir, local_dir, commit, err);
        int hub_side = rc == HUB_ERR_NETWORK || rc == HUB_ERR || rc == HUB_ERR_RATE ||
                       rc == HUB_ERR_GATED || rc == HUB_ERR_AUTH;
        if (rc != 0 && hub_side && !*local_dir) {
            /* The Hub is unreachable or refused: a complete cached copy is still good. */
            an_error why = *err;
            char c2[41];
            char *dir = NULL;
            if (from_cache(&env, ref.repo_id, rev, repo_dir, &dir, c2, NULL) == 0) {
                char first[AN_ERROR_MAX];
                hub_pathf(first, sizeof first, "%.*s", (int)strcspn(why.msg, "\n"), why.msg);
                an_warn("%s; using cached revision %.12s of %s", first, c2, ref.repo_id);
                *local_dir = dir;
                an_error_clear(err);
                rc = 0;
            } else if (rc == HUB_ERR_NETWORK) {
                an_errorf(err, "%s\nCheck the network (and HF_ENDPOINT); a model downloaded before "
                               "is used from the cache when the Hub cannot be reached.",
                          why.msg);
            }
        }
    }
    if (rc != 0 && *local_dir) {
        free(*local_dir);
        *local_dir = NULL;
    }
    free(repo_dir);
    hub_env_free(&env);
    hub_ref_free(&ref);
    if (user_err)
        *user_err = e;
    return rc;
}
