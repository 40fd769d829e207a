/* Fuzz the meta.yaml reader that decides which component files a download fetches. */
#include <stdint.h>
#include <stdlib.h>

#include "hub/hub_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **names = NULL;
    size_t n = 0, ne = 0;
    an_error err;
    if (hub_meta_components((const char *)data, size, &names, &n, &ne, &err) == 0)
        hub_strv_free(names, n);
    return 0;
}
