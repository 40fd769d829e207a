/* cmd_template.c — `anemone template`: print a model's rendered chat prompt. */
#include "cli.h"

#include "tokenizer/template.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void help_template(FILE *out)
{
    fputs("usage: anemone template MODEL --messages FILE [--no-generation-prompt]\n"
          "                        [--var NAME=JSON]... [--chat-template NAME|FILE]\n"
          "\n"
          "Print the chat prompt the model's template makes of a conversation, byte for byte\n"
          "as Jinja2 renders it in the environment of Hugging Face transformers, with nothing\n"
          "added (no trailing newline).\n"
          "\n"
          "MODEL is a local directory holding tokenizer_config.json (or chat_template.jinja),\n"
          "or a path to a meta.yaml beside it. The template comes from chat_template.jinja,\n"
          "else tokenizer_config.json's chat_template; a model without one gets the built-in\n"
          "template of the family its special tokens show, else ChatML. bos_token, eos_token,\n"
          "unk_token and pad_token come from tokenizer_config.json.\n"
          "\n"
          "  --messages FILE          the conversation: a JSON array of messages, or an object\n"
          "                           whose keys become variables (messages, tools, ...);\n"
          "                           '-' reads stdin\n"
          "  --no-generation-prompt   add_generation_prompt=false (default true)\n"
          "  --var NAME=JSON          set a template variable, e.g. --var enable_thinking=false\n"
          "  --chat-template NAME|FILE  a built-in (chatml, llama3, llama2, mistral, mistral-v7,\n"
          "                           gemma, phi3, phi4, zephyr, deepseek3), a template file, or\n"
          "                           one of the model's named templates\n",
          out);
}

static char *model_dir(const char *model)
{
    struct stat st;
    if (stat(model, &st) != 0)
        return NULL;
    if (S_ISDIR(st.st_mode))
        return strdup(model);
    const char *slash = strrchr(model, '/');
    if (!slash)
        return strdup(".");
    return strndup(model, (size_t)(slash - model));
}

static void set_str(json_object *vars, const char *key, const char *v)
{
    if (v)
        json_object_object_add(vars, key, json_object_new_string(v));
}

int cmd_template(int argc, char **argv)
{
    const char *model = NULL, *messages = NULL, *chat_template = NULL;
    int gen_prompt = 1;
    json_object *extra = json_object_new_object();
    int rc = CLI_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--messages") && i + 1 < argc)
            messages = argv[++i];
        else if (!strcmp(a, "--no-generation-prompt"))
            gen_prompt = 0;
        else if (!strcmp(a, "--chat-template") && i + 1 < argc)
            chat_template = argv[++i];
        else if (!strcmp(a, "--var") && i + 1 < argc) {
            const char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                json_object_put(extra);
                return cli_usage_error("template", "--var takes NAME=JSON, got '%s'", kv);
            }
            json_tokener *tk = json_tokener_new();
            json_object *v = json_tokener_parse_ex(tk, eq + 1, (int)strlen(eq + 1) + 1); /* the NUL ends a bare literal */
            int ok = json_tokener_get_error(tk) == json_tokener_success;
            json_tokener_free(tk);
            if (!ok) {
                json_object_put(v);
                json_object_put(extra);
                return cli_usage_error("template", "--var %.*s: the value is not JSON: %s", (int)(eq - kv), kv, eq + 1);
            }
            char *name = strndup(kv, (size_t)(eq - kv));
            json_object_object_add(extra, name, v);
            free(name);
        } else if (a[0] == '-' && a[1]) {
            json_object_put(extra);
            return cli_usage_error("template", "unknown option '%s'", a);
        } else if (!model)
            model = a;
        else {
            json_object_put(extra);
            return cli_usage_error("template", "unexpected argument '%s'", a);
        }
    }
    if (!model || !messages) {
        json_object_put(extra);
        return cli_usage_error("template", !model ? "MODEL is required" : "--messages FILE is required");
    }

    an_error err;
    an_error_clear(&err);
    tpl_chat chat = {0};
    tpl_template *t = NULL;
    json_object *conv = NULL, *vars = NULL;
    an_strbuf out;
    an_sb_init(&out);
    char *dir = model_dir(model);
    if (!dir) {
        cli_error("MODEL is a local directory for now; 'anemone pull' fetches a model",
                  "%s: no such file or directory", model);
        goto done;
    }
    if (tpl_chat_load(dir, chat_template, &chat, &err)) {
        cli_error(NULL, "%s", err.msg);
        goto done;
    }
    if (!strcmp(messages, "-"))
        conv = json_object_from_fd(0);
    else
        conv = json_object_from_file(messages);
    if (!conv || (!json_object_is_type(conv, json_type_array) && !json_object_is_type(conv, json_type_object))) {
        cli_error(NULL, "%s: not a JSON array or object of messages (%s)", messages,
                  json_util_get_last_err() ? json_util_get_last_err() : "wrong type");
        goto done;
    }
    /* The variables transformers passes: special tokens, messages, tools=None,
     * documents=None, add_generation_prompt, then the caller's keyword arguments. */
    vars = json_object_new_object();
    set_str(vars, "bos_token", chat.bos_token);
    set_str(vars, "eos_token", chat.eos_token);
    set_str(vars, "unk_token", chat.unk_token);
    set_str(vars, "pad_token", chat.pad_token);
    json_object_object_add(vars, "tools", NULL);
    json_object_object_add(vars, "documents", NULL);
    json_object_object_add(vars, "add_generation_prompt", json_object_new_boolean(gen_prompt));
    if (json_object_is_type(conv, json_type_array))
        json_object_object_add(vars, "messages", json_object_get(conv));
    else {
        json_object_object_foreach(conv, k, v) json_object_object_add(vars, k, json_object_get(v));
    }
    json_object_object_foreach(extra, k2, v2) json_object_object_add(vars, k2, json_object_get(v2));

    t = tpl_parse(chat.source, strlen(chat.source), chat.origin, &err);
    if (!t) {
        cli_error(NULL, "chat template: %s", err.msg);
        goto done;
    }
    if (tpl_render(t, vars, NULL, &out, &err)) {
        cli_error(NULL, "chat template: %s", err.msg);
        goto done;
    }
    if (fwrite(out.buf, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        cli_error(NULL, "writing the prompt: output error");
        goto done;
    }
    rc = CLI_OK;
done:
    an_sb_free(&out);
    tpl_free(t);
    tpl_chat_free(&chat);
    json_object_put(conv);
    json_object_put(vars);
    json_object_put(extra);
    free(dir);
    return rc;
}
