/*
 * tool_tpl.c — batch driver for the template conformance tests.
 *
 * Reads JSON lines {"template": "...", "vars": {...}} on stdin; for each, writes one JSON
 * line {"ok": true, "out": "..."} or {"ok": false, "error": "..."} on stdout. One process
 * for thousands of renders keeps the suite fast (and fast under the sanitizers).
 * With --bench FILE.json N: renders the template×vars of the one JSON object in FILE N
 * times and prints the mean time per render in microseconds.
 */
#include "tokenizer/template.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int bench(const char *path, int n)
{
    json_object *j = json_object_from_file(path), *tj, *vars;
    if (!j || !json_object_object_get_ex(j, "template", &tj) || !json_object_object_get_ex(j, "vars", &vars)) {
        fprintf(stderr, "tool_tpl: %s: need {template, vars}\n", path);
        return 1;
    }
    an_error err;
    const char *src = json_object_get_string(tj);
    double t0 = now_us();
    tpl_template *t = tpl_parse(src, strlen(src), "bench", &err);
    double t_parse = now_us() - t0;
    if (!t) {
        fprintf(stderr, "tool_tpl: %s\n", err.msg);
        return 1;
    }
    an_strbuf out;
    an_sb_init(&out);
    size_t bytes = 0;
    double best = 1e18, total = 0;
    for (int i = 0; i < n; i++) {
        an_sb_clear(&out);
        double s = now_us();
        if (tpl_render(t, vars, NULL, &out, &err)) {
            fprintf(stderr, "tool_tpl: %s\n", err.msg);
            return 1;
        }
        double d = now_us() - s;
        total += d;
        if (d < best)
            best = d;
        bytes = out.len;
    }
    printf("{\"parse_us\": %.1f, \"render_mean_us\": %.1f, \"render_min_us\": %.1f, \"renders\": %d, \"bytes\": %zu}\n",
           t_parse, total / n, best, n, bytes);
    an_sb_free(&out);
    tpl_free(t);
    json_object_put(j);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--bench"))
        return bench(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_object *j = json_tokener_parse(line), *tj = NULL, *vars = NULL;
        json_object *res = json_object_new_object();
        if (!j || !json_object_object_get_ex(j, "template", &tj)) {
            json_object_object_add(res, "ok", json_object_new_boolean(0));
            json_object_object_add(res, "error", json_object_new_string("bad input line"));
        } else {
            json_object_object_get_ex(j, "vars", &vars);
            an_error err;
            an_error_clear(&err);
            const char *src = json_object_get_string(tj);
            tpl_template *t = tpl_parse(src, (size_t)json_object_get_string_len(tj), "template", &err);
            an_strbuf out;
            an_sb_init(&out);
            if (t && tpl_render(t, vars, NULL, &out, &err) == 0) {
                json_object_object_add(res, "ok", json_object_new_boolean(1));
                json_object_object_add(res, "out", json_object_new_string_len(out.buf, (int)out.len));
            } else {
                json_object_object_add(res, "ok", json_object_new_boolean(0));
                json_object_object_add(res, "error", json_object_new_string(err.msg));
            }
            an_sb_free(&out);
            tpl_free(t);
        }
        puts(json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        fflush(stdout);
        json_object_put(res);
        json_object_put(j);
    }
    free(line);
    return 0;
}
