/*
 * env.c — what the environment decides (PEERS.md §3.1, huggingface_hub's constants) and
 * the parsing of MODEL references.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/file.h"
#include "hub_internal.h"

int hub_pathf(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= outsz ? -1 : n;
}

int hub_env_bool(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        return 0;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "true");
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = env_nonempty(name);
    if (!v)
        return def;
    char *end;
    double d = strtod(v, &end);
    if (end == v || d < lo || d > hi)
        return def;
    return (long)d;
}

static char *home_dir(void)
{
    const char *h = env_nonempty("HOME");
    if (!h) {
        struct passwd *pw = getpwuid(getuid());
        h = pw && pw->pw_dir ? pw->pw_dir : "/";
    }
    return strdup(h);
}

/* $XDG_CACHE_HOME, else ~/.cache (malloc'd). */
static char *xdg_cache(void)
{
    const char *x = env_nonempty("XDG_CACHE_HOME");
    if (x)
        return strdup(x);
    char *h = home_dir();
    char *p = h ? an_path_join(h, ".cache") : NULL;
    free(h);
    return p;
}

/* The token text of a file: its first line, trimmed (NULL when absent or empty). */
static char *read_token_file(const char *path)
{
    char *buf = NULL;
    size_t len;
    if (an_read_file(path, 4096, &buf, &len, NULL) != 0)
        return NULL;
    char *s = buf;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strcspn(s, "\r\n");
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *tok = n ? strndup(s, n) : NULL;
    free(buf);
    return tok;
}

int hub_env_init(hub_env *env, const hub_options *opts, an_error *err)
{
    memset(env, 0, sizeof *env);
    char *xdg = xdg_cache();
    const char *v;
    env->hf_home = (v = env_nonempty("HF_HOME")) ? strdup(v) : an_path_join(xdg ? xdg : ".", "huggingface");
    if (opts && opts->cache_dir)
        env->hub_cache = strdup(opts->cache_dir);
    else if ((v = env_nonempty("HF_HUB_CACHE")) || (v = env_nonempty("HUGGINGFACE_HUB_CACHE")))
        env->hub_cache = strdup(v);
    else if (env->hf_home)
        env->hub_cache = an_path_join(env->hf_home, "hub");
    env->anemone_cache = (v = env_nonempty("ANEMONE_CACHE")) ? strdup(v) : an_path_join(xdg ? xdg : ".", "anemone");
    v = env_nonempty("HF_ENDPOINT");
    env->endpoint = strdup(v ? v : "https://huggingface.co");
    if (env->endpoint) {
        size_t n = strlen(env->endpoint);
        while (n && env->endpoint[n - 1] == '/')
            env->endpoint[--n] = '\0';
    }
    /* Token order: the option, HF_TOKEN, the legacy name, $HF_TOKEN_PATH, $HF_HOME/token. */
    if (opts && opts->token && *opts->token)
        env->token = strdup(opts->token);
    else if ((v = env_nonempty("HF_TOKEN")) || (v = env_nonempty("HUGGING_FACE_HUB_TOKEN")))
        env->token = strdup(v);
    else if ((v = env_nonempty("HF_TOKEN_PATH")))
        env->token = read_token_file(v);
    else if (env->hf_home) {
        char *p = an_path_join(env->hf_home, "token");
        env->token = p ? read_token_file(p) : NULL;
        free(p);
    }
    if (env->token) {
        /* A token goes into a header: refuse anything that could split it. */
        for (const char *c = env->token; *c; c++)
            if ((unsigned char)*c < 0x21 || *c == 0x7f) {
                free(xdg);
                hub_env_free(env);
                return an_errorf(err, "the Hugging Face token contains spaces or control characters");
            }
    }
    env->offline = (opts && opts->offline) || hub_env_bool("HF_HUB_OFFLINE") ||
                   hub_env_bool("TRANSFORMERS_OFFLINE");
    int prog = opts ? opts->progress : -1;
    env->progress = prog >= 0 ? prog : isatty(2) && !hub_env_bool("HF_HUB_DISABLE_PROGRESS_BARS");
    env->etag_timeout_s = env_long("HF_HUB_ETAG_TIMEOUT", 10, 1, 3600);
    env->stall_timeout_s = env_long("HF_HUB_DOWNLOAD_TIMEOUT", 10, 1, 3600);
    env->retry_base_ms = env_long("ANEMONE_HUB_RETRY_BASE_MS", 1000, 0, 60000);
    env->max_retries = 5;
    env->parallel = 4;
    free(xdg);
    if (!env->hf_home || !env->hub_cache || !env->anemone_cache || !env->endpoint) {
        hub_env_free(env);
        return an_errorf(err, "out of memory");
    }
    return 0;
}

