/* Fuzz zip extraction: any archive must either extract inside its directory or be
 * refused, never write elsewhere, never crash. The input is written to a temporary file
 * (libzip reads files) and extracted into a temporary directory that is then removed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/hub_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/anemone-fuzz-zip-XXXXXX");
        if (!mkdtemp(dir))
            return 0;
    }
    char zp[128], dest[128];
    snprintf(zp, sizeof zp, "%s/in.zip", dir);
    snprintf(dest, sizeof dest, "%s/out", dir);
    FILE *f = fopen(zp, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    an_error err;
    hub_zip_extract(zp, dest, &err);
    hub_rm_rf(dest);
    unlink(zp);
    /* Also the name checks on the raw bytes as a string. */
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        hub_relpath_safe(s);
        char *sep = strchr(s, '|');
        if (sep) {
            *sep = '\0';
            hub_zip_link_safe(s, sep + 1);
        }
        free(s);
    }
    return 0;
}
