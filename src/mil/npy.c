/* npy.c — .npy reader and writer (see npy.h). */
#include "mil/npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

#define NPY_MAX_HEADER 65536
#define NPY_MAX_FILE ((size_t)1 << 34)

static const struct {
    const char *d;
    mil_dtype t;
} descrs[] = {
    {"|b1", MIL_DT_BOOL},  {"<f2", MIL_DT_FP16},  {"<f4", MIL_DT_FP32},   {"<f8", MIL_DT_FP64},
    {"|i1", MIL_DT_INT8},  {"<i2", MIL_DT_INT16}, {"<i4", MIL_DT_INT32},  {"<i8", MIL_DT_INT64},
    {"|u1", MIL_DT_UINT8}, {"<u2", MIL_DT_UINT16}, {"<u4", MIL_DT_UINT32}, {"<u8", MIL_DT_UINT64},
};

const char *mil_npy_descr(mil_dtype dt)
{
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (descrs[i].t == dt)
            return descrs[i].d;
    return NULL;
}

static mil_dtype from_descr(const char *s, size_t n)
{
    char buf[8];
    if (n < 2 || n > 4)
        return MIL_DT_INVALID;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* one-byte types may be written with any byte-order mark */
    if ((buf[0] == '<' || buf[0] == '=' || buf[0] == '|') && n == 3 && buf[2] == '1')
        buf[0] = '|';
    else if (buf[0] == '=')
        buf[0] = '<';
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (strcmp(descrs[i].d, buf) == 0)
            return descrs[i].t;
    if (strcmp(buf, "|b1") == 0 || strcmp(buf, "<b1") == 0)
        return MIL_DT_BOOL;
    return MIL_DT_INVALID;
}

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Find the value after 'key': in the header dict (a Python literal). */
static const char *find_key(const char *h, const char *e, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = h; p + kl + 2 < e; p++)
        if ((*p == '\'' || *p == '"') && memcmp(p + 1, key, kl) == 0 && p[kl + 1] == *p) {
            const char *q = skip_ws(p + kl + 2, e);
            if (q < e && *q == ':')
                return skip_ws(q + 1, e);
        }
    return NULL;
}

int mil_npy_parse(const void *data, size_t len, const char *name, mil_tensor *t, an_error *err)
{
    const unsigned char *b = data;
    memset(t, 0, sizeof *t);
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return an_errorf(err, "%s: not a .npy file (bad magic)", name);
    int major = b[6];
    size_t hl, off;
    if (major == 1) {
        hl = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return an_errorf(err, "%s: truncated header", name);
        hl = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        return an_errorf(err, "%s: unsupported .npy version %d", name, major);
    }
    if (hl > NPY_MAX_HEADER || off + hl > len)
        return an_errorf(err, "%s: header length %zu does not fit the file", name, hl);
    const char *h = (const char *)b + off, *e = h + hl;
    const char *v = find_key(h, e, "descr");
    if (!v || (*v != '\'' && *v != '"'))
        return an_errorf(err, "%s: header has no 'descr'", name);
    const char *ve = memchr(v + 1, *v, (size_t)(e - v - 1));
    if (!ve)
        return an_errorf(err, "%s: bad 'descr'", name);
    t->dtype = from_descr(v + 1, (size_t)(ve - v - 1));
    if (t->dtype == MIL_DT_INVALID)
        return an_errorf(err, "%s: unsupported dtype '%.*s' (little-endian bool, int, uint, float only)",
                         name, (int)(ve - v - 1 > 16 ? 16 : ve - v - 1), v + 1);
    v = find_key(h, e, "fortran_order");
    if (!v)
        return an_errorf(err, "%s: header has no 'fortran_order'", name);
    if ((size_t)(e - v) >= 4 && memcmp(v, "True", 4) == 0)
        return an_errorf(err, "%s: Fortran-order arrays are not supported", name);
    if ((size_t)(e - v) < 5 || memcmp(v, "False", 5) != 0)
        return an_errorf(err, "%s: bad 'fortran_order'", name);
    v = find_key(h, e, "shape");
    if (!v || *v != '(')
        return an_errorf(err, "%s: header has no 'shape' tuple", name);
    v++;
    for (;;) {
        v = skip_ws(v, e);
        if (v < e && *v == ')')
            break;
        if (v >= e || *v < '0' || *v > '9')
            return an_errorf(err, "%s: bad 'shape'", name);
        if (t->rank >= MIL_MAX_RANK)
            return an_errorf(err, "%s: rank above %d", name, MIL_MAX_RANK);
        int64_t d = 0;
        while (v < e && *v >= '0' && *v <= '9') {
            d = d * 10 + (*v - '0');
            if (d > ((int64_t)1 << 40))
                return an_errorf(err, "%s: dimension too large", name);
            v++;
        }
        if (v < e && *v == 'L')
            v++;
        t->shape[t->rank++] = d;
        v = skip_ws(v, e);
        if (v < e && *v == ',')
            v++;
    }
    uint64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] && n > NPY_MAX_FILE / (uint64_t)t->shape[i])
            return an_errorf(err, "%s: array too large", name);
        n *= (uint64_t)t->shape[i];
    }
    uint64_t need = n * mil_dtype_size(t->dtype);
    size_t doff = off + hl;
    if (need > len - doff)
        return an_errorf(err, "%s: data holds %zu bytes, shape needs %llu", name, len - doff,
                         (unsigned long long)need);
    t->data = (void *)(b + doff);
    return 0;
}

int mil_npy_read(const char *path, mil_tensor *t, an_error *err)
{
    char *buf;
    size_t len;
    if (an_read_file(path, NPY_MAX_FILE, &buf, &len, err))
        return -1;
    if (mil_npy_parse(buf, len, path, t, err)) {
        free(buf);
        return -1;
    }
    size_t nb = mil_tensor_nbytes(t);
    void *d = malloc(nb ? nb : 1);
    if (!d) {
        free(buf);
        return an_errorf(err, "%s: out of memory", path);
    }
    memcpy(d, t->data, nb);
    free(buf);
    t->data = d;
    return 0;
}

int mil_npy_write(const char *path, const mil_tensor *t, an_error *err)
{
    const char *descr = mil_npy_descr(t->dtype);
    if (!descr)
        return an_errorf(err, "%s: dtype cannot be written as .npy", path);
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->rank; i++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%lld,%s", (long long)t->shape[i],
                      i + 1 < t->rank ? " " : "");
    if (t->rank > 1)
        n--; /* NumPy writes (2, 3) but (2,) */
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "), }");
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hl = (size_t)n + pad + 1;
    size_t nb = mil_tensor_nbytes(t);
    unsigned char *buf = malloc(10 + hl + nb);
    if (!buf)
        return an_errorf(err, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, hdr, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + hl - 1] = '\n';
    if (nb)
        memcpy(buf + 10 + hl, t->data, nb);
    int rc = an_write_file_atomic(path, buf, 10 + hl + nb, err);
    free(buf);
    return rc;
}
