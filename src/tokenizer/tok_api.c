/* tok_api.c — loading from a path, tokenizer_config.json, lookups, freeing. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "tok_internal.h"

#define MAX_JSON_SIZE ((size_t)1 << 30)
#define MAX_CONFIG_SIZE ((size_t)64 << 20)

static tok_tokenizer *tok_new(void)
{
    tok_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return NULL;
    an_arena_init(&tok->arena);
    an_arena_init(&tok->cache.arena);
    tok->bpe.unk_id = -1;
    return tok;
}

void tok_free(tok_tokenizer *tok)
{
    if (!tok)
        return;
    for (size_t i = 0; i < tok->n_regexes; i++)
        pcre2_code_free(tok->regexes[i]);
    free(tok->regexes);
    pcre2_match_data_free(tok->md);
    tok_strmap_free(&tok->bpe.vocab);
    tok_pairmap_free(&tok->bpe.merges);
    tok_strmap_free(&tok->added_map);
    tok_trie_free(&tok->trie_raw);
    tok_trie_free(&tok->trie_norm);
    tok_cache_free(&tok->cache);
    tok_spm_free(tok->spm);
    free(tok->bos);
    free(tok->eos);
    free(tok->dir);
    an_arena_free(&tok->arena);
    free(tok);
}

tok_tokenizer *tok_load_json_buffer(const char *data, size_t len, const char *name,
                                    an_error *err)
{
    tok_tokenizer *tok = tok_new();
    if (!tok) {
        an_errorf(err, "%s: out of memory", name);
        return NULL;
    }
    if (tok_parse_json(tok, data, len, name, err)) {
        tok_free(tok);
        return NULL;
    }
    return tok;
}

/* "bos_token": "<s>" or {"content": "<s>", ...}; NULL when absent. */
static char *config_token(json_object *cfg, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(cfg, key, &v) || !v)
        return NULL;
    if (json_object_is_type(v, json_type_object) && !json_object_object_get_ex(v, "content", &v))
        return NULL;
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    return strdup(json_object_get_string(v));
}

/* tokenizer_config.json is optional; a broken one is reported, not ignored. */
static int read_config(tok_tokenizer *tok, const char *dir, an_error *err)
{
    char *path = an_path_join(dir, "tokenizer_config.json");
    if (!path)
        return an_errorf(err, "out of memory");
    if (!an_is_file(path)) {
        free(path);
        return 0;
    }
    char *data;
    size_t len;
    if (an_read_file(path, MAX_CONFIG_SIZE, &data, &len, err)) {
        free(path);
        return -1;
    }
    json_object *cfg = json_tokener_parse(data);
    free(data);
    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        json_object_put(cfg);
        an_errorf(err, "%s: not a JSON object", path);
        free(path);
        return -1;
    }
    free(path);
    tok->bos = config_token(cfg, "bos_token");
    tok->eos = config_token(cfg, "eos_token");
    json_object_put(cfg);
    return 0;
}

static tok_tokenizer *load_json_file(const char *path, an_error *err)
{
    char *data;
    size_t len;
    if (an_read_file(path, MAX_JSON_SIZE, &data, &len, err))
        return NULL;
    tok_tokenizer *tok = tok_load_json_buffer(data, len, path, err);
    free(data);
    return tok;
}

