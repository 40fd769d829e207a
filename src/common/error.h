/*
 * error.h — the one error type of anemone.
 *
 * Library code reports failure by returning a non-zero int (or NULL) and filling a
 * caller-provided an_error with one human sentence that names the file and place
 * ("model.mil:12:7: unknown dtype 'fp12'"). It never prints, exits or aborts on input
 * it was given: only src/cli/ decides what reaches the user and with which exit code.
 *
 * An an_error is a plain value: no allocation, safe to put on the stack, and a NULL
 * pointer is accepted everywhere (the message is then dropped).
 */
#ifndef AN_ERROR_H
#define AN_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define AN_ERROR_MAX 1024

typedef struct an_error {
    char msg[AN_ERROR_MAX]; /* NUL-terminated; empty when no error was set */
} an_error;

/* Clear the message. */
void an_error_clear(an_error *err);

/* Set the message (printf-style, truncated to fit). Always returns -1, so that
 * `return an_errorf(err, ...)` reads as the failure it is. */
int an_errorf(an_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int an_verrorf(an_error *err, const char *fmt, va_list ap);

/* Put context in front of an existing message: "<context>: <old message>".
 * Used when an error travels up through a layer that knows where it happened
 * (the file name, the op, the function). Returns -1. */
int an_error_prefix(an_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when a message is set. */
static inline int an_error_isset(const an_error *err) { return err && err->msg[0] != '\0'; }

#endif
