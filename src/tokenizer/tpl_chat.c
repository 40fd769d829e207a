/*
 * tpl_chat.c — where a model's chat template comes from: tokenizer_config.json
 * (chat_template as a string or a list of named templates), chat_template.jinja beside it
 * (newer transformers save it there; it wins, as in transformers), or a built-in
 * template for the family the special tokens reveal (llama.cpp's detection), else ChatML.
 *
 * The built-ins are Jinja sources rendered by the same engine; each reproduces the
 * prompt llama.cpp's llm_chat_apply_template builds for that family.
 */
#define _GNU_SOURCE
#include "tokenizer/template.h"

#include "common/file.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Text of a message's content: a string, or the text parts of a list of parts. */
#define TEXT_MACRO                                                                           \
    "{%- macro text(c) -%}{%- if c is string -%}{{ c }}{%- elif c is iterable -%}"          \
    "{%- for p in c -%}{%- if p is mapping and p.type == 'text' -%}{{ p.text }}"             \
    "{%- elif p is string -%}{{ p }}{%- endif -%}{%- endfor -%}{%- endif -%}{%- endmacro -%}\n"

static const struct builtin {
    const char *name;
    const char *src;
} BUILTINS[] = {
    {"chatml", TEXT_MACRO
     "{%- for m in messages -%}{{ '<|im_start|>' ~ m.role ~ '\\n' ~ text(m.content) ~ '<|im_end|>\\n' }}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"},
    {"llama3", TEXT_MACRO
     "{%- for m in messages -%}{{ '<|start_header_id|>' ~ m.role ~ '<|end_header_id|>\\n\\n' ~ text(m.content)|trim ~ '<|eot_id|>' }}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}"},
    {"llama2", TEXT_MACRO
     "{%- set ns = namespace(inside=true) -%}{{ '[INST] ' }}"
     "{%- for m in messages -%}"
     "{%- if not ns.inside -%}{%- set ns.inside = true -%}{{ '[INST] ' }}{%- endif -%}"
     "{%- if m.role == 'system' -%}{{ '<<SYS>>\\n' ~ text(m.content) ~ '\\n<</SYS>>\\n\\n' }}"
     "{%- elif m.role == 'user' -%}{{ text(m.content) ~ ' [/INST]' }}"
     "{%- else -%}{{ text(m.content) ~ '</s>' }}{%- set ns.inside = false -%}{%- endif -%}"
     "{%- endfor -%}"},
    {"mistral", TEXT_MACRO
     "{%- set ns = namespace(inside=false) -%}"
     "{%- for m in messages -%}"
     "{%- if not ns.inside -%}{%- set ns.inside = true -%}{{ '[INST] ' }}{%- endif -%}"
     "{%- if m.role == 'system' -%}{{ text(m.content) ~ '\\n\\n' }}"
     "{%- elif m.role == 'user' -%}{{ text(m.content) ~ '[/INST]' }}"
     "{%- else -%}{{ ' ' ~ text(m.content)|trim ~ '</s>' }}{%- set ns.inside = false -%}{%- endif -%}"
     "{%- endfor -%}"},
    {"mistral-v7", TEXT_MACRO
     "{%- for m in messages -%}"
     "{%- if m.role == 'system' -%}{{ '[SYSTEM_PROMPT] ' ~ text(m.content) ~ '[/SYSTEM_PROMPT]' }}"
     "{%- elif m.role == 'user' -%}{{ '[INST] ' ~ text(m.content) ~ '[/INST]' }}"
     "{%- else -%}{{ ' ' ~ text(m.content) ~ '</s>' }}{%- endif -%}"
     "{%- endfor -%}"},
    {"gemma", TEXT_MACRO
     "{%- set ns = namespace(sys='') -%}"
     "{%- for m in messages -%}"
     "{%- if m.role == 'system' -%}{%- set ns.sys = ns.sys ~ text(m.content)|trim -%}"
     "{%- else -%}{%- set role = 'model' if m.role == 'assistant' else m.role -%}"
     "{{ '<start_of_turn>' ~ role ~ '\\n' }}"
     "{%- if ns.sys and role != 'model' -%}{{ ns.sys ~ '\\n\\n' }}{%- set ns.sys = '' -%}{%- endif -%}"
     "{{ text(m.content)|trim ~ '<end_of_turn>\\n' }}"
     "{%- endif -%}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"},
    {"phi3", TEXT_MACRO
     "{%- for m in messages -%}{{ '<|' ~ m.role ~ '|>\\n' ~ text(m.content) ~ '<|end|>\\n' }}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}"},
    {"phi4", TEXT_MACRO
     "{%- for m in messages -%}{{ '<|im_start|>' ~ m.role ~ '<|im_sep|>' ~ text(m.content) ~ '<|im_end|>' }}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant<|im_sep|>' }}{%- endif -%}"},
    {"zephyr", TEXT_MACRO
     "{%- for m in messages -%}{{ '<|' ~ m.role ~ '|>\\n' ~ text(m.content) ~ '<|endoftext|>\\n' }}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}"},
    {"deepseek3", TEXT_MACRO
     "{%- for m in messages -%}"
     "{%- if m.role == 'system' -%}{{ text(m.content) ~ '\\n\\n' }}"
     "{%- elif m.role == 'user' -%}{{ '<\xef\xbd\x9cUser\xef\xbd\x9c>' ~ text(m.content) }}"
     "{%- elif m.role == 'assistant' -%}{{ '<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>' ~ text(m.content) ~ '<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>' }}"
     "{%- endif -%}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{ '<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>' }}{%- endif -%}"},
    {NULL, NULL},
};

