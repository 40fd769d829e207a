/* tool_hub_resolve — call hub_resolve_model() as run/chat/show will:
 *   tool_hub_resolve [--prefer-cache] MODEL
 * prints the model directory (exit 0) or the error (exit 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub.h"

int main(int argc, char **argv)
{
    hub_options o = HUB_OPTIONS_INIT;
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--prefer-cache"))
            o.prefer_cache = 1;
        else
            model = argv[i];
    }
    if (!model)
        return 2;
    char *dir = NULL;
    an_error err;
    an_error_clear(&err);
    if (hub_resolve_model(model, &o, &dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%s\n", dir);
    free(dir);
    return 0;
}
