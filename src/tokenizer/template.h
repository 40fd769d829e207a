/*
 * template.h — chat templates: a Jinja2-compatible template engine and the glue that
 * finds a model's template in tokenizer_config.json.
 *
 * The engine renders byte for byte what Python Jinja2 renders in the environment
 * Hugging Face transformers uses for chat templates: ImmutableSandboxedEnvironment with
 * trim_blocks, lstrip_blocks and loop controls, `tojson` as json.dumps(ensure_ascii=False),
 * the globals `raise_exception` and `strftime_now`, and Jinja2's default Undefined.
 *
 * Ownership: tpl_parse returns a template the caller frees with tpl_free. Rendering does
 * not modify the template, so one template may be rendered from several threads at once;
 * everything a render allocates is freed before it returns (except the output buffer,
 * which belongs to the caller). Bad templates and bad variables never crash: they give
 * -1 and a message ("template:3:14: unexpected '}'", "raise_exception: ...").
 */
#ifndef TOK_TEMPLATE_H
#define TOK_TEMPLATE_H

#include "common/error.h"
#include "common/strbuf.h"

#include <stddef.h>

struct json_object;

typedef struct tpl_template tpl_template;

/* Bounds for runaway templates. Zero fields take the defaults below. */
typedef struct tpl_limits {
    size_t max_output;     /* bytes of output (default 64 MiB) */
    size_t max_memory;     /* bytes the render may allocate (default 512 MiB) */
    size_t max_steps;      /* statements + loop iterations + calls (default 50 million) */
    int max_depth;         /* macro call / nesting depth (default 200) */
} tpl_limits;

/* Parse a template. name labels error messages (e.g. "chat_template"). */
tpl_template *tpl_parse(const char *src, size_t len, const char *name, an_error *err);
void tpl_free(tpl_template *t);

/* Render with the variables of the JSON object vars (messages, tools, bos_token, ...;
 * may be NULL). Appends to out. lim may be NULL. On error out may hold partial output. */
int tpl_render(const tpl_template *t, struct json_object *vars, const tpl_limits *lim,
               an_strbuf *out, an_error *err);

/* ---- the model side ---- */

/* What a model directory says about its chat template. Strings are malloc'd. */
typedef struct tpl_chat {
    char *source;          /* the template text */
    char *origin;          /* where it came from, for messages: a path, "builtin:chatml"... */
    char *bos_token, *eos_token, *unk_token, *pad_token; /* NULL when absent */
} tpl_chat;

/*
 * Find the chat template for the model in dir: tokenizer_config.json's chat_template (a
 * string, or a list of {name, template} where "default" is taken), else
 * chat_template.jinja beside it, else a built-in template chosen from the special tokens
 * (tpl_detect_family), else ChatML. override, when not NULL, is a built-in name or a
 * file path, or a template name from the config's list. Returns 0 or -1 with err set.
 */
int tpl_chat_load(const char *dir, const char *override, tpl_chat *out, an_error *err);
void tpl_chat_free(tpl_chat *c);

/* The built-in template with that name (chatml, llama3, llama2, mistral, gemma, phi3,
 * phi4, zephyr, deepseek3, qwen3...), or NULL. */
const char *tpl_builtin(const char *name);
/* The names of the built-ins, NULL-terminated. */
const char *const *tpl_builtin_names(void);
/* The family whose markers appear in text (a template or the special tokens of a
 * vocabulary), as llama.cpp detects it; "chatml" when nothing matches. */
const char *tpl_detect_family(const char *text);

#endif
