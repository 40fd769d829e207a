/* Fuzz the tree-API and revision-API JSON parsers and the file selection that follows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_tree t = {0};
    an_error err;
    if (hub_tree_parse_json((const char *)data, size, &t, &err) == 0 && t.n) {
        unsigned char *sel = calloc(t.n, 1);
        char *comp[] = {"qwen_embeddings", "qwen_FFN_PF_lut4"};
        const char *inc[] = {"*.md", "extra/"};
        if (sel)
            hub_select_files(&t, comp, 2, inc, 2, NULL, 0, sel);
        free(sel);
    }
    hub_tree_free(&t);
    char *sha = NULL;
    if (hub_revision_parse_json((const char *)data, size, &sha, &err) == 0)
        free(sha);
    return 0;
}
