/*
 * download.c — blobs that arrive whole or not at all.
 *
 * Each file downloads into blobs/<etag>.incomplete, a deterministic name, under an
 * exclusive flock on .locks/<repo>/<etag>.lock, so a later run (after Ctrl-C, kill -9,
 * a dropped connection) resumes it with Range. The invariant: a file named
 * blobs/<etag> always holds content whose checksum is <etag>:
 *   - every byte written is hashed (sha256 for LFS etags, git's blob sha1 otherwise),
 *     including the bytes kept from an earlier run, which are re-read and re-hashed;
 *   - a resumed request must answer 206; a 200 means start over from byte 0;
 *   - at the expected size the digest must equal the etag before the rename; if it
 *     does not, the partial file is discarded (and a resumed one downloaded afresh once).
 * Up to env->parallel transfers run at once on one libcurl multi handle; 408/429/5xx,
 * network errors and stalls (no byte for HF_HUB_DOWNLOAD_TIMEOUT) are retried with
 * back-off, the failure count resetting whenever bytes arrive.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "hub_internal.h"

enum { ST_LOCK, ST_READY, ST_RUNNING, ST_WAIT, ST_DONE, ST_FAILED };

typedef struct dl {
    hub_job *job;
    int state;
    int lock_fd, fd;
    unsigned long long have;      /* bytes in the .incomplete file */
    unsigned long long shown;     /* bytes shown by the progress display (never decreases) */
    unsigned long long got_now;   /* bytes received during this attempt */
    unsigned long long resumed_from;
    int fresh_retry_done;         /* a resumed file failed verification and was restarted */
    EVP_MD_CTX *md;
    int kind;
    CURL *easy;
    struct curl_slist *hdrs;
    hub_headers h;
    int checked_status, body_ok, oversize, bad_range, write_errno;
    int fails;
    double wake;
    char incomplete[PATH_MAX], blob[PATH_MAX], lock[PATH_MAX];
} dl;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int hub_etag_kind(const char *etag)
{
    size_t n = strlen(etag);
    if (n != 64 && n != 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((etag[i] >= '0' && etag[i] <= '9') || (etag[i] >= 'a' && etag[i] <= 'f')))
            return 0;
    return n == 64 ? 2 : 1;
}

/* Start the digest from scratch (git blob sha1 hashes a "blob <size>\0" header first). */
static int hash_reset(dl *d)
{
    if (!d->kind)
        return 0;
    if (!d->md && !(d->md = EVP_MD_CTX_new()))
        return -1;
    if (!EVP_DigestInit_ex(d->md, d->kind == 2 ? EVP_sha256() : EVP_sha1(), NULL))
        return -1;
    if (d->kind == 1) {
        char hdr[40];
        int n = hub_pathf(hdr, sizeof hdr, "blob %llu", d->job->size);
        EVP_DigestUpdate(d->md, hdr, (size_t)n + 1);
    }
    return 0;
}