static const char *const BUILTIN_NAMES[] = {"chatml", "llama3", "llama2", "mistral", "mistral-v7", "gemma",
                                            "phi3", "phi4", "zephyr", "deepseek3", NULL};

const char *tpl_builtin(const char *name)
{
    for (const struct builtin *b = BUILTINS; b->name; b++)
        if (!strcmp(b->name, name))
            return b->src;
    return NULL;
}

const char *const *tpl_builtin_names(void) { return BUILTIN_NAMES; }

const char *tpl_detect_family(const char *t)
{
#define HAS(s) (strstr(t, s) != NULL)
    if (HAS("<|im_start|>"))
        return HAS("<|im_sep|>") ? "phi4" : "chatml";
    if (HAS("[INST]") || !strncmp(t, "mistral", 7)) {
        if (HAS("[SYSTEM_PROMPT]"))
            return "mistral-v7";
        if (HAS("' [INST] ' + system_message") || HAS("[AVAILABLE_TOOLS]"))
            return "mistral";
        return "llama2";
    }
    if (HAS("<|assistant|>") && HAS("<|end|>"))
        return "phi3";
    if (HAS("<|user|>") && HAS("<|endoftext|>"))
        return "zephyr";
    if (HAS("<start_of_turn>"))
        return "gemma";
    if (HAS("<|start_header_id|>") && HAS("<|end_header_id|>"))
        return "llama3";
    if (HAS("<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>") && HAS("<\xef\xbd\x9cUser\xef\xbd\x9c>"))
        return "deepseek3";
    return "chatml";
#undef HAS
}

static char *token_string(json_object *cfg, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(cfg, key, &v) || !v)
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return strdup(json_object_get_string(v));
    json_object *content;
    if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "content", &content) &&
        json_object_is_type(content, json_type_string))
        return strdup(json_object_get_string(content));
    return NULL;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *read_text(const char *path, an_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        an_errorf(err, "%s: cannot open", path);
        return NULL;
    }
    an_strbuf sb;
    an_sb_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (sb.len + n > ((size_t)16 << 20)) {
            fclose(f);
            an_sb_free(&sb);
            an_errorf(err, "%s: template file larger than 16 MiB", path);
            return NULL;
        }
        an_sb_append(&sb, buf, n);
    }
    fclose(f);
    return an_sb_steal(&sb);
}

