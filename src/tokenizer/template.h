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
 * -1 and a message naming the place ("chat_template:3:14: unexpected '}'"); a message the
 * template raises with raise_exception() is passed on verbatim.
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
    int max_depth;         /* nested macro calls and recursive loop calls (default 200);
                              expressions nest at most 3000 deep, values 400 */
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
 * Find the chat template for the model in dir, as transformers does: chat_template.jinja
 * beside tokenizer_config.json, else its chat_template (a string, or a list of
 * {name, template} where "tool_use" is taken when with_tools, else "default"). A model
 * without a template gets the built-in of the family its special tokens show
 * (tpl_detect_family), else ChatML. override, when not NULL, is one of the model's named
 * templates, a built-in name, or a file path, tried in that order. Returns 0 or -1.
 */
int tpl_chat_load_ex(const char *dir, const char *override, int with_tools, tpl_chat *out, an_error *err);
/* The same without tools (a list of named templates gives "default"). */
int tpl_chat_load(const char *dir, const char *override, tpl_chat *out, an_error *err);
void tpl_chat_free(tpl_chat *c);

/* The built-in template with that name (chatml, llama3, llama2, mistral, mistral-v7,
 * gemma, phi3, phi4, zephyr, deepseek3, granite, gpt-oss), or NULL. Each renders the
 * prompt llama.cpp's llm_chat_apply_template builds for that family. */
const char *tpl_builtin(const char *name);
/* The names of the built-ins, NULL-terminated. */
const char *const *tpl_builtin_names(void);
/* The family whose markers appear in text (a template or the special tokens of a
 * vocabulary), as llama.cpp detects it; "chatml" when nothing matches. */
const char *tpl_detect_family(const char *text);

#endif
