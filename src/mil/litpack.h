/*
 * litpack.h — building tensor literal data in storage form (ir.h mil_literal TENSOR);
 * internal to src/mil. Used by both loaders so that a literal read from text and the same
 * literal read from protobuf have byte-identical data.
 *
 * A mil_litbuf is a malloc'd scratch buffer, reused across literals: push elements, then
 * mil_litbuf_finish copies the data (packing sub-byte types) into an arena.
 */
#ifndef MIL_LITPACK_H
#define MIL_LITPACK_H

#include "mil/ir.h"

typedef struct mil_litbuf {
    unsigned char *data;
    size_t len, cap;
    size_t count; /* elements pushed */
} mil_litbuf;

void mil_litbuf_reset(mil_litbuf *lb);
void mil_litbuf_free(mil_litbuf *lb);
/* Each returns 0, or -1 on out of memory; push_float returns -2 for dtypes that cannot
 * be given as numbers (fp8). Values are converted to dt's storage form (fp16 bits with
 * round-to-nearest-even, bool 0/1, sub-byte values one per byte until finish). */
int mil_litbuf_push_int(mil_litbuf *lb, mil_dtype dt, int64_t v);
int mil_litbuf_push_float(mil_litbuf *lb, mil_dtype dt, double v);
int mil_litbuf_push_ptr(mil_litbuf *lb, const char *s);
int mil_litbuf_finish(mil_litbuf *lb, an_arena *arena, mil_dtype dt, const void **data, size_t *nbytes);

int mil_dtype_is_float(mil_dtype dt);
/* strtod in the C locale (hex floats, inf, nan). */
double mil_strtod(const char *s, char **end);
/* A decimal integer in range for dt: 0 ok, -1 not a number, -2 out of range. */
int mil_parse_int(const char *s, const char **end, mil_dtype dt, int64_t *v);
/* 0 when v is representable in integer dtype dt (bool: 0/1). */
int mil_int_in_range(mil_dtype dt, int64_t v);

#endif
