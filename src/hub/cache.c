/*
 * cache.c — the Hugging Face cache layout (PEERS.md §3.2), exactly as huggingface_hub
 * writes it, so either tool reads what the other wrote:
 *
 *   <cache>/CACHEDIR.TAG
 *   <cache>/.locks/models--org--name/<etag>.lock
 *   <cache>/models--org--name/{blobs/<etag>, refs/<rev>, snapshots/<commit>/<path>,
 *                              .no_exist/<commit>/<path>}
 *
 * Snapshot entries are relative symlinks into blobs/, so the cache can be moved.
 * refs are written atomically. Nothing here deletes a blob another snapshot uses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/strbuf.h"
#include "hub_internal.h"

/* Written by huggingface_hub too; the signature line is what backup tools look for. */
static const char k_cachedir_tag[] = "Signature: 8a477f597d28d172789f06886806bc55\n"
                                     "# This file is a cache directory tag created by huggingface_hub.\n"
                                     "# For information about cache directory tags, see:\n"
                                     "#\thttps://bford.info/cachedir/\n";

char *hub_repo_folder_name(const char *repo_id)
{
    an_strbuf sb;
    an_sb_init(&sb);
    an_sb_puts(&sb, "models--");
    for (const char *c = repo_id; *c; c++) {
        if (*c == '/')
            an_sb_puts(&sb, "--");
        else
            an_sb_putc(&sb, *c);
    }
    return an_sb_steal(&sb);
}

char *hub_repo_dir(const hub_env *env, const char *repo_id)
{
    char *f = hub_repo_folder_name(repo_id);
    char *d = f ? an_path_join(env->hub_cache, f) : NULL;
    free(f);
    return d;
}

int hub_cache_prepare(const hub_env *env, const char *repo_id, an_error *err)
{
    char *repo = hub_repo_dir(env, repo_id);
    char *folder = hub_repo_folder_name(repo_id);
    int rc = -1;
    char path[PATH_MAX];
    if (!repo || !folder) {
        an_errorf(err, "out of memory");
        goto out;
    }
    static const char *const sub[] = {"blobs", "snapshots", "refs", NULL};
    for (int i = 0; sub[i]; i++) {
        hub_pathf(path, sizeof path, "%s/%s", repo, sub[i]);
        if (an_mkdir_p(path, 0755, err) != 0)
            goto out;
    }
    hub_pathf(path, sizeof path, "%s/.locks/%s", env->hub_cache, folder);
    if (an_mkdir_p(path, 0755, err) != 0)
        goto out;
    hub_pathf(path, sizeof path, "%s/CACHEDIR.TAG", env->hub_cache);
    if (access(path, F_OK) != 0)
        an_write_file_atomic(path, k_cachedir_tag, sizeof k_cachedir_tag - 1, NULL);
    rc = 0;
out:
    free(repo);
    free(folder);
    return rc;
}

int hub_read_ref(const char *repo_dir, const char *rev, char commit[41])
{
    if (!hub_relpath_safe(rev))
        return -1;
    char path[PATH_MAX];
    hub_pathf(path, sizeof path, "%s/refs/%s", repo_dir, rev);
    char *buf = NULL;
    size_t len;
    if (an_read_file(path, 256, &buf, &len, NULL) != 0)
        return -1;
    size_t n = strcspn(buf, " \t\r\n");
    buf[n] = '\0';
    int ok = hub_is_commit(buf);
    if (ok)
        memcpy(commit, buf, 41);
    free(buf);
    return ok ? 0 : -1;
}

int hub_write_ref(const char *repo_dir, const char *rev, const char *commit, an_error *err)
{
    if (!hub_relpath_safe(rev) || !strcmp(rev, commit))
        return 0;
    char cur[41];
    if (hub_read_ref(repo_dir, rev, cur) == 0 && !strcmp(cur, commit))
        return 0;
    char path[PATH_MAX];
    hub_pathf(path, sizeof path, "%s/refs/%s", repo_dir, rev);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (an_mkdir_p(path, 0755, err) != 0)
        return -1;
    *slash = '/';
    /* Like huggingface_hub: the bare commit, no newline. */
    return an_write_file_atomic(path, commit, strlen(commit), err);
}

