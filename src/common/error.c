/* error.c — see error.h. */
#include "error.h"

#include <stdio.h>
#include <string.h>

void an_error_clear(an_error *err)
{
    if (err)
        err->msg[0] = '\0';
}

int an_verrorf(an_error *err, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return -1;
}

int an_errorf(an_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    an_verrorf(err, fmt, ap);
    va_end(ap);
    return -1;
}

int an_error_prefix(an_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char ctx[AN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    char old[AN_ERROR_MAX];
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(ctx);
    memcpy(err->msg, ctx, n + 1);
    if (old[0] && n + 2 < sizeof err->msg) {
        memcpy(err->msg + n, ": ", 3);
        n += 2;
        size_t room = sizeof err->msg - n - 1, olen = strlen(old);
        if (olen > room)
            olen = room;
        memcpy(err->msg + n, old, olen);
        err->msg[n + olen] = '\0';
    }
    return -1;
}
