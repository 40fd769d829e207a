/* yamldoc.c — libyaml events into json-c objects; see yamldoc.h. */
#include "yamldoc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/file.h"

enum { YAML_MAX_DEPTH = 64, YAML_MAX_FILE = 1 << 20 };

typedef struct builder {
    json_object *stack[YAML_MAX_DEPTH];
    char *pending_key[YAML_MAX_DEPTH]; /* mapping: the key waiting for its value */
    int depth;
    json_object *root;
} builder;

/* Attach a finished node to its parent (or make it the root). Takes ownership of node. */
static int attach(builder *b, json_object *node, const char *scalar_text, const char *name,
                  const yaml_mark_t *mark, an_error *err)
{
    if (b->depth == 0) {
        if (b->root)
            json_object_put(b->root);
        b->root = node;
        return 0;
    }
    json_object *parent = b->stack[b->depth - 1];
    if (json_object_is_type(parent, json_type_array)) {
        json_object_array_add(parent, node);
        return 0;
    }
    if (!b->pending_key[b->depth - 1]) { /* this node is a key */
        if (!scalar_text) {
            json_object_put(node);
            return an_errorf(err, "%s:%zu:%zu: only plain scalar keys are supported", name,
                             mark->line + 1, mark->column + 1);
        }
        b->pending_key[b->depth - 1] = strdup(scalar_text);
        json_object_put(node);
        return b->pending_key[b->depth - 1] ? 0 : an_errorf(err, "%s: out of memory", name);
    }
    json_object_object_add(parent, b->pending_key[b->depth - 1], node);
    free(b->pending_key[b->depth - 1]);
    b->pending_key[b->depth - 1] = NULL;
    return 0;
}

json_object *pipe_yaml_parse(const char *text, size_t len, const char *name, an_error *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        an_errorf(err, "%s: cannot initialise the YAML parser", name);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    builder b;
    memset(&b, 0, sizeof b);
    int done = 0, failed = 0, docs = 0;
    while (!done && !failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            an_errorf(err, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1, parser.problem ? parser.problem : "YAML syntax error");
            failed = 1;
            break;
        }
        const yaml_mark_t *m = &ev.start_mark;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                done = 1; /* only the first document */
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_ALIAS_EVENT:
            an_errorf(err, "%s:%zu:%zu: YAML aliases are not supported", name, m->line + 1, m->column + 1);
            failed = 1;
            break;
        case YAML_SCALAR_EVENT: {
            if (ev.data.scalar.anchor) {
                an_errorf(err, "%s:%zu:%zu: YAML anchors are not supported", name, m->line + 1, m->column + 1);
                failed = 1;
                break;
            }
            const char *s = (const char *)ev.data.scalar.value;
            json_object *node;
            int plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            if (plain && (!strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL")))
                node = NULL; /* json null */
            else
                node = json_object_new_string_len(s, (int)ev.data.scalar.length);
            if (attach(&b, node, s, name, m, err) < 0)
                failed = 1;
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (b.depth >= YAML_MAX_DEPTH) {
                an_errorf(err, "%s:%zu:%zu: nested deeper than %d levels", name, m->line + 1, m->column + 1, YAML_MAX_DEPTH);
                failed = 1;
                break;
            }
            if (b.depth > 0 && json_object_is_type(b.stack[b.depth - 1], json_type_object) && !b.pending_key[b.depth - 1]) {
                an_errorf(err, "%s:%zu:%zu: only plain scalar keys are supported", name, m->line + 1, m->column + 1);
                failed = 1;
                break;
            }
            b.stack[b.depth] = ev.type == YAML_SEQUENCE_START_EVENT ? json_object_new_array() : json_object_new_object();
            b.pending_key[b.depth] = NULL;
            b.depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            json_object *node = b.stack[--b.depth];
            free(b.pending_key[b.depth]);
            b.pending_key[b.depth] = NULL;
            if (attach(&b, node, NULL, name, m, err) < 0)
                failed = 1;
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (b.depth > 0) { /* unwind after an error */
        b.depth--;
        json_object_put(b.stack[b.depth]);
        free(b.pending_key[b.depth]);
    }
    if (failed) {
        json_object_put(b.root);
        return NULL;
    }
    if (!b.root || !json_object_is_type(b.root, json_type_object)) {
        if (b.root && !json_object_is_type(b.root, json_type_object)) {
            json_object_put(b.root);
            an_errorf(err, "%s: the document is not a mapping", name);
            return NULL;
        }
        b.root = json_object_new_object();
    }
    return b.root;
}

json_object *pipe_yaml_load(const char *path, an_error *err)
{
    char *text;
    size_t len;
    if (an_read_file(path, YAML_MAX_FILE, &text, &len, err) < 0)
        return NULL;
    json_object *o = pipe_yaml_parse(text, len, path, err);
    free(text);
    return o;
}