int hub_link_snapshot(const char *repo_dir, const char *commit, const char *path, const char *etag,
                      an_error *err)
{
    char link[PATH_MAX], target[PATH_MAX], tmp[PATH_MAX + 32];
    if (hub_pathf(link, sizeof link, "%s/snapshots/%s/%s", repo_dir, commit, path) >= (int)sizeof link)
        return an_errorf(err, "%s: path too long", path);
    char *slash = strrchr(link, '/');
    *slash = '\0';
    if (an_mkdir_p(link, 0755, err) != 0)
        return -1;
    *slash = '/';
    /* From snapshots/<commit>/<a/b/f> back to the repo folder: 2 + depth levels. */
    size_t w = 0;
    int up = 2;
    for (const char *c = path; *c; c++)
        up += *c == '/';
    for (int i = 0; i < up; i++)
        w += (size_t)hub_pathf(target + w, sizeof target - w, "../");
    hub_pathf(target + w, sizeof target - w, "blobs/%s", etag);
    char have[PATH_MAX];
    ssize_t hl = readlink(link, have, sizeof have - 1);
    if (hl >= 0) {
        have[hl] = '\0';
        if (!strcmp(have, target))
            return 0;
    }
    hub_pathf(tmp, sizeof tmp, "%s.%d.tmp", link, (int)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
        int e = errno;
        unlink(tmp);
        return an_errorf(err, "%s: cannot create the snapshot link: %s", link, strerror(e));
    }
    return 0;
}

int hub_mark_no_exist(const char *repo_dir, const char *commit, const char *path)
{
    char p[PATH_MAX];
    if (!hub_relpath_safe(path) ||
        hub_pathf(p, sizeof p, "%s/.no_exist/%s/%s", repo_dir, commit, path) >= (int)sizeof p)
        return -1;
    char *slash = strrchr(p, '/');
    *slash = '\0';
    if (an_mkdir_p(p, 0755, NULL) != 0)
        return -1;
    *slash = '/';
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int hub_snapshot_etag(const char *repo_dir, const char *commit, const char *path, char *etag,
                      size_t etagsz)
{
    char p[PATH_MAX], t[PATH_MAX];
    hub_pathf(p, sizeof p, "%s/snapshots/%s/%s", repo_dir, commit, path);
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n < 0)
        return -1;
    t[n] = '\0';
    const char *b = strstr(t, "blobs/");
    if (!b || strchr(b + 6, '/') || strlen(b + 6) >= etagsz)
        return -1;
    strcpy(etag, b + 6);
    return access(p, R_OK) == 0 ? 0 : -1; /* the blob must exist too */
}

static int rm_rf_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            rc |= rm_rf_at(fd, e->d_name);
    closedir(d);
    return unlinkat(dirfd, name, AT_REMOVEDIR) | rc;
}

int hub_rm_rf(const char *path)
{
    return rm_rf_at(AT_FDCWD, path);
}

/* ---- listing and removal --------------------------------------------------------- */

typedef struct strset {
    char **v;
    size_t n;
} strset;

static int set_has(const strset *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x))
            return 1;
    return 0;
}

static void set_add(strset *s, const char *x)
{
    if (set_has(s, x))
        return;
    char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv)
        return;
    s->v = nv;
    if ((nv[s->n] = strdup(x)))
        s->n++;
}

static void set_free(strset *s)
{
    hub_strv_free(s->v, s->n);
    s->v = NULL;
    s->n = 0;
}

/* Blob names every symlink below dir points to. */
static void collect_blobs(const char *dir, strset *out, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 32) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[PATH_MAX], t[PATH_MAX];
        hub_pathf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            collect_blobs(p, out, depth + 1);
        } else if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(p, t, sizeof t - 1);
            if (n < 0)
                continue;
            t[n] = '\0';
            const char *b = strstr(t, "blobs/");
            if (b && !strchr(b + 6, '/'))
                set_add(out, b + 6);
        }
    }
    closedir(d);
}

