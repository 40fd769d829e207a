/*
 * loaders.h — the per-format readers behind mil_program_load; internal to src/mil (and
 * the fuzz targets and tests, which drive them on bytes in memory).
 *
 * Each fills parts of a program whose arena is initialised; on failure it returns -1
 * with err naming `fname` and the place (line:column or byte offset), and the caller
 * frees the program. None of them reads weights.
 */
#ifndef MIL_LOADERS_H
#define MIL_LOADERS_H

#include "mil/ir.h"

/* model.mil text (COREML-FORMAT.md §4): version, program attributes, functions.
 * text[len] must be '\0'. */
int mil_parse_text(mil_program *p, const char *text, size_t len, const char *fname, an_error *err);

/* metadata.json (§1.2): descriptions, user metadata, default function, spec version. */
int mil_parse_metadata_json(mil_program *p, const char *text, size_t len, const char *fname,
                            an_error *err);

/* model.mlmodel protobuf Model (§2): spec version, description, metadata and the
 * mlProgram. */
int mil_parse_proto(mil_program *p, const unsigned char *data, size_t len, const char *fname,
                    an_error *err);

/* An empty program ready for a loader (arena initialised, fields zero). */
mil_program *mil_program_new(void);

#endif
