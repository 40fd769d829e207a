/*
 * pbwire.h — protobuf wire-format cursor (COREML-FORMAT.md §2); internal to src/mil.
 *
 * A pb_cur walks one message's bytes; every read is bounds-checked and every failure
 * records the absolute byte offset (from `base`) where the bytes stopped making sense.
 */
#ifndef MIL_PBWIRE_H
#define MIL_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pb_cur {
    const uint8_t *base; /* start of the file, for offsets in messages */
    const uint8_t *p, *end;
} pb_cur;

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

/* One field: number, wire type, and its value (varint/fixed in u, bytes in sub). */
typedef struct pb_field {
    uint32_t num;
    int wt;
    uint64_t u;
    pb_cur sub;         /* PB_LEN: the payload */
    const uint8_t *at;  /* where the field's tag starts */
} pb_field;

/* Next field: 1 when read, 0 at the end of the message, -1 on malformed input (*bad set
 * to the offending position). */
static inline int pb_varint(pb_cur *c, uint64_t *v)
{
    uint64_t r = 0;
    for (int s = 0; s < 64; s += 7) {
        if (c->p >= c->end)
            return -1;
        uint8_t b = *c->p++;
        r |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static inline int pb_next(pb_cur *c, pb_field *f, const uint8_t **bad)
{
    if (c->p >= c->end)
        return 0;
    f->at = c->p;
    uint64_t tag;
    if (pb_varint(c, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
        *bad = f->at;
        return -1;
    }
    f->num = (uint32_t)(tag >> 3);
    f->wt = (int)(tag & 7);
    switch (f->wt) {
    case PB_VARINT:
        if (pb_varint(c, &f->u))
            break;
        return 1;
    case PB_I64:
        if (c->end - c->p < 8)
            break;
        f->u = 0;
        for (int i = 7; i >= 0; i--)
            f->u = (f->u << 8) | c->p[i];
        c->p += 8;
        return 1;
    case PB_I32:
        if (c->end - c->p < 4)
            break;
        f->u = (uint64_t)c->p[0] | (uint64_t)c->p[1] << 8 | (uint64_t)c->p[2] << 16 | (uint64_t)c->p[3] << 24;
        c->p += 4;
        return 1;
    case PB_LEN: {
        uint64_t n;
        if (pb_varint(c, &n) || n > (uint64_t)(c->end - c->p))
            break;
        f->sub.base = c->base;
        f->sub.p = c->p;
        f->sub.end = c->p + n;
        c->p += n;
        return 1;
    }
    default:
        break;
    }
    *bad = f->at;
    return -1;
}

#endif