static unsigned long long blobs_size(const char *repo_dir, const strset *blobs)
{
    unsigned long long total = 0;
    for (size_t i = 0; i < blobs->n; i++) {
        char p[PATH_MAX];
        struct stat st;
        hub_pathf(p, sizeof p, "%s/blobs/%s", repo_dir, blobs->v[i]);
        if (stat(p, &st) == 0)
            total += (unsigned long long)st.st_size;
    }
    return total;
}

static void list_dir(const char *dir, strset *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            set_add(out, e->d_name);
    closedir(d);
}

/* Names in refs/ (recursively, "pr/1") whose commit is the given one. */
static void refs_to(const char *repo_dir, const char *sub, const char *commit, an_strbuf *out)
{
    char dir[PATH_MAX];
    hub_pathf(dir, sizeof dir, "%s/refs%s%s", repo_dir, *sub ? "/" : "", sub);
    strset names = {0};
    list_dir(dir, &names);
    for (size_t i = 0; i < names.n; i++) {
        char rel[PATH_MAX], c[41];
        hub_pathf(rel, sizeof rel, "%s%s%s", sub, *sub ? "/" : "", names.v[i]);
        char full[PATH_MAX];
        hub_pathf(full, sizeof full, "%s/%s", dir, names.v[i]);
        if (an_is_dir(full)) {
            refs_to(repo_dir, rel, commit, out);
        } else if (hub_read_ref(repo_dir, rel, c) == 0 && !strcmp(c, commit)) {
            if (out->len)
                an_sb_putc(out, ',');
            an_sb_puts(out, rel);
        }
    }
    set_free(&names);
}

static char *repo_id_of_folder(const char *folder)
{
    if (strncmp(folder, "models--", 8) != 0)
        return NULL;
    const char *sep = strstr(folder + 8, "--");
    if (!sep)
        return NULL;
    char *id = malloc(strlen(folder));
    if (!id)
        return NULL;
    sprintf(id, "%.*s/%s", (int)(sep - folder - 8), folder + 8, sep + 2);
    return id;
}

static int cmp_models(const void *a, const void *b)
{
    const hub_cached_model *x = a, *y = b;
    int c = strcmp(x->repo_id, y->repo_id);
    return c ? c : (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

int hub_list_cached(const hub_options *opts, hub_cached_model **out, size_t *n, an_error *err)
{
    *out = NULL;
    *n = 0;
    hub_env env;
    if (hub_env_init(&env, opts, err) != 0)
        return -1;
    strset repos = {0};
    list_dir(env.hub_cache, &repos);
    size_t cap = 0;
    for (size_t r = 0; r < repos.n; r++) {
        char *id = repo_id_of_folder(repos.v[r]);
        if (!id)
            continue;
        char repo_dir[PATH_MAX], snaps[PATH_MAX];
        hub_pathf(repo_dir, sizeof repo_dir, "%s/%s", env.hub_cache, repos.v[r]);
        hub_pathf(snaps, sizeof snaps, "%s/snapshots", repo_dir);
        strset commits = {0};
        list_dir(snaps, &commits);
        for (size_t c = 0; c < commits.n; c++) {
            char sdir[PATH_MAX], meta[PATH_MAX + 16];
            hub_pathf(sdir, sizeof sdir, "%s/%s", snaps, commits.v[c]);
            hub_pathf(meta, sizeof meta, "%s/meta.yaml", sdir);
            struct stat st;
            if (!an_is_file(meta) || stat(sdir, &st) != 0)
                continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                hub_cached_model *nm = realloc(*out, cap * sizeof *nm);
                if (!nm)
                    break;
                *out = nm;
            }
            hub_cached_model *m = &(*out)[(*n)++];
            strset blobs = {0};
            collect_blobs(sdir, &blobs, 0);
            an_strbuf refs;
            an_sb_init(&refs);
            refs_to(repo_dir, "", commits.v[c], &refs);
            m->repo_id = strdup(id);
            m->commit = strdup(commits.v[c]);
            m->refs = an_sb_steal(&refs);
            m->size = blobs_size(repo_dir, &blobs);
            m->mtime = (long long)st.st_mtime;
            set_free(&blobs);
        }
        set_free(&commits);
        free(id);
    }
    set_free(&repos);
    hub_env_free(&env);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_models);
    return 0;
}

