/*
 * http.c — metadata and API requests on libcurl, per the Hub protocol (PEERS.md §3.3,
 * §3.6): only relative redirects are followed, the token goes only to the Hub's own
 * host, 408/429/5xx and network errors are retried with back-off (Retry-After wins),
 * and errors come back in plain words from X-Error-Code and the status.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/strbuf.h"
#include "hub_internal.h"

#ifndef ANEMONE_VERSION
#define ANEMONE_VERSION "unknown"
#endif

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void hub_curl_init(void)
{
    pthread_once(&g_curl_once, curl_init_once);
}

const char *hub_user_agent(void)
{
    return "anemone/" ANEMONE_VERSION;
}

char *hub_url_escape(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    char *w = out;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~' || (keep_slash && *c == '/')) {
            *w++ = (char)*c;
        } else {
            *w++ = '%';
            *w++ = hex[*c >> 4];
            *w++ = hex[*c & 15];
        }
    }
    *w = '\0';
    return out;
}

long hub_backoff_ms(const hub_env *env, int attempt, long retry_after)
{
    if (retry_after >= 0)
        return retry_after * 1000;
    long ms = env->retry_base_ms;
    for (int i = 0; i < attempt && i < 3; i++)
        ms *= 2;
    return ms;
}

void hub_backoff_sleep(const hub_env *env, int attempt, long retry_after)
{
    long ms = hub_backoff_ms(env, attempt, retry_after);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

typedef struct body_buf {
    an_strbuf sb;
    size_t max;
    int overflow;
} body_buf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    body_buf *b = ud;
    size_t n = size * nmemb;
    if (b->sb.len + n > b->max) {
        b->overflow = 1;
        return 0;
    }
    if (an_sb_append(&b->sb, data, n) != 0)
        return 0;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    hub_headers_feed(ud, data, size * nmemb);
    return size * nmemb;
}

/* scheme://host[:port] length of an absolute URL, 0 if it is not one. */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

static int is_absolute(const char *url)
{
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

static int is_retry_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

int hub_http_request(const hub_env *env, const char *method, const char *url, int with_token,
                     hub_headers *h, char **body, size_t *body_len, size_t max_body, an_error *err)
{
    hub_curl_init();
    if (body)
        *body = NULL;
    if (body_len)
        *body_len = 0;
    int is_head = strcmp(method, "HEAD") == 0;
    CURL *c = curl_easy_init();
    if (!c)
        return an_errorf(err, "out of memory");
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept-Encoding: identity");
    char *auth = NULL;
    if (with_token && env->token) {
        size_t n = strlen(env->token) + 32;
        auth = malloc(n);
        if (auth) {
            hub_pathf(auth, n, "Authorization: Bearer %s", env->token);
            hdrs = curl_slist_append(hdrs, auth);
        }
    }
    body_buf b;
    an_sb_init(&b.sb);
    b.max = max_body;
    char cur[4096];
    hub_pathf(cur, sizeof cur, "%s", url);
    char curlerr[CURL_ERROR_SIZE];
    int rc = HUB_ERR_NETWORK, redirects = 0, fails = 0;
    for (;;) {
        hub_headers_reset(h);
        an_sb_clear(&b.sb);
        b.overflow = 0;
        curlerr[0] = '\0';
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, cur);
        curl_easy_setopt(c, CURLOPT_USERAGENT, hub_user_agent());
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, env->etag_timeout_s);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, env->etag_timeout_s);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (is_head) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
            curl_easy_setopt(c, CURLOPT_TIMEOUT, env->etag_timeout_s);
        }
        CURLcode cc = curl_easy_perform(c);
        if (cc == CURLE_WRITE_ERROR && b.overflow) {
            rc = an_errorf(err, "%s: answer larger than %zu bytes", cur, max_body);
            break;
        }
        if (cc != CURLE_OK) {
            /* No route to the Hub at all (no network, no DNS): two quick retries, not the
             * full back-off, so that "offline and not cached" is said within seconds. */
            int unreachable = cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY ||
                              cc == CURLE_COULDNT_CONNECT;
            int limit = unreachable && env->max_retries > 2 ? 2 : env->max_retries;
            if (++fails > limit) {
                rc = HUB_ERR_NETWORK;
                an_errorf(err, "cannot reach %.*s: %s", (int)origin_len(cur), cur,
                          curlerr[0] ? curlerr : curl_easy_strerror(cc));
                break;
            }
            hub_backoff_sleep(env, fails - 1, -1);
            continue;
        }
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        h->status = status;
        if (is_retry_status(status) && fails < env->max_retries && h->retry_after <= 60) {
            hub_backoff_sleep(env, fails++, h->retry_after);
            continue;
        }
        if (status >= 300 && status < 400 && h->location[0] && !is_absolute(h->location) &&
            strncmp(h->location, "//", 2) != 0) {
            /* A renamed repo: follow relative redirects only (absolute ones are the CDN). */
            if (++redirects > 10) {
                rc = an_errorf(err, "%s: too many redirects", url);
                break;
            }
            char next[4096];
            size_t ol = origin_len(cur);
            if (h->location[0] == '/') {
                hub_pathf(next, sizeof next, "%.*s%s", (int)ol, cur, h->location);
            } else {
                const char *q = cur + ol + strcspn(cur + ol, "?#");
                const char *slash = q;
                while (slash > cur + ol && slash[-1] != '/')
                    slash--;
                hub_pathf(next, sizeof next, "%.*s%s", (int)(slash - cur), cur, h->location);
            }
            hub_pathf(cur, sizeof cur, "%s", next);
            continue;
        }
        rc = 0;
        hub_pathf(h->final_url, sizeof h->final_url, "%s", cur);
        break;
    }
    if (rc == 0 && body) {
        *body_len = b.sb.len;
        *body = an_sb_steal(&b.sb);
    }
    an_sb_free(&b.sb);
    curl_slist_free_all(hdrs);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    curl_easy_cleanup(c);
    return rc;
}

