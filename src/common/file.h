/*
 * file.h — reading, mapping and safely writing files.
 *
 * Every failure names the path and the system's reason. Atomic writes go to a
 * temporary file in the same directory, are flushed to disk, then renamed over the
 * target: a reader sees the old content or the new, never a part.
 */
#ifndef AN_FILE_H
#define AN_FILE_H

#include <stddef.h>

#include "error.h"

/* A read-only mapping of a whole file. An empty file maps to data == NULL, size == 0. */
typedef struct an_mapped_file {
    const unsigned char *data;
    size_t size;
} an_mapped_file;

int an_map_file(const char *path, an_mapped_file *out, an_error *err);
void an_unmap_file(an_mapped_file *m); /* safe on a zeroed struct */

/* Read a whole file into a malloc'd buffer with a NUL after the last byte (so text can
 * be used as a C string). Refuses files larger than max_size (0 = no limit). Caller
 * frees *out. */
int an_read_file(const char *path, size_t max_size, char **out, size_t *len, an_error *err);

/* Write data to path atomically (temp file + fsync + rename + fsync of the directory). */
int an_write_file_atomic(const char *path, const void *data, size_t len, an_error *err);

/* mkdir -p with the given mode for each created directory. */
int an_mkdir_p(const char *path, int mode, an_error *err);

/* 1 if the path exists as a directory / regular file (following links), else 0. */
int an_is_dir(const char *path);
int an_is_file(const char *path);

/* Join two path parts with one '/', into a malloc'd string (NULL on out of memory). */
char *an_path_join(const char *a, const char *b);

#endif
