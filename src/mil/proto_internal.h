/*
 * proto_internal.h — shared state of the protobuf reader (proto.c, proto_value.c);
 * internal to src/mil.
 */
#ifndef MIL_PROTO_INTERNAL_H
#define MIL_PROTO_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mil/build.h"
#include "mil/litpack.h"
#include "mil/pbwire.h"

#define PBX_UNUSED __attribute__((unused))
#define MAX_DEPTH 32

/* Shape flexibility of one described input, applied to the params after the program. */
typedef struct flex {
    const char *func, *input;
    int n_shapes;
    mil_shape *shapes;
    int has_range;
    int64_t lo[MIL_MAX_RANK], hi[MIL_MAX_RANK];
    mil_shape def; /* the feature's own shape: the default one */
} flex;

typedef struct pp {
    mil_program *p;
    an_arena *a;
    const uint8_t *base;
    const char *fname;
    an_error *err;
    int depth;
    mil_litbuf lb;
    mil_fbuild *fb;
    const char *cur_func; /* description being read (NULL: single-function) */
    flex *flex;
    int n_flex, cap_flex;
} pp;

PBX_UNUSED __attribute__((format(printf, 3, 4))) static int perr(pp *x, const uint8_t *at, const char *fmt, ...)
{
    if (an_error_isset(x->err))
        return -1;
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return an_errorf(x->err, "%s: byte %zu: %s", x->fname, (size_t)(at - x->base), msg);
}

#define NEXT(x, c, f, rc)                                                                    \
    for (const uint8_t *bad_ = NULL; ((rc) = pb_next((c), (f), &bad_)) != 0 ||                \
                                     0;)                                                       \
        if ((rc) < 0) {                                                                       \
            return perr((x), bad_, "malformed protobuf field");                              \
        } else

PBX_UNUSED static char *pstr(pp *x, const pb_field *f)
{
    return an_arena_strndup(x->a, (const char *)f->sub.p, (size_t)(f->sub.end - f->sub.p));
}

PBX_UNUSED static int want(pp *x, const pb_field *f, int wt, const char *what)
{
    if (f->wt != wt)
        return perr(x, f->at, "%s has the wrong wire type %d", what, f->wt);
    return 0;
}

/* MILSpec.ValueType → type; MILSpec.Value → literal (proto_value.c). */
int pbx_value_type(pp *x, pb_cur c, mil_type *t);
int pbx_value(pp *x, pb_cur c, mil_literal *out);

/* Attributes read from map<string, Value> entries. */
typedef struct attrvec {
    mil_attr *v;
    int n, cap;
} attrvec;
int pbx_attrvec_add(pp *x, attrvec *av, const pb_field *f);
void pbx_attrvec_done(pp *x, attrvec *av, const mil_attr **out, int *n);

#endif