int hub_http_error(const hub_env *env, const hub_headers *h, const char *what, const char *repo_id,
                   const char *revision, an_error *err)
{
    const char *code = h->error_code;
    const char *msg = h->error_message;
    char rid[160] = "";
    if (h->request_id[0])
        hub_pathf(rid, sizeof rid, " (request id %s)", h->request_id);
    if (!strcmp(code, "GatedRepo")) {
        an_errorf(err,
                  "%s: access to %s is restricted (gated repository)%s\n"
                  "Accept the conditions at %s/%s, then set HF_TOKEN or log in with 'hf auth login'.",
                  what, repo_id, rid, env->endpoint, repo_id);
        return HUB_ERR_GATED;
    }
    if (!strcmp(code, "RevisionNotFound")) {
        an_errorf(err, "%s: revision '%s' not found in %s%s\nCheck the branch, tag or commit name.",
                  what, revision ? revision : "main", repo_id, rid);
        return HUB_ERR_NOT_FOUND;
    }
    if (!strcmp(code, "EntryNotFound")) {
        an_errorf(err, "%s: no such file in %s at revision %s%s", what, repo_id,
                  revision ? revision : "main", rid);
        return HUB_ERR_NOT_FOUND;
    }
    if (h->status == 401 && env->token && strstr(msg, "Invalid credentials")) {
        an_errorf(err, "%s: the Hub refused the token%s\n"
                       "Check HF_TOKEN or the token file ($HF_HOME/token); 'hf auth login' makes a new one.",
                  what, rid);
        return HUB_ERR_AUTH;
    }
    if (!strcmp(code, "RepoNotFound") || h->status == 401 || h->status == 404) {
        if (env->token)
            an_errorf(err, "%s: repository %s not found%s\nCheck the name, and that your token can read it.",
                      what, repo_id, rid);
        else
            an_errorf(err, "%s: repository %s not found, or it is private%s\n"
                           "Check the name; for a private repository set HF_TOKEN or log in with 'hf auth login'.",
                      what, repo_id, rid);
        return HUB_ERR_NOT_FOUND;
    }
    if (h->status == 429) {
        if (h->retry_after >= 0)
            an_errorf(err, "%s: the Hub is rate limiting requests%s\nRetry in %ld seconds.", what, rid,
                      h->retry_after);
        else
            an_errorf(err, "%s: the Hub is rate limiting requests%s\nRetry in a few minutes.", what, rid);
        return HUB_ERR_RATE;
    }
    if (h->status == 403) {
        an_errorf(err, "%s: forbidden%s%s%s\nMake sure your token has read access to %s.", what,
                  msg[0] ? ": " : "", msg, rid, repo_id);
        return HUB_ERR_AUTH;
    }
    an_errorf(err, "%s: the Hub answered HTTP %ld%s%s%s", what, h->status, msg[0] ? ": " : "", msg,
              rid);
    return HUB_ERR;
}
