/*
 * yamldoc.h — read a YAML document into a json-c tree.
 *
 * meta.yaml is small and shallow; holding it as json-c objects gives one tree type for
 * YAML and JSON config files alike. Scalars stay strings (YAML 1.1 typing is not
 * guessed here); the caller converts with the typed getters of meta.c. Anchors and
 * aliases are refused (meta.yaml never has them, and they are the classic way to blow
 * up a loader). Errors name the file, line and column.
 */
#ifndef PIPE_YAMLDOC_H
#define PIPE_YAMLDOC_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/error.h"

/* Parse the first document of text (len bytes). Returns a new json object (caller puts
 * it with json_object_put), or NULL + err. An empty document gives an empty object.
 * name is used in error messages ("meta.yaml"). */
json_object *pipe_yaml_parse(const char *text, size_t len, const char *name, an_error *err);

/* Read and parse a file (at most 1 MiB). */
json_object *pipe_yaml_load(const char *path, an_error *err);

#endif
