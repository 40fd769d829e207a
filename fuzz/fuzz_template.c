/*
 * fuzz_template.c — libFuzzer target for the chat-template engine: the input is a
 * template; it is parsed and, when it parses, rendered with a small conversation under
 * tight bounds. Any crash, sanitizer report, leak or unbounded run is a bug.
 */
#include "tokenizer/template.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

static const char VARS[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"},"
    " {\"role\": \"user\", \"content\": \"hi \\\"there\\\" \\u00e9\"},"
    " {\"role\": \"assistant\", \"content\": \"<think>\\nx\\n</think>\\n\\nok\","
    "  \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1.5}}}]},"
    " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"part\"}]}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}],"
    " \"add_generation_prompt\": true, \"enable_thinking\": false, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_object *vars;
    if (!vars)
        vars = json_tokener_parse(VARS);
    an_error err;
    tpl_template *t = tpl_parse((const char *)data, size, "fuzz", &err);
    if (!t)
        return 0;
    tpl_limits lim = {.max_output = 1 << 20, .max_memory = 64 << 20, .max_steps = 200000, .max_depth = 50};
    an_strbuf out;
    an_sb_init(&out);
    tpl_render(t, vars, &lim, &out, &err);
    an_sb_free(&out);
    tpl_free(t);
    return 0;
}