/* chat_template from the config: a string, or [{name, template}...] (name or "default"). */
static char *config_template(json_object *cfg, const char *want, int *found_named)
{
    json_object *ct;
    *found_named = 0;
    if (!cfg || !json_object_object_get_ex(cfg, "chat_template", &ct) || !ct)
        return NULL;
    if (json_object_is_type(ct, json_type_string))
        return want ? NULL : strdup(json_object_get_string(ct));
    if (!json_object_is_type(ct, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(ct); i++) {
        json_object *e = json_object_array_get_idx(ct, i), *nm, *tp;
        if (!json_object_object_get_ex(e, "name", &nm) || !json_object_object_get_ex(e, "template", &tp))
            continue;
        if (!strcmp(json_object_get_string(nm), want ? want : "default") && json_object_is_type(tp, json_type_string)) {
            *found_named = 1;
            return strdup(json_object_get_string(tp));
        }
    }
    return NULL;
}

/* Special-token text for family detection: the named tokens and the added tokens. */
static void special_text(json_object *cfg, an_strbuf *sb)
{
    json_object *atd;
    json_object_object_foreach(cfg, key, val) {
        if (strstr(key, "_token") && json_object_is_type(val, json_type_string)) {
            an_sb_puts(sb, json_object_get_string(val));
            an_sb_putc(sb, '\n');
        }
    }
    if (json_object_object_get_ex(cfg, "added_tokens_decoder", &atd) && json_object_is_type(atd, json_type_object)) {
        json_object_object_foreach(atd, id, tok) {
            (void)id;
            json_object *content;
            if (json_object_object_get_ex(tok, "content", &content)) {
                an_sb_puts(sb, json_object_get_string(content));
                an_sb_putc(sb, '\n');
            }
        }
    }
    json_object *ast;
    if (json_object_object_get_ex(cfg, "additional_special_tokens", &ast) && json_object_is_type(ast, json_type_array))
        for (size_t i = 0; i < json_object_array_length(ast); i++) {
            an_sb_puts(sb, json_object_get_string(json_object_array_get_idx(ast, i)));
            an_sb_putc(sb, '\n');
        }
}

int tpl_chat_load(const char *dir, const char *override, tpl_chat *out, an_error *err)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    json_object *cfg = NULL;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (is_file(path)) {
        cfg = json_object_from_file(path);
        if (!cfg || !json_object_is_type(cfg, json_type_object)) {
            json_object_put(cfg);
            return an_errorf(err, "%s: not a JSON object (%s)", path, json_util_get_last_err() ? json_util_get_last_err() : "parse error");
        }
        out->bos_token = token_string(cfg, "bos_token");
        out->eos_token = token_string(cfg, "eos_token");
        out->unk_token = token_string(cfg, "unk_token");
        out->pad_token = token_string(cfg, "pad_token");
    }
    char jpath[4096];
    snprintf(jpath, sizeof jpath, "%s/chat_template.jinja", dir);
    int named;
    if (override) {
        const char *b = tpl_builtin(override);
        if (b) {
            out->source = strdup(b);
            snprintf(path, sizeof path, "builtin:%s", override);
        } else if (is_file(override)) {
            if (!(out->source = read_text(override, err)))
                goto fail;
            snprintf(path, sizeof path, "%s", override);
        } else if ((out->source = config_template(cfg, override, &named))) {
            snprintf(path, sizeof path, "%s/tokenizer_config.json:%s", dir, override);
        } else {
            an_errorf(err, "unknown chat template '%s': not a file, not a template of the model, not a built-in "
                           "(chatml, llama3, llama2, mistral, mistral-v7, gemma, phi3, phi4, zephyr, deepseek3)", override);
            goto fail;
        }
    } else if (is_file(jpath)) {
        if (!(out->source = read_text(jpath, err)))
            goto fail;
        snprintf(path, sizeof path, "%s", jpath);
    } else if ((out->source = config_template(cfg, NULL, &named))) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    } else if (!cfg && !is_file(jpath)) {
        an_errorf(err, "%s: no tokenizer_config.json or chat_template.jinja", dir);
        goto fail;
    } else {
        an_strbuf sb;
        an_sb_init(&sb);
        special_text(cfg, &sb);
        const char *fam = tpl_detect_family(sb.buf);
        an_sb_free(&sb);
        out->source = strdup(tpl_builtin(fam));
        snprintf(path, sizeof path, "builtin:%s", fam);
    }
    out->origin = strdup(path);
    if (!out->source || !out->origin) {
        an_errorf(err, "out of memory");
        goto fail;
    }
    json_object_put(cfg);
    return 0;
fail:
    json_object_put(cfg);
    tpl_chat_free(out);
    return -1;
}

void tpl_chat_free(tpl_chat *c)
{
    if (!c)
        return;
    free(c->source);
    free(c->origin);
    free(c->bos_token);
    free(c->eos_token);
    free(c->unk_token);
    free(c->pad_token);
    memset(c, 0, sizeof *c);
}
