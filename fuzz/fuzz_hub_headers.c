/* Fuzz the response-header parser and the Link pagination parser: input is a raw header
 * block (lines split at '\n'), as a hostile server could send it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_headers h;
    hub_headers_reset(&h);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        hub_headers_feed(&h, p, n);
        p += n;
    }
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        char out[512];
        hub_link_next(s, out, sizeof out);
        char e[64];
        hub_etag_normalize(s, e, sizeof e);
        hub_etag_valid(e);
        free(s);
    }
    return 0;
}
