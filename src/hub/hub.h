/*
 * hub.h — Hugging Face models on this machine: references, the standard cache, downloads.
 *
 * The one call most code needs is hub_resolve_model(): give it what the user typed as
 * MODEL and it returns a local directory whose meta.yaml names components that exist
 * beside it (`X.mlmodelc` directories) and holds the tokenizer files. It downloads what
 * is missing into the Hugging Face cache (shared with `hf download`), or, offline, uses
 * what is cached.
 *
 *   hub_options o = HUB_OPTIONS_INIT;      // everything from the environment
 *   char *dir = NULL;
 *   if (hub_resolve_model("anemll/anemll-Qwen3-0.6B", &o, &dir, &err) != 0) { ... }
 *   ... open dir/meta.yaml ...
 *   free(dir);
 *
 * MODEL references: a local directory holding meta.yaml, a path to a meta.yaml,
 * `org/name`, `org/name@rev`, `hf://org/name[@rev]` (a revision with '/' may be
 * written with %2F). A local path wins when it exists.
 *
 * Where files go (see README.md of this folder):
 *   $HF_HUB_CACHE (default $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/...)
 *       models--org--name/{blobs,snapshots,refs,.no_exist}, .locks/, CACHEDIR.TAG —
 *       the layout huggingface_hub reads and writes.
 *   $ANEMONE_CACHE (default $XDG_CACHE_HOME/anemone, ~/.cache/anemone)
 *       unzipped/<etag>/        the contents of one `.mlmodelc.zip` blob, extracted once
 *       models/models--org--name/<commit>/   the model directory returned for repos that
 *           ship zips: symlinks to the snapshot's files and to the unzipped components.
 *   For repos that ship `.mlmodelc` directories, the snapshot directory itself is returned.
 *
 * Errors: functions return 0 on success and a negative hub_status otherwise, with err
 * filled. The message is "what failed: why", optionally followed by '\n' and one line of
 * advice for the user (the gated-access URL, the pull command, when to retry).
 *
 * Thread-safety: each call is independent; calls may run concurrently on different
 * models (libcurl's global init happens once, under a pthread_once). Processes may run
 * concurrently on the same cache: blobs are written under an exclusive flock.
 */
#ifndef HUB_H
#define HUB_H

#include <stddef.h>

#include "common/error.h"

typedef enum hub_status {
    HUB_OK = 0,
    HUB_ERR = -1,           /* anything else: bad input, I/O, protocol */
    HUB_ERR_NOT_FOUND = -2, /* repository (or private without a token), revision or file */
    HUB_ERR_GATED = -3,     /* the repo needs its licence accepted */
    HUB_ERR_AUTH = -4,      /* token refused */
    HUB_ERR_RATE = -5,      /* still rate limited after the retries */
    HUB_ERR_OFFLINE = -6,   /* offline (or unreachable) and not cached */
    HUB_ERR_NETWORK = -7,   /* the Hub could not be reached, nothing cached */
    HUB_ERR_DISK = -8,      /* disk full or not writable */
    HUB_ERR_VERIFY = -9,    /* downloaded bytes did not match their checksum */
    HUB_ERR_UNSAFE = -10,   /* an archive tried to write outside its directory */
} hub_status;

typedef struct hub_options {
    const char *revision;             /* overrides an @rev in the reference; NULL: from it, else "main" */
    const char *cache_dir;            /* the HF hub cache; NULL: from the environment */
    const char *token;                /* NULL: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, token file */
    int offline;                      /* 1: no network at all (HF_HUB_OFFLINE also turns it on) */
    int prefer_cache;                 /* 1: a complete cached snapshot is used without asking the Hub */
    const char *const *include;       /* extra globs to fetch ('*' matches '/'), n_include of them */
    size_t n_include;
    const char *const *exclude;       /* globs never fetched */
    size_t n_exclude;
    int progress;                     /* -1: when stderr is a terminal and not disabled; 0 off; 1 on */
} hub_options;

#define HUB_OPTIONS_INIT {NULL, NULL, NULL, 0, 0, NULL, 0, NULL, 0, -1}

/* Resolve MODEL to a local model directory (malloc'd, caller frees *local_dir),
 * downloading what is missing unless offline. */
int hub_resolve_model(const char *ref, const hub_options *opts, char **local_dir, an_error *err);

/* One cached model, for `anemone ls`. */
typedef struct hub_cached_model {
    char *repo_id;       /* "org/name" */
    char *commit;        /* 40 hex */
    char *refs;          /* names pointing at it, comma-separated ("main"), or "" */
    unsigned long long size; /* bytes of the distinct blobs the snapshot uses */
    long long mtime;     /* last modification of the snapshot (Unix seconds) */
} hub_cached_model;

/* Every snapshot in the cache that holds a meta.yaml, sorted by repo then time.
 * Caller frees with hub_cached_models_free. A missing cache is an empty list. */
int hub_list_cached(const hub_options *opts, hub_cached_model **out, size_t *n, an_error *err);
void hub_cached_models_free(hub_cached_model *m, size_t n);

/* What hub_remove would delete: the snapshots of MODEL (all, or the one its @rev names),
 * how many blobs only they use and the bytes freed. */
typedef struct hub_removal {
    char *repo_id;
    char **commits;       /* snapshots to delete */
    size_t n_commits;
    size_t n_blobs;       /* blobs no remaining snapshot uses */
    unsigned long long bytes;
    int whole_repo;       /* no snapshot remains: the repo folder goes */
} hub_removal;

int hub_plan_removal(const char *ref, const hub_options *opts, hub_removal *plan, an_error *err);
/* Delete what the plan lists (and anemone's unzipped copies of the freed blobs). */
int hub_remove(const hub_removal *plan, const hub_options *opts, an_error *err);
void hub_removal_free(hub_removal *plan);

#endif
