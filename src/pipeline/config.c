/* config.c — see config.h. */
#include "config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

static json_object *load_json(const char *dir, const char *name, int *missing, an_error *err)
{
    char *path = an_path_join(dir, name);
    *missing = 0;
    if (!path) {
        an_errorf(err, "out of memory");
        return NULL;
    }
    if (!an_is_file(path)) {
        *missing = 1;
        free(path);
        return NULL;
    }
    char *text;
    size_t len;
    json_object *o = NULL;
    if (an_read_file(path, 64u << 20, &text, &len, err) == 0) {
        json_tokener *tok = json_tokener_new();
        o = json_tokener_parse_ex(tok, text, (int)len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        if (!o || e != json_tokener_success) {
            /* json-c counts bytes; give the line for a person */
            size_t off = json_tokener_get_parse_end(tok), line = 1;
            for (size_t i = 0; i < off && i < len; i++)
                line += text[i] == '\n';
            an_errorf(err, "%s:%zu: invalid JSON: %s", path, line, json_tokener_error_desc(e));
            json_object_put(o);
            o = NULL;
        } else if (!json_object_is_type(o, json_type_object)) {
            an_errorf(err, "%s: expected a JSON object", path);
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
        free(text);
    }
    free(path);
    return o;
}

void pipe_gen_config_add_eos(pipe_gen_config *c, int32_t id)
{
    for (int i = 0; i < c->n_eos_ids; i++)
        if (c->eos_ids[i] == id)
            return;
    if (c->n_eos_ids < PIPE_MAX_EOS && id >= 0)
        c->eos_ids[c->n_eos_ids++] = id;
}

/* eos_token_id: an int or a list of ints. */
static void read_eos(json_object *o, pipe_gen_config *c)
{
    json_object *v;
    if (!json_object_object_get_ex(o, "eos_token_id", &v) || !v)
        return;
    if (json_object_is_type(v, json_type_int)) {
        pipe_gen_config_add_eos(c, (int32_t)json_object_get_int64(v));
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (e && json_object_is_type(e, json_type_int))
                pipe_gen_config_add_eos(c, (int32_t)json_object_get_int64(e));
        }
    }
}

static char *get_string(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return strdup(json_object_get_string(v));
    /* AddedToken form: {"content": "...", ...} */
    json_object *content;
    if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "content", &content) &&
        json_object_is_type(content, json_type_string))
        return strdup(json_object_get_string(content));
    return NULL;
}

static double get_number(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return -1;
    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
        return json_object_get_double(v);
    return -1;
}

int pipe_gen_config_load(const char *dir, pipe_gen_config *c, an_error *err)
{
    memset(c, 0, sizeof *c);
    c->bos_id = -1;
    c->do_sample = -1;
    c->temperature = c->top_p = c->min_p = c->repetition_penalty = -1;
    c->top_k = -1;
    int missing;
    json_object *cfg = load_json(dir, "config.json", &missing, err);
    if (!cfg && !missing)
        return -1;
    if (cfg) {
        c->model_type = get_string(cfg, "model_type");
        c->tokenizer_class = get_string(cfg, "tokenizer_class");
        read_eos(cfg, c);
        double b = get_number(cfg, "bos_token_id");
        if (b >= 0)
            c->bos_id = (int32_t)b;
        json_object_put(cfg);
    }
    json_object *gen = load_json(dir, "generation_config.json", &missing, err);
    if (!gen && !missing) {
        pipe_gen_config_free(c);
        return -1;
    }
    if (gen) {
        read_eos(gen, c);
        json_object *v;
        if (json_object_object_get_ex(gen, "do_sample", &v) && v && json_object_is_type(v, json_type_boolean))
            c->do_sample = json_object_get_boolean(v);
        c->temperature = get_number(gen, "temperature");
        c->top_p = get_number(gen, "top_p");
        c->min_p = get_number(gen, "min_p");
        c->repetition_penalty = get_number(gen, "repetition_penalty");
        double k = get_number(gen, "top_k");
        c->top_k = k >= 0 ? (int)k : -1;
        double b = get_number(gen, "bos_token_id");
        if (b >= 0 && c->bos_id < 0)
            c->bos_id = (int32_t)b;
        json_object_put(gen);
    }
    json_object *tok = load_json(dir, "tokenizer_config.json", &missing, err);
    if (!tok && !missing) {
        pipe_gen_config_free(c);
        return -1;
    }
    if (tok) {
        c->eos_token = get_string(tok, "eos_token");
        c->bos_token = get_string(tok, "bos_token");
        if (!c->tokenizer_class)
            c->tokenizer_class = get_string(tok, "tokenizer_class");
        json_object_put(tok);
    }
    return 0;
}

void pipe_gen_config_free(pipe_gen_config *c)
{
    free(c->model_type);
    free(c->tokenizer_class);
    free(c->eos_token);
    free(c->bos_token);
    memset(c, 0, sizeof *c);
}