void hub_cached_models_free(hub_cached_model *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].repo_id);
        free(m[i].commit);
        free(m[i].refs);
    }
    free(m);
}

/* ---- removal ---------------------------------------------------------------------- */

int hub_plan_removal(const char *text, const hub_options *opts, hub_removal *plan, an_error *err)
{
    memset(plan, 0, sizeof *plan);
    hub_ref ref;
    /* Parse as a repo id even when a local path of that name exists. */
    char *t = strncmp(text, "hf://", 5) ? NULL : strdup(text);
    if (!t) {
        size_t n = strlen(text) + 6;
        t = malloc(n);
        if (t)
            hub_pathf(t, n, "hf://%s", text);
    }
    int rc = t ? hub_ref_parse(t, &ref, err) : an_errorf(err, "out of memory");
    free(t);
    if (rc != 0)
        return HUB_ERR;
    const char *rev = opts && opts->revision ? opts->revision : ref.revision;
    hub_env env;
    if (hub_env_init(&env, opts, err) != 0) {
        hub_ref_free(&ref);
        return HUB_ERR;
    }
    char *repo_dir = hub_repo_dir(&env, ref.repo_id);
    char snaps[PATH_MAX];
    hub_pathf(snaps, sizeof snaps, "%s/snapshots", repo_dir ? repo_dir : "");
    strset all = {0}, del = {0}, keep_blobs = {0}, del_blobs = {0};
    list_dir(snaps, &all);
    rc = HUB_ERR_NOT_FOUND;
    if (!repo_dir || !an_is_dir(repo_dir)) {
        an_errorf(err, "%s is not in the cache (%s)", ref.repo_id, env.hub_cache);
        goto out;
    }
    if (rev) {
        char commit[41];
        if (hub_is_commit(rev))
            hub_pathf(commit, sizeof commit, "%s", rev);
        else if (hub_read_ref(repo_dir, rev, commit) != 0) {
            an_errorf(err, "%s: no cached revision '%s'", ref.repo_id, rev);
            goto out;
        }
        if (!set_has(&all, commit)) {
            an_errorf(err, "%s: revision %s is not in the cache", ref.repo_id, commit);
            goto out;
        }
        set_add(&del, commit);
    } else {
        for (size_t i = 0; i < all.n; i++)
            set_add(&del, all.v[i]);
    }
    for (size_t i = 0; i < all.n; i++) {
        char d[PATH_MAX];
        hub_pathf(d, sizeof d, "%s/%s", snaps, all.v[i]);
        collect_blobs(d, set_has(&del, all.v[i]) ? &del_blobs : &keep_blobs, 0);
    }
    plan->whole_repo = del.n == all.n;
    if (plan->whole_repo) {
        /* Everything in blobs/ goes, referenced or not (leftover .incomplete files too). */
        char b[PATH_MAX];
        hub_pathf(b, sizeof b, "%s/blobs", repo_dir);
        set_free(&del_blobs);
        list_dir(b, &del_blobs);
    }
    strset freed = {0};
    for (size_t i = 0; i < del_blobs.n; i++)
        if (!set_has(&keep_blobs, del_blobs.v[i]))
            set_add(&freed, del_blobs.v[i]);
    plan->bytes = blobs_size(repo_dir, &freed);
    plan->n_blobs = freed.n;
    set_free(&freed);
    plan->repo_id = strdup(ref.repo_id);
    plan->commits = del.v;
    plan->n_commits = del.n;
    del.v = NULL;
    del.n = 0;
    rc = 0;
out:
    set_free(&all);
    set_free(&del);
    set_free(&keep_blobs);
    set_free(&del_blobs);
    free(repo_dir);
    hub_env_free(&env);
    hub_ref_free(&ref);
    return rc;
}

