/*
 * weights.h — weight blobs (MIL blob storage v2, COREML-FORMAT.md §3) behind the
 * MIL_LIT_BLOB literals of a loaded program.
 *
 * A mil_weights belongs to one program. It maps each weight file at most once, on the
 * first request for a blob in it (files are cached by resolved path), and never reads a
 * blob until asked. A BLOBFILE path "@model_path/rest" resolves to
 * `<program->model_dir>/rest`; a path without the prefix is taken relative to model_dir.
 * Paths that are absolute or contain ".." are refused.
 *
 * Every mil_blob_get validates, against the literal's declared type: the storage header
 * (version 2), the metadata sentinel 0xDEADBEEF at the literal's offset, the blob dtype
 * vs the declared dtype, sizeInBytes vs the element count of the declared shape
 * (sub-byte types: ceil(n*bits/8) bytes and padding_size_in_bits consistent), and that
 * metadata and payload lie inside the file. The data pointer points into the read-only
 * mapping and stays valid until mil_weights_close; sub-byte payloads are still packed
 * (unpack with packed.h).
 *
 * Thread-safety: mil_blob_get may be called from several threads at once (the file cache
 * is locked); mil_weights_close must not race with anything.
 */
#ifndef MIL_WEIGHTS_H
#define MIL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "mil/ir.h"

typedef struct mil_weights mil_weights;

typedef struct mil_blob {
    const void *data;  /* payload inside the mapping (64-byte aligned in practice) */
    size_t nbytes;     /* sizeInBytes */
    mil_dtype dtype;   /* == the literal's declared dtype */
    int64_t numel;     /* element count of the declared shape */
} mil_blob;

/* A weight cache for program p (which must outlive it). Opens nothing yet.
 * NULL on out of memory. */
mil_weights *mil_weights_open(const mil_program *p);
void mil_weights_close(mil_weights *w); /* unmaps everything; NULL is fine */

/* Resolve a MIL_LIT_BLOB literal to its bytes. 0 ok; -1 with err naming the weight file
 * and the byte offset when the file is missing or anything above does not check out. */
int mil_blob_get(mil_weights *w, const mil_literal *lit, mil_blob *out, an_error *err);

/* The checks of mil_blob_get on a weight file already in memory (file/size), for the
 * blob whose metadata record is at `offset` and whose declared tensor type is `type`.
 * `name` is used in messages. */
int mil_blob_check(const uint8_t *file, size_t size, const char *name, uint64_t offset,
                   const mil_type *type, mil_blob *out, an_error *err);

/* Resolve a BLOBFILE path against model_dir into a malloc'd path (caller frees);
 * NULL with err for refused paths. */
char *mil_blob_resolve_path(const char *model_dir, const char *blob_path, an_error *err);

#endif