static int hash_matches(dl *d)
{
    if (!d->kind)
        return 1; /* an etag that is no checksum: the size check is all there is */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (!EVP_DigestFinal_ex(d->md, md, &len))
        return 0;
    for (unsigned i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    return strcmp(hex, d->job->verify[0] ? d->job->verify : d->job->etag) == 0;
}

static void release(dl *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* closing drops the flock */
    d->lock_fd = -1;
}

static int truncate_to_zero(dl *d)
{
    if (ftruncate(d->fd, 0) != 0)
        return -1;
    d->have = 0;
    d->resumed_from = 0;
    return hash_reset(d);
}

/* With the lock held: open the partial file and re-hash what it already holds. */
static int open_partial(dl *d, an_error *err)
{
    d->fd = open(d->incomplete, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (d->fd < 0)
        return an_errorf(err, "%s: cannot open: %s", d->incomplete, strerror(errno));
    struct stat st;
    if (fstat(d->fd, &st) != 0)
        return an_errorf(err, "%s: %s", d->incomplete, strerror(errno));
    d->have = (unsigned long long)st.st_size;
    if (hash_reset(d) != 0)
        return an_errorf(err, "out of memory");
    if (d->have > d->job->size)
        return truncate_to_zero(d) == 0 ? 0 : an_errorf(err, "%s: %s", d->incomplete, strerror(errno));
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = d->have ? malloc(CHUNK) : NULL;
    if (d->have && !buf)
        return an_errorf(err, "out of memory");
    for (unsigned long long off = 0; off < d->have;) {
        ssize_t r = pread(d->fd, buf, CHUNK, (off_t)off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            free(buf);
            return truncate_to_zero(d) == 0 ? 0 : an_errorf(err, "%s: %s", d->incomplete, strerror(errno));
        }
        if (d->kind)
            EVP_DigestUpdate(d->md, buf, (size_t)r);
        off += (unsigned long long)r;
    }
    free(buf);
    d->resumed_from = d->have;
    if (d->have)
        an_info("resuming %s at %llu of %llu bytes", d->job->path, d->have, d->job->size);
    return 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    hub_headers_feed(&((dl *)ud)->h, data, size * nmemb);
    return size * nmemb;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    dl *d = ud;
    size_t n = size * nmemb;
    if (!d->checked_status) {
        d->checked_status = 1;
        long code = 0;
        curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
        d->h.status = code;
        if (code == 206 && d->have > 0) {
            if (d->h.range_start != (long long)d->have) {
                d->bad_range = 1; /* not the bytes that follow ours */
                return 0;
            }
            d->body_ok = 1;
        } else if (code == 200) {
            /* Range ignored (or not asked): the body starts at byte 0. */
            if (d->have > 0 && truncate_to_zero(d) != 0) {
                d->write_errno = errno;
                return 0;
            }
            d->body_ok = 1;
        }
    }
    if (!d->body_ok)
        return n; /* an error page: dropped */
    if (d->have + n > d->job->size) {
        d->oversize = 1;
        return 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = pwrite(d->fd, data + off, n - off, (off_t)(d->have + off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            d->write_errno = errno;
            /* Keep the file equal to what was hashed: drop a partly written chunk. */
            if (ftruncate(d->fd, (off_t)d->have) != 0)
                d->have = 0;
            return 0;
        }
        off += (size_t)w;
    }
    if (d->kind)
        EVP_DigestUpdate(d->md, data, n);
    d->have += n;
    d->got_now += n;
    if (d->have > d->shown)
        d->shown = d->have;
    return n;
}

static int try_lock(dl *d, an_error *err)
{
    if (d->lock_fd < 0) {
        d->lock_fd = open(d->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (d->lock_fd < 0)
            return an_errorf(err, "%s: cannot open the lock: %s", d->lock, strerror(errno));
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK || errno == EINTR)
            return 1;
        return an_errorf(err, "%s: cannot lock: %s", d->lock, strerror(errno));
    }
    return 0;
}

static int start(CURLM *multi, const hub_env *env, dl *d, an_error *err)
{
    if (!d->easy && !(d->easy = curl_easy_init()))
        return an_errorf(err, "out of memory");
    curl_easy_reset(d->easy);
    curl_slist_free_all(d->hdrs);
    d->hdrs = curl_slist_append(NULL, "Accept-Encoding: identity");
    char line[256];
    if (d->have > 0) {
        hub_pathf(line, sizeof line, "Range: bytes=%llu-", d->have);
        d->hdrs = curl_slist_append(d->hdrs, line);
    }
    if (d->job->send_token && env->token) {
        size_t n = strlen(env->token) + 32;
        char *auth = malloc(n);
        if (auth) {
            hub_pathf(auth, n, "Authorization: Bearer %s", env->token);
            d->hdrs = curl_slist_append(d->hdrs, auth);
            memset(auth, 0, n);
            free(auth);
        }
    }
    hub_headers_reset(&d->h);
    d->checked_status = d->body_ok = d->oversize = d->bad_range = d->write_errno = 0;
    d->got_now = 0;
    CURL *c = d->easy;
    curl_easy_setopt(c, CURLOPT_URL, d->job->url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, hub_user_agent());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, d->hdrs);
    /* The URL is the final one from the HEAD request: nothing is followed, so a token
     * can never travel to a host it was not meant for. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, env->etag_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, env->stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_PRIVATE, d);
    if (curl_multi_add_handle(multi, c) != CURLM_OK)
        return an_errorf(err, "cannot start the transfer of %s", d->job->path);
    d->state = ST_RUNNING;
    return 0;
}

/* The bytes are all there and hash to the etag: move them into place and link. */
static int finish(const hub_env *env, const char *repo_dir, const char *commit, dl *d, an_error *err)
{
    (void)env;
    /* The permissions are the umask's: the partial file was created with 0666. */
    if (fsync(d->fd) != 0)
        return an_errorf(err, "%s: cannot flush: %s", d->incomplete, strerror(errno));
    if (rename(d->incomplete, d->blob) != 0)
        return an_errorf(err, "%s: cannot rename into place: %s", d->blob, strerror(errno));
    char dir[PATH_MAX];
    hub_pathf(dir, sizeof dir, "%s/blobs", repo_dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    release(d);
    d->state = ST_DONE;
    return hub_link_snapshot(repo_dir, commit, d->job->path, d->job->etag, err);
}

/* All bytes are in the partial file: verify, then move into place (or discard). */
static int complete(const hub_env *env, const char *repo_dir, const char *commit, dl *d, an_error *err)
{
    char what[PATH_MAX + 32];
    hub_pathf(what, sizeof what, "downloading %s", d->job->path);
    if (!hash_matches(d)) {
        int resumed = d->resumed_from > 0;
        if (ftruncate(d->fd, 0) != 0 || unlink(d->incomplete) != 0)
            return an_errorf(err, "%s: cannot discard: %s", d->incomplete, strerror(errno));
        close(d->fd);
        d->fd = -1;
        if (resumed && !d->fresh_retry_done) {
            /* The bytes kept from an earlier run were bad: download the file afresh. */
            an_warn("%s: the partial download was corrupt; starting it again", d->job->path);
            d->fresh_retry_done = 1;
            if (open_partial(d, err) != 0)
                return HUB_ERR;
            d->state = ST_READY;
            return 0;
        }
        an_errorf(err, "%s: the bytes received do not match the checksum %s; discarded them\n"
                       "The server or a proxy sent wrong data; try again later.",
                  what, d->job->verify[0] ? d->job->verify : d->job->etag);
        return HUB_ERR_VERIFY;
    }
    return finish(env, repo_dir, commit, d, err);
}

/* A transfer ended: decide between done, retry and failure. */
static int on_done(const hub_env *env, const char *repo_dir, const char *repo_id, const char *commit,
                   dl *d, CURLcode cc, an_error *err)
{
    char what[PATH_MAX + 32];
    hub_pathf(what, sizeof what, "downloading %s", d->job->path);
    if (d->write_errno) {
        int e = d->write_errno;
        if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
            an_errorf(err, "%s: disk full (%s); kept %llu of %llu bytes in %s\n"
                           "Free some space and run the same command again: it resumes from there.",
                      what, strerror(e), d->have, d->job->size, d->incomplete);
            return HUB_ERR_DISK;
        }
        return an_errorf(err, "%s: cannot write %s: %s", what, d->incomplete, strerror(e));
    }
    int retry = 0;
    long retry_after = -1;
    if (d->oversize || d->bad_range) {
        /* More bytes than announced, or a range we did not ask for: start over. */
        if (truncate_to_zero(d) != 0)
            return an_errorf(err, "%s: %s", d->incomplete, strerror(errno));
        retry = 1;
    } else if (cc != CURLE_OK) {
        retry = 1;
        if (d->got_now > 0)
            d->fails = 0; /* progress was made: only failures in a row count */
        an_info("%s: %s; retrying", what, curl_easy_strerror(cc));
    } else if (d->h.status == 416) {
        if (truncate_to_zero(d) != 0)
            return an_errorf(err, "%s: %s", d->incomplete, strerror(errno));
        retry = 1;
    } else if (d->h.status == 408 || d->h.status == 429 || d->h.status >= 500) {
        retry = 1;
        retry_after = d->h.retry_after;
        if (retry_after > 60)
            return hub_http_error(env, &d->h, what, repo_id, commit, err);
    } else if (!d->body_ok && !(d->h.status == 206 && d->have == d->job->size) &&
               !(d->h.status / 100 == 2 && d->job->size == 0)) {
        if (d->h.status == 206) /* 206 to a request without Range: nonsense, start over */
            retry = 1;
        else if (d->job->send_token)
            return hub_http_error(env, &d->h, what, repo_id, commit, err);
        else /* the download host (a CDN): its errors say nothing about the repo */
            return an_errorf(err, "%s: the download server answered HTTP %ld\n"
                                  "Run the same command again; if it keeps failing, the Hub may be having trouble.",
                             what, d->h.status);
    } else if (d->have < d->job->size) {
        retry = 1; /* the connection ended early but cleanly */
    }
    if (retry) {
        if (++d->fails > env->max_retries)
            return an_errorf(err, "%s: gave up after %d failed attempts in a row (%s); "
                                  "%llu of %llu bytes kept\nRun the same command again to resume.",
                             what, d->fails, cc != CURLE_OK ? curl_easy_strerror(cc) : "server errors",
                             d->have, d->job->size),
                   HUB_ERR_NETWORK;
        d->state = ST_WAIT;
        d->wake = now_s() + hub_backoff_ms(env, d->fails - 1, retry_after) / 1000.0;
        return 0;
    }
    return complete(env, repo_dir, commit, d, err);
}

/* ---- progress on stderr ------------------------------------------------------------ */

static void human(char *out, size_t n, double b)
{
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4)
        b /= 1000, i++;
    hub_pathf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

typedef struct progress {
    int lines;         /* lines drawn last time (to move the cursor back up) */
    double t0;
    unsigned long long base; /* bytes present before this run */
} progress;

/* One line per file and a total, redrawn in place: the same lines every frame, so the
 * cursor always moves back over exactly what was drawn. Values never go backwards
 * (a restarted file keeps showing its best count until it passes it). */
static void draw(progress *p, dl *ds, size_t n, int final)
{
    unsigned long long total = 0, shown = 0;
    for (size_t i = 0; i < n; i++) {
        total += ds[i].job->size;
        shown += ds[i].state == ST_DONE ? ds[i].job->size : ds[i].shown;
    }
    struct winsize ws;
    int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    int namew = cols - 44;
    if (namew < 12)
        namew = 12;
    if (namew > 60)
        namew = 60;
    if (p->lines)
        fprintf(stderr, "\033[%dA", p->lines);
    p->lines = 0;
    double el = now_s() - p->t0;
    double speed = el > 0.2 && shown > p->base ? (double)(shown - p->base) / el : 0;
    char a[32], b[32], s[32];
    for (size_t i = 0; i < n; i++) {
        dl *d = &ds[i];
        unsigned long long v = d->state == ST_DONE ? d->job->size : d->shown;
        human(a, sizeof a, (double)v);
        human(b, sizeof b, (double)d->job->size);
        const char *name = d->job->path;
        int nl = (int)strlen(name);
        const char *st = d->state == ST_DONE ? "done" : d->state == ST_LOCK && d->wake > 0 ? "waiting"
                         : d->state == ST_WAIT ? "retrying" : "";
        if (nl > namew)
            fprintf(stderr, "\r\033[K  ...%-*s %10s / %-10s %s\n", namew - 3, name + nl - (namew - 3), a, b, st);
        else
            fprintf(stderr, "\r\033[K  %-*s %10s / %-10s %s\n", namew, name, a, b, st);
        p->lines++;
    }
    human(a, sizeof a, (double)shown);
    human(b, sizeof b, (double)total);
    human(s, sizeof s, speed);
    char eta[32] = "";
    if (speed > 0 && total > shown) {
        long sec = (long)((double)(total - shown) / speed);
        hub_pathf(eta, sizeof eta, "  ETA %ld:%02ld", sec / 60, sec % 60);
    }
    fprintf(stderr, "\r\033[K  %-*s %10s / %-10s %s/s%s\n", namew, "total", a, b, s, eta);
    p->lines++;
    if (final)
        p->lines = 0;
    fflush(stderr);
}

/* ---- the loop ---------------------------------------------------------------------- */

int hub_download_all(const hub_env *env, const char *repo_dir, const char *repo_id,
                     const char *commit, hub_job *jobs, size_t n, an_error *err)
{
    if (n == 0)
        return 0;
    hub_curl_init();
    char *folder = hub_repo_folder_name(repo_id);
    dl *ds = calloc(n, sizeof *ds);
    CURLM *multi = curl_multi_init();
    int rc = 0;
    if (!folder || !ds || !multi) {
        rc = an_errorf(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        dl *d = &ds[i];
        d->job = &jobs[i];
        d->fd = d->lock_fd = -1;
        d->kind = hub_etag_kind(jobs[i].verify[0] ? jobs[i].verify : jobs[i].etag);
        hub_pathf(d->blob, sizeof d->blob, "%s/blobs/%s", repo_dir, jobs[i].etag);
        hub_pathf(d->incomplete, sizeof d->incomplete, "%s.incomplete", d->blob);
        hub_pathf(d->lock, sizeof d->lock, "%s/.locks/%s/%s.lock", env->hub_cache, folder, jobs[i].etag);
        d->state = ST_LOCK;
    }
    progress prog = {0, now_s(), 0};
    double last_draw = 0;
    size_t finished = 0;
    while (finished < n && rc == 0) {
        double t = now_s();
        int running = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            dl *d = &ds[i];
            if (d->state == ST_LOCK && t >= d->wake) {
                if (access(d->blob, F_OK) == 0 && d->lock_fd < 0) {
                    /* Someone (another process, huggingface_hub) already has it. */
                    rc = hub_link_snapshot(repo_dir, commit, d->job->path, d->job->etag, err);
                    d->state = ST_DONE;
                    finished++;
                    continue;
                }
                int l = try_lock(d, err);
                if (l < 0) {
                    rc = HUB_ERR;
                } else if (l > 0) {
                    if (d->wake == 0)
                        an_info("%s: another process is downloading it; waiting", d->job->path);
                    d->wake = t + 0.1;
                } else if (access(d->blob, F_OK) == 0) {
                    release(d);
                    rc = hub_link_snapshot(repo_dir, commit, d->job->path, d->job->etag, err);
                    d->state = ST_DONE;
                    finished++;
                } else if (open_partial(d, err) != 0) {
                    rc = HUB_ERR;
                } else {
                    prog.base += d->have;
                    d->shown = d->have;
                    d->state = ST_READY;
                    if (d->have == d->job->size) {
                        /* Complete from an earlier run: verify and move it in place. */
                        rc = complete(env, repo_dir, commit, d, err);
                        if (d->state == ST_DONE)
                            finished++;
                    }
                }
            }
            if (d->state == ST_WAIT && t >= d->wake)
                d->state = ST_READY;
            running += d->state == ST_RUNNING;
        }
        for (size_t i = 0; i < n && rc == 0 && running < env->parallel; i++) {
            if (ds[i].state == ST_READY && ds[i].have == ds[i].job->size && ds[i].job->size > 0) {
                rc = complete(env, repo_dir, commit, &ds[i], err);
                finished += ds[i].state == ST_DONE;
            } else if (ds[i].state == ST_READY) {
                rc = start(multi, env, &ds[i], err);
                running++;
            }
        }
        if (rc != 0)
            break;
        int still = 0;
        curl_multi_perform(multi, &still);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            dl *d = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            CURLcode cc = m->data.result;
            curl_multi_remove_handle(multi, m->easy_handle);
            d->state = ST_READY;
            int r = on_done(env, repo_dir, repo_id, commit, d, cc, err);
            if (r != 0) {
                d->state = ST_FAILED;
                rc = r;
                break;
            }
            finished += d->state == ST_DONE;
        }
        if (rc != 0 || finished >= n)
            break;
        if (env->progress && now_s() - last_draw >= 0.2) {
            draw(&prog, ds, n, 0);
            last_draw = now_s();
        }
        if (still > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        else {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (env->progress && rc == 0)
        draw(&prog, ds, n, 1);
out:
    for (size_t i = 0; ds && i < n; i++) {
        if (ds[i].easy) {
            if (ds[i].state == ST_RUNNING)
                curl_multi_remove_handle(multi, ds[i].easy);
            curl_easy_cleanup(ds[i].easy);
        }
        curl_slist_free_all(ds[i].hdrs);
        EVP_MD_CTX_free(ds[i].md);
        release(&ds[i]); /* a partial file stays for the next run to resume */
    }
    if (multi)
        curl_multi_cleanup(multi);
    free(ds);
    free(folder);
    return rc;
}
