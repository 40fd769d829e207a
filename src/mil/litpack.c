/* litpack.c — tensor literal data in storage form (litpack.h). */
#define _GNU_SOURCE /* strtod_l, newlocale */
#include "mil/litpack.h"

#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "mil/packed.h"

void mil_litbuf_reset(mil_litbuf *lb)
{
    lb->len = 0;
    lb->count = 0;
}

void mil_litbuf_free(mil_litbuf *lb)
{
    free(lb->data);
    memset(lb, 0, sizeof *lb);
}

static void *room(mil_litbuf *lb, size_t n)
{
    if (lb->len + n > lb->cap) {
        size_t nc = lb->cap ? lb->cap * 2 : 256;
        while (nc < lb->len + n)
            nc *= 2;
        void *d = realloc(lb->data, nc);
        if (!d)
            return NULL;
        lb->data = d;
        lb->cap = nc;
    }
    void *p = lb->data + lb->len;
    lb->len += n;
    lb->count++;
    return p;
}

int mil_dtype_is_float(mil_dtype dt)
{
    return dt == MIL_DT_FP16 || dt == MIL_DT_FP32 || dt == MIL_DT_FP64 || dt == MIL_DT_BF16 ||
           dt == MIL_DT_FP8E4M3 || dt == MIL_DT_FP8E5M2;
}

int mil_int_in_range(mil_dtype dt, int64_t v)
{
    switch (dt) {
    case MIL_DT_BOOL: return v == 0 || v == 1 ? 0 : -1;
    case MIL_DT_INT4: return v >= -8 && v <= 7 ? 0 : -1;
    case MIL_DT_INT8: return v >= INT8_MIN && v <= INT8_MAX ? 0 : -1;
    case MIL_DT_INT16: return v >= INT16_MIN && v <= INT16_MAX ? 0 : -1;
    case MIL_DT_INT32: return v >= INT32_MIN && v <= INT32_MAX ? 0 : -1;
    case MIL_DT_INT64: return 0;
    case MIL_DT_UINT1:
    case MIL_DT_UINT2:
    case MIL_DT_UINT3:
    case MIL_DT_UINT4:
    case MIL_DT_UINT6: return v >= 0 && v < (1 << mil_dtype_bits(dt)) ? 0 : -1;
    case MIL_DT_UINT8: return v >= 0 && v <= UINT8_MAX ? 0 : -1;
    case MIL_DT_UINT16: return v >= 0 && v <= UINT16_MAX ? 0 : -1;
    case MIL_DT_UINT32: return v >= 0 && v <= (int64_t)UINT32_MAX ? 0 : -1;
    case MIL_DT_UINT64: return 0; /* stored as the same 64 bits */
    default: return -1;
    }
}

int mil_litbuf_push_int(mil_litbuf *lb, mil_dtype dt, int64_t v)
{
    int bits = mil_dtype_bits(dt);
    if (mil_dtype_is_float(dt))
        return mil_litbuf_push_float(lb, dt, (double)v);
    size_t n = bits < 8 ? 1 : (size_t)bits / 8;
    unsigned char *p = room(lb, n);
    if (!p)
        return -1;
    switch (n) {
    case 1: p[0] = (unsigned char)v; break;
    case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
    return 0;
}

int mil_litbuf_push_float(mil_litbuf *lb, mil_dtype dt, double v)
{
    unsigned char *p;
    switch (dt) {
    case MIL_DT_FP16: {
        uint16_t h = an_fp32_to_fp16((float)v);
        if (!(p = room(lb, 2)))
            return -1;
        memcpy(p, &h, 2);
        return 0;
    }
    case MIL_DT_BF16: {
        float f = (float)v;
        uint32_t x;
        memcpy(&x, &f, 4);
        uint16_t b = (x & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((x >> 16) | 0x40)
                                                      : (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
        if (!(p = room(lb, 2)))
            return -1;
        memcpy(p, &b, 2);
        return 0;
    }
    case MIL_DT_FP32: {
        float f = (float)v;
        if (!(p = room(lb, 4)))
            return -1;
        memcpy(p, &f, 4);
        return 0;
    }
    case MIL_DT_FP64:
        if (!(p = room(lb, 8)))
            return -1;
        memcpy(p, &v, 8);
        return 0;
    default:
        return -2;
    }
}

int mil_litbuf_push_ptr(mil_litbuf *lb, const char *s)
{
    unsigned char *p = room(lb, sizeof s);
    if (!p)
        return -1;
    memcpy(p, &s, sizeof s);
    return 0;
}

int mil_litbuf_finish(mil_litbuf *lb, an_arena *arena, mil_dtype dt, const void **data, size_t *nbytes)
{
    int bits = mil_dtype_bits(dt);
    if (bits > 0 && bits < 8) {
        size_t nb = mil_packed_bytes((int64_t)lb->count, bits);
        uint8_t *d = an_arena_alloc(arena, nb);
        if (!d)
            return -1;
        mil_pack_bits(lb->data, (int64_t)lb->count, bits, d);
        *data = d;
        *nbytes = nb;
        return 0;
    }
    void *d = an_arena_alloc_aligned(arena, lb->len, 16);
    if (!d)
        return -1;
    if (lb->len)
        memcpy(d, lb->data, lb->len);
    *data = d;
    *nbytes = dt == MIL_DT_STRING ? lb->count * sizeof(char *) : lb->len;
    return 0;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void init_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

double mil_strtod(const char *s, char **end)
{
    pthread_once(&c_locale_once, init_c_locale);
    if (c_locale)
        return strtod_l(s, end, c_locale);
    return strtod(s, end);
}

int mil_parse_int(const char *s, const char **end, mil_dtype dt, int64_t *v)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t acc = 0;
    int over = 0;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p++ - '0');
        if (acc > (UINT64_MAX - d) / 10)
            over = 1;
        else
            acc = acc * 10 + d;
    }
    *end = p;
    if (over)
        return -2;
    if (dt == MIL_DT_UINT64) {
        if (neg && acc)
            return -2;
        *v = (int64_t)acc;
        return 0;
    }
    if (neg ? acc > (uint64_t)INT64_MAX + 1 : acc > (uint64_t)INT64_MAX)
        return -2;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return mil_int_in_range(dt, *v) ? -2 : 0;
}