static tok_tokenizer *load_spm_file(const char *path, an_error *err)
{
    tok_tokenizer *tok = tok_new();
    if (!tok) {
        an_errorf(err, "%s: out of memory", path);
        return NULL;
    }
    if (!(tok->spm = tok_spm_load(path, err))) {
        tok_free(tok);
        return NULL;
    }
    return tok;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

tok_tokenizer *tok_load(const char *path, an_error *err)
{
    char *dir = NULL, *file = NULL;
    int spm = 0;
    if (an_is_dir(path)) {
        dir = strdup(path);
        file = an_path_join(path, "tokenizer.json");
        if (file && !an_is_file(file)) {
            free(file);
            file = an_path_join(path, "tokenizer.model");
            spm = 1;
            if (file && !an_is_file(file)) {
                an_errorf(err, "%s: no tokenizer.json or tokenizer.model in this directory", path);
                goto fail;
            }
        }
    } else if (an_is_file(path)) {
        dir = dir_of(path);
        if (ends_with(path, "meta.yaml") || ends_with(path, "meta.yml")) {
            char *d = dir;
            dir = NULL;
            tok_tokenizer *t = tok_load(d, err);
            free(d);
            return t;
        }
        file = strdup(path);
        spm = ends_with(path, ".model");
    } else {
        an_errorf(err, "%s: no such file or directory", path);
        return NULL;
    }
    if (!dir || !file) {
        an_errorf(err, "out of memory");
        goto fail;
    }
    tok_tokenizer *tok = spm ? load_spm_file(file, err) : load_json_file(file, err);
    if (!tok)
        goto fail;
    if (read_config(tok, dir, err)) {
        tok_free(tok);
        goto fail;
    }
    if (tok->spm && !tok->bos && tok_spm_bos(tok->spm) >= 0)
        tok->bos = strdup(tok_spm_piece(tok->spm, tok_spm_bos(tok->spm)));
    if (tok->spm && !tok->eos && tok_spm_eos(tok->spm) >= 0)
        tok->eos = strdup(tok_spm_piece(tok->spm, tok_spm_eos(tok->spm)));
    tok->dir = dir;
    free(file);
    return tok;
fail:
    free(dir);
    free(file);
    return NULL;
}

int tok_spm_encode_special(tok_tokenizer *tok, const char *text, size_t len, int add_special,
                           int32_t **ids, size_t *n_ids, an_error *err)
{
    an_strbuf valid;
    an_sb_init(&valid);
    if (!tok_utf8_valid(text, len)) {
        if (tok_utf8_lossy(text, len, &valid))
            return an_errorf(err, "tokenizer: out of memory");
        text = valid.buf;
        len = valid.len;
    }
    int32_t *body = NULL;
    size_t n = 0;
    int rc = tok_spm_encode(tok->spm, text, len, &body, &n, err);
    an_sb_free(&valid);
    if (rc)
        return -1;
    int32_t bos = tok_spm_bos(tok->spm);
    if (!add_special || bos < 0) {
        *ids = body;
        *n_ids = n;
        return 0;
    }
    int32_t *all = malloc((n + 1) * sizeof *all);
    if (!all) {
        free(body);
        return an_errorf(err, "tokenizer: out of memory");
    }
    all[0] = bos;
    if (n)
        memcpy(all + 1, body, n * sizeof *all);
    free(body);
    *ids = all;
    *n_ids = n + 1;
    return 0;
}

size_t tok_vocab_size(const tok_tokenizer *tok)
{
    return tok->spm ? tok_spm_size(tok->spm) : tok->n_ids;
}

const char *tok_id_to_token(const tok_tokenizer *tok, int32_t id)
{
    if (tok->spm)
        return tok_spm_piece(tok->spm, id);
    return id >= 0 && (size_t)id < tok->n_ids ? tok->id_to_token[id] : NULL;
}

int32_t tok_token_to_id(const tok_tokenizer *tok, const char *token)
{
    if (!token)
        return -1;
    if (tok->spm)
        return tok_spm_piece_id(tok->spm, token);
    int32_t id = tok_strmap_get(&tok->added_map, token, strlen(token));
    return id >= 0 ? id : tok_strmap_get(&tok->bpe.vocab, token, strlen(token));
}

int tok_is_special(const tok_tokenizer *tok, int32_t id)
{
    if (tok->spm)
        return tok_spm_is_control(tok->spm, id);
    return id >= 0 && (size_t)id < tok->n_ids && tok->id_special[id];
}

const char *tok_bos_token(const tok_tokenizer *tok) { return tok->bos; }
const char *tok_eos_token(const tok_tokenizer *tok) { return tok->eos; }
int32_t tok_bos_id(const tok_tokenizer *tok) { return tok_token_to_id(tok, tok->bos); }
int32_t tok_eos_id(const tok_tokenizer *tok) { return tok_token_to_id(tok, tok->eos); }
const char *tok_dir(const tok_tokenizer *tok) { return tok->dir; }
