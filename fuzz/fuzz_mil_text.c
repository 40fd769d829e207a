/* fuzz_mil_text.c — the model.mil parser on arbitrary bytes, then the printer. */
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "mil/loaders.h"
#include "mil/print.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    mil_program *p = mil_program_new();
    an_error err = {{0}};
    if (mil_parse_text(p, text, size, "fuzz.mil", &err) == 0) {
        an_strbuf sb;
        an_sb_init(&sb);
        mil_print_program(p, &sb);
        an_sb_free(&sb);
    }
    mil_program_free(p);
    free(text);
    return 0;
}
