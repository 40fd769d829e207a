/*
 * hub_internal.h — what the files of src/hub share; not for use outside this folder
 * (except the fuzz targets and unit tests, which exercise the pure parsers).
 */
#ifndef HUB_INTERNAL_H
#define HUB_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "hub.h"

/* snprintf that reports truncation (-1) instead of warning about it at compile time;
 * paths built with it are checked where truncation would matter. */
int hub_pathf(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- environment (env.c) ------------------------------------------------------------ */

/* Everything the environment and the options decide, resolved once per call. */
typedef struct hub_env {
    char *hub_cache;     /* HF hub cache root */
    char *hf_home;
    char *endpoint;      /* no trailing '/' */
    char *token;         /* NULL when none */
    char *anemone_cache; /* anemone's own cache root */
    int offline;
    int progress;        /* 1: draw progress on stderr */
    long etag_timeout_s;    /* HF_HUB_ETAG_TIMEOUT: metadata requests */
    long stall_timeout_s;   /* HF_HUB_DOWNLOAD_TIMEOUT: no byte for this long = stalled */
    long retry_base_ms;     /* ANEMONE_HUB_RETRY_BASE_MS: first back-off (doubles, capped x8) */
    int max_retries;        /* consecutive failures tolerated per request */
    int parallel;           /* downloads at once */
} hub_env;

int hub_env_init(hub_env *env, const hub_options *opts, an_error *err);
void hub_env_free(hub_env *env);
int hub_env_bool(const char *name); /* 1/ON/YES/TRUE, case-insensitive */

/* A parsed MODEL reference: either local_path, or repo_id (+ revision, maybe NULL). */
typedef struct hub_ref {
    char *local_path; /* a directory holding meta.yaml */
    char *repo_id;
    char *revision;
} hub_ref;

int hub_ref_parse(const char *text, hub_ref *ref, an_error *err);
void hub_ref_free(hub_ref *ref);
int hub_repo_id_valid(const char *id);
int hub_is_commit(const char *rev); /* 40 lowercase hex */

/* ---- pure parsers (parse.c): no I/O, safe on any bytes ------------------------------ */

/* Remove a leading W/ and surrounding quotes. out must hold strlen(in)+1. */
void hub_etag_normalize(const char *in, char *out, size_t outsz);
/* 1 when the etag is safe as a file name: 1..128 chars of [0-9a-zA-Z-_.] not starting with '.' */
int hub_etag_valid(const char *etag);

typedef struct hub_headers {
    long status;
    char etag[160];
    char linked_etag[160];
    long long linked_size;    /* -1 when absent */
    long long content_length; /* -1 when absent */
    char location[2048];
    char repo_commit[64];
    char error_code[64];
    char error_message[256];
    long retry_after;         /* seconds, -1 when absent */
    long long range_start;    /* first byte of a Content-Range answer, -1 when absent */
    char link_next[2048];
    char request_id[128];
    char final_url[2048];     /* set by hub_http_request: the URL after relative redirects */
} hub_headers;

void hub_headers_reset(hub_headers *h);
/* Feed one raw header line (as libcurl gives it, CRLF included or not). A status line
 * starts a new response and resets the fields. */
void hub_headers_feed(hub_headers *h, const char *line, size_t len);
/* The URL of rel="next" in a Link header value, copied into out; 0 when found. */
int hub_link_next(const char *value, char *out, size_t outsz);

/* One file of a repository listing. */
typedef struct hub_file {
    char *path;
    unsigned long long size; /* of the real content (the LFS size for LFS files) */
    char *oid;               /* git blob sha1 (40 hex) */
    char *lfs_sha256;        /* NULL for non-LFS files */
} hub_file;

typedef struct hub_tree {
    hub_file *files;
    size_t n, cap;
} hub_tree;

/* Append the file entries of one tree-API page (a JSON array) to t; directories are
 * skipped, unsafe paths refused. */
int hub_tree_parse_json(const char *json, size_t len, hub_tree *t, an_error *err);
/* The "sha" of a /api/models/{id}/revision/{rev} answer (malloc'd). */
int hub_revision_parse_json(const char *json, size_t len, char **sha, an_error *err);
void hub_tree_free(hub_tree *t);
const hub_file *hub_tree_find(const hub_tree *t, const char *path);

/* A relative path that stays inside its root: not empty, not absolute, no "." or ".."
 * component, no backslash, no control characters. A trailing '/' is allowed. */
int hub_relpath_safe(const char *p);

/* Python fnmatchcase semantics as huggingface_hub uses them: '*' also matches '/', a
 * pattern ending in '/' matches everything below. */
int hub_glob_match(const char *pattern, const char *path);

/* The component base names ("qwen_embeddings", without ".mlmodelc") that a meta.yaml
 * names, explicit keys first, then the names ANEMLL rebuilds from prefix and LUT bits.
 * *names is a malloc'd array of malloc'd strings. */
int hub_meta_components(const char *yaml, size_t len, char ***names, size_t *n, size_t *n_explicit,
                        an_error *err);
void hub_strv_free(char **v, size_t n);

/* Which tree files a model needs: meta.yaml, the named components (as X.mlmodelc.zip or
 * X.mlmodelc/...), tokenizer and config files, plus --include matches, minus --exclude.
 * sel[i] is set to 1 for each selected file. */
void hub_select_files(const hub_tree *t, char *const *components, size_t n_comp,
                      const char *const *include, size_t n_include, const char *const *exclude,
                      size_t n_exclude, unsigned char *sel);

/* ---- cache layout (cache.c) --------------------------------------------------------- */

/* "models--org--name" (malloc'd). */
char *hub_repo_folder_name(const char *repo_id);
/* <hub_cache>/models--org--name (malloc'd). */
char *hub_repo_dir(const hub_env *env, const char *repo_id);
int hub_cache_prepare(const hub_env *env, const char *repo_id, an_error *err);
/* refs/<rev> → commit; 0 when found. */
int hub_read_ref(const char *repo_dir, const char *rev, char commit[41]);
int hub_write_ref(const char *repo_dir, const char *rev, const char *commit, an_error *err);
/* snapshots/<commit>/<path> → ../../blobs/<etag> (one more ../ per directory level). */
int hub_link_snapshot(const char *repo_dir, const char *commit, const char *path, const char *etag,
                      an_error *err);
int hub_mark_no_exist(const char *repo_dir, const char *commit, const char *path);
/* Blob name a snapshot entry points to (the etag), when it is a symlink into blobs/. */
int hub_snapshot_etag(const char *repo_dir, const char *commit, const char *path, char *etag,
                      size_t etagsz);

/* ---- HTTP (http.c) ------------------------------------------------------------------ */

void hub_curl_init(void);
char *hub_url_escape(const char *s, int keep_slash); /* malloc'd */
const char *hub_user_agent(void);

/* One metadata or API request, with retries on 408/429/5xx and network errors.
 * method "GET" or "HEAD". body (GET) is malloc'd and capped at max_body bytes.
 * Relative redirects are followed; an absolute one is returned in h->location.
 * Returns 0 when a response arrived (any status), HUB_ERR_NETWORK when none did. */
int hub_http_request(const hub_env *env, const char *method, const char *url, int with_token,
                     hub_headers *h, char **body, size_t *body_len, size_t max_body, an_error *err);

/* Turn a non-2xx response into a status and a message naming what and why, with advice. */
int hub_http_error(const hub_env *env, const hub_headers *h, const char *what,
                   const char *repo_id, const char *revision, an_error *err);

/* Sleep for a retry: Retry-After when given, else base * 2^attempt (capped at x8). */
void hub_backoff_sleep(const hub_env *env, int attempt, long retry_after);
long hub_backoff_ms(const hub_env *env, int attempt, long retry_after);

/* ---- downloads (download.c) --------------------------------------------------------- */

typedef struct hub_job {
    const char *path;            /* path in the repo */
    char etag[160];              /* blob name: sha256 (LFS) or git sha1 */
    char verify[72];             /* the checksum the content must have (from the tree:
                                  * lfs sha256, else the git blob sha1); "" = the etag's */
    unsigned long long size;
    char url[2048];              /* where to GET (the resolve URL or the CDN's) */
    int send_token;              /* same host as the Hub */
    int done;
} hub_job;

/* Download every job into <repo_dir>/blobs/<etag> (resuming, verifying, at most
 * env->parallel at once) and link it into snapshots/<commit>/. */
int hub_download_all(const hub_env *env, const char *repo_dir, const char *repo_id,
                     const char *commit, hub_job *jobs, size_t n, an_error *err);

/* Whether data hashes to the etag: sha256 for 64 hex, git blob sha1 for 40 hex. */
int hub_etag_kind(const char *etag); /* 2 sha256, 1 git sha1, 0 unverifiable */

/* ---- zips (zip.c) ------------------------------------------------------------------- */

/* Extract zip_path into dest (atomically: a temp dir then rename). Refuses absolute
 * paths, "..", and symlinks that point outside. */
int hub_zip_extract(const char *zip_path, const char *dest, an_error *err);
/* A symlink entry `name` → `target` stays inside the root (lexically). */
int hub_zip_link_safe(const char *name, const char *target);

/* ---- removal and listing helpers (cache.c) ------------------------------------------ */
int hub_rm_rf(const char *path);

#endif