void hub_env_free(hub_env *env)
{
    free(env->hub_cache);
    free(env->hf_home);
    free(env->endpoint);
    free(env->token);
    free(env->anemone_cache);
    memset(env, 0, sizeof *env);
}

int hub_is_commit(const char *rev)
{
    if (!rev || strlen(rev) != 40)
        return 0;
    for (int i = 0; i < 40; i++)
        if (!isdigit((unsigned char)rev[i]) && !(rev[i] >= 'a' && rev[i] <= 'f'))
            return 0;
    return 1;
}

/* Hub rules: "org/name", each part [A-Za-z0-9._-], 1..96 chars, no "--" or "..",
 * not starting or ending with '-' or '.'. */
int hub_repo_id_valid(const char *id)
{
    const char *slash = strchr(id, '/');
    if (!slash || strchr(slash + 1, '/'))
        return 0;
    const char *parts[2] = {id, slash + 1};
    size_t lens[2] = {(size_t)(slash - id), strlen(slash + 1)};
    for (int k = 0; k < 2; k++) {
        const char *p = parts[k];
        size_t n = lens[k];
        if (n == 0 || n > 96 || p[0] == '-' || p[0] == '.' || p[n - 1] == '-' || p[n - 1] == '.')
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_' && p[i] != '.')
                return 0;
            if (i + 1 < n && ((p[i] == '-' && p[i + 1] == '-') || (p[i] == '.' && p[i + 1] == '.')))
                return 0;
        }
    }
    return 1;
}

void hub_ref_free(hub_ref *ref)
{
    free(ref->local_path);
    free(ref->repo_id);
    free(ref->revision);
    memset(ref, 0, sizeof *ref);
}

/* "%2F" → "/" (and any other %XX) in place; -1 on a bad escape. */
static int percent_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '%') {
            if (!isxdigit((unsigned char)r[1]) || !isxdigit((unsigned char)r[2]))
                return -1;
            char hex[3] = {r[1], r[2], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

static int local_ref(const char *text, hub_ref *ref, an_error *err)
{
    char *dir = NULL;
    if (an_is_dir(text)) {
        dir = strdup(text);
    } else {
        const char *base = strrchr(text, '/');
        base = base ? base + 1 : text;
        if (an_is_file(text) && strcmp(base, "meta.yaml") == 0)
            dir = base == text ? strdup(".") : strndup(text, (size_t)(base - 1 - text));
        else if (an_is_file(text))
            return an_errorf(err, "%s: not a model: give the directory holding meta.yaml", text);
        else
            return an_errorf(err, "%s: no such file or directory", text);
    }
    if (!dir)
        return an_errorf(err, "out of memory");
    char *meta = an_path_join(*dir ? dir : "/", "meta.yaml");
    int ok = meta && an_is_file(meta);
    free(meta);
    if (!ok) {
        an_errorf(err, "%s: not a model directory (no meta.yaml in it)", dir);
        free(dir);
        return -1;
    }
    ref->local_path = dir;
    return 0;
}

int hub_ref_parse(const char *text, hub_ref *ref, an_error *err)
{
    memset(ref, 0, sizeof *ref);
    if (!text || !*text)
        return an_errorf(err, "empty model reference");
    int hf = strncmp(text, "hf://", 5) == 0;
    if (!hf) {
        if (text[0] == '/' || text[0] == '.' || text[0] == '~' || access(text, F_OK) == 0)
            return local_ref(text, ref, err);
    }
    const char *id = hf ? text + 5 : text;
    if (hf && strncmp(id, "models/", 7) == 0)
        id += 7;
    if (hf && (strncmp(id, "datasets/", 9) == 0 || strncmp(id, "spaces/", 7) == 0))
        return an_errorf(err, "%s: only model repositories hold models", text);
    const char *at = strchr(id, '@');
    char *rid = at ? strndup(id, (size_t)(at - id)) : strdup(id);
    if (!rid)
        return an_errorf(err, "out of memory");
    if (!hub_repo_id_valid(rid)) {
        an_errorf(err, "'%s': not a model directory nor a Hugging Face repo id (org/name[@revision])",
                  text);
        free(rid);
        return -1;
    }
    ref->repo_id = rid;
    if (at) {
        ref->revision = strdup(at + 1);
        if (!ref->revision || percent_decode(ref->revision) != 0 || !*ref->revision ||
            !hub_relpath_safe(ref->revision)) {
            hub_ref_free(ref);
            return an_errorf(err, "'%s': bad revision after '@'", text);
        }
    }
    return 0;
}
