/* weights.c — weight blob access (weights.h, COREML-FORMAT.md §3). */
#include "mil/weights.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/file.h"
#include "mil/build.h"

#define BLOB_SENTINEL 0xDEADBEEFu
#define HEADER_BYTES 64
#define METADATA_BYTES 64

typedef struct wfile {
    char *path;
    an_mapped_file map;
} wfile;

struct mil_weights {
    const mil_program *p;
    pthread_mutex_t lock;
    wfile *files;
    int n_files, cap_files;
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

int mil_blob_check(const uint8_t *file, size_t size, const char *name, uint64_t offset,
                   const mil_type *type, mil_blob *out, an_error *err)
{
    if (size < HEADER_BYTES)
        return an_errorf(err, "%s: %zu bytes is too short for a weight file header", name, size);
    uint32_t version = rd32(file + 4);
    if (version != 2)
        return an_errorf(err, "%s: byte 4: weight file version %u (expected 2)", name, version);
    if (!type || type->kind != MIL_TYPE_TENSOR)
        return an_errorf(err, "%s: blob at %llu: the declared type is not a tensor", name,
                         (unsigned long long)offset);
    int64_t numel = mil_type_numel(type);
    size_t want = mil_dtype_storage_bytes(type->dtype, numel);
    if (numel < 0 || want == (size_t)-1)
        return an_errorf(err, "%s: blob at %llu: the declared type has no static size", name,
                         (unsigned long long)offset);
    if (offset < HEADER_BYTES || offset > size || size - offset < METADATA_BYTES)
        return an_errorf(err, "%s: blob offset %llu is outside the file (%zu bytes)", name,
                         (unsigned long long)offset, size);
    const uint8_t *md = file + offset;
    if (rd32(md) != BLOB_SENTINEL)
        return an_errorf(err, "%s: byte %llu: no blob here (sentinel 0x%08x, expected 0xdeadbeef)", name,
                         (unsigned long long)offset, rd32(md));
    uint32_t code = rd32(md + 4);
    mil_dtype dt = mil_dtype_from_blob(code);
    if (dt == MIL_DT_INVALID)
        return an_errorf(err, "%s: byte %llu: unknown blob data type %u", name,
                         (unsigned long long)offset + 4, code);
    if (dt != type->dtype)
        return an_errorf(err, "%s: byte %llu: blob holds %s, the program declares %s", name,
                         (unsigned long long)offset + 4, mil_dtype_name(dt), mil_dtype_name(type->dtype));
    uint64_t nbytes = rd64(md + 8), data_off = rd64(md + 16), pad = rd64(md + 24);
    if (nbytes != want)
        return an_errorf(err, "%s: byte %llu: blob has %llu bytes, %lld %s elements need %zu", name,
                         (unsigned long long)offset + 8, (unsigned long long)nbytes, (long long)numel,
                         mil_dtype_name(dt), want);
    int bits = mil_dtype_bits(dt);
    if (bits < 8) {
        uint64_t expect_pad = (8 - ((uint64_t)numel * (uint64_t)bits) % 8) % 8;
        if (pad != expect_pad)
            return an_errorf(err, "%s: byte %llu: padding of %llu bits, %lld %s elements need %llu", name,
                             (unsigned long long)offset + 24, (unsigned long long)pad, (long long)numel,
                             mil_dtype_name(dt), (unsigned long long)expect_pad);
    }
    if (data_off < HEADER_BYTES || data_off > size || nbytes > size - data_off)
        return an_errorf(err, "%s: byte %llu: blob data [%llu, +%llu) is outside the file (%zu bytes)", name,
                         (unsigned long long)offset + 16, (unsigned long long)data_off,
                         (unsigned long long)nbytes, size);
    out->data = file + data_off;
    out->nbytes = (size_t)nbytes;
    out->dtype = dt;
    out->numel = numel;
    return 0;
}

static int safe_rel(const char *s)
{
    if (!*s || *s == '/')
        return 0;
    for (const char *c = s; *c;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 0;
        c += n + (e ? 1 : 0);
    }
    return 1;
}

char *mil_blob_resolve_path(const char *model_dir, const char *blob_path, an_error *err)
{
    const char *rel = blob_path;
    if (strncmp(rel, "@model_path", 11) == 0) {
        rel += 11;
        while (*rel == '/')
            rel++;
    }
    if (!safe_rel(rel)) {
        an_errorf(err, "weight path '%.200s' must stay inside the model directory", blob_path);
        return NULL;
    }
    char *r = an_path_join(model_dir ? model_dir : ".", rel);
    if (!r)
        an_errorf(err, "out of memory");
    return r;
}

mil_weights *mil_weights_open(const mil_program *p)
{
    mil_weights *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->p = p;
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

void mil_weights_close(mil_weights *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n_files; i++) {
        an_unmap_file(&w->files[i].map);
        free(w->files[i].path);
    }
    free(w->files);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The mapping of a file, mapping it on first use; called with the lock held. */
static const wfile *get_file(mil_weights *w, char *path, an_error *err)
{
    for (int i = 0; i < w->n_files; i++)
        if (strcmp(w->files[i].path, path) == 0) {
            free(path);
            return &w->files[i];
        }
    if (w->n_files == w->cap_files) {
        int nc = w->cap_files ? w->cap_files * 2 : 4;
        void *nf = realloc(w->files, (size_t)nc * sizeof *w->files);
        if (!nf) {
            free(path);
            an_errorf(err, "out of memory");
            return NULL;
        }
        w->files = nf;
        w->cap_files = nc;
    }
    wfile *f = &w->files[w->n_files];
    memset(f, 0, sizeof *f);
    if (an_map_file(path, &f->map, err)) {
        free(path);
        return NULL;
    }
    /* Start reading the whole file into the page cache now, in the background: the FFN
     * and LM-head weights are all read by the first token anyway, and the embedding
     * rows are read at random, one disk read per token when not cached. */
    /* The kernel caps each request at the device's readahead size (128 KiB by default). */
    for (size_t o = 0; f->map.data && o < f->map.size; o += (size_t)128 << 10) {
        size_t n = f->map.size - o < ((size_t)128 << 10) ? f->map.size - o : (size_t)128 << 10;
        (void)madvise((char *)f->map.data + o, n, MADV_WILLNEED);
    }
    f->path = path;
    w->n_files++;
    return f;
}

int mil_blob_get(mil_weights *w, const mil_literal *lit, mil_blob *out, an_error *err)
{
    if (!lit || lit->kind != MIL_LIT_BLOB)
        return an_errorf(err, "not a blob literal");
    char *path = mil_blob_resolve_path(w->p->model_dir, lit->blob_path, err);
    if (!path)
        return -1;
    pthread_mutex_lock(&w->lock);
    const wfile *f = get_file(w, path, err);
    /* The entry's mapping never moves even if the array is reallocated later: copy it. */
    an_mapped_file map = f ? f->map : (an_mapped_file){0};
    char name[1024];
    if (f)
        snprintf(name, sizeof name, "%s", f->path);
    pthread_mutex_unlock(&w->lock);
    if (!f)
        return -1;
    return mil_blob_check(map.data, map.size, name, lit->blob_offset, &lit->type, out, err);
}