void hub_removal_free(hub_removal *plan)
{
    free(plan->repo_id);
    hub_strv_free(plan->commits, plan->n_commits);
    memset(plan, 0, sizeof *plan);
}

/* Remove refs naming a deleted commit. */
static void drop_refs(const char *repo_dir, const char *commit)
{
    an_strbuf refs;
    an_sb_init(&refs);
    refs_to(repo_dir, "", commit, &refs);
    char *save = NULL;
    for (char *r = strtok_r(refs.buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        char p[PATH_MAX];
        hub_pathf(p, sizeof p, "%s/refs/%s", repo_dir, r);
        unlink(p);
    }
    an_sb_free(&refs);
}

int hub_remove(const hub_removal *plan, const hub_options *opts, an_error *err)
{
    hub_env env;
    if (hub_env_init(&env, opts, err) != 0)
        return HUB_ERR;
    char *repo_dir = hub_repo_dir(&env, plan->repo_id);
    char *folder = hub_repo_folder_name(plan->repo_id);
    int rc = 0;
    if (!repo_dir || !folder) {
        rc = an_errorf(err, "out of memory");
        goto out;
    }
    char p[PATH_MAX];
    strset del_blobs = {0}, keep_blobs = {0}, all = {0};
    hub_pathf(p, sizeof p, "%s/snapshots", repo_dir);
    list_dir(p, &all);
    for (size_t i = 0; i < all.n; i++) {
        int gone = 0;
        for (size_t k = 0; k < plan->n_commits; k++)
            gone |= !strcmp(all.v[i], plan->commits[k]);
        hub_pathf(p, sizeof p, "%s/snapshots/%s", repo_dir, all.v[i]);
        collect_blobs(p, gone ? &del_blobs : &keep_blobs, 0);
    }
    if (plan->whole_repo) {
        hub_pathf(p, sizeof p, "%s/blobs", repo_dir);
        list_dir(p, &del_blobs);
    }
    /* anemone's own copies first (unzipped components, model directories), then the HF side. */
    for (size_t i = 0; i < del_blobs.n; i++) {
        if (set_has(&keep_blobs, del_blobs.v[i]) || !hub_etag_valid(del_blobs.v[i]))
            continue;
        hub_pathf(p, sizeof p, "%s/unzipped/%s", env.anemone_cache, del_blobs.v[i]);
        hub_rm_rf(p);
    }
    for (size_t k = 0; k < plan->n_commits; k++) {
        hub_pathf(p, sizeof p, "%s/models/%s/%s", env.anemone_cache, folder, plan->commits[k]);
        hub_rm_rf(p);
    }
    if (plan->whole_repo) {
        hub_pathf(p, sizeof p, "%s/models/%s", env.anemone_cache, folder);
        hub_rm_rf(p);
        hub_pathf(p, sizeof p, "%s/.locks/%s", env.hub_cache, folder);
        hub_rm_rf(p);
        if (hub_rm_rf(repo_dir) != 0)
            rc = an_errorf(err, "%s: could not remove everything: %s", repo_dir, strerror(errno));
    } else {
        for (size_t k = 0; k < plan->n_commits; k++) {
            drop_refs(repo_dir, plan->commits[k]);
            hub_pathf(p, sizeof p, "%s/snapshots/%s", repo_dir, plan->commits[k]);
            if (hub_rm_rf(p) != 0)
                rc = an_errorf(err, "%s: could not remove: %s", p, strerror(errno));
            hub_pathf(p, sizeof p, "%s/.no_exist/%s", repo_dir, plan->commits[k]);
            hub_rm_rf(p);
        }
        for (size_t i = 0; i < del_blobs.n; i++) {
            if (set_has(&keep_blobs, del_blobs.v[i]))
                continue;
            hub_pathf(p, sizeof p, "%s/blobs/%s", repo_dir, del_blobs.v[i]);
            unlink(p);
        }
    }
    set_free(&del_blobs);
    set_free(&keep_blobs);
    set_free(&all);
out:
    free(repo_dir);
    free(folder);
    hub_env_free(&env);
    return rc;
}
