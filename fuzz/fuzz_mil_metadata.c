/* fuzz_mil_metadata.c — metadata.json on arbitrary bytes (after a fixed tiny program, so
 * descriptions can be matched to a function). */
#include <stdlib.h>
#include <string.h>

#include "mil/loaders.h"

static const char PROG[] = "program(1.3)\n{\n func main<ios18>(tensor<fp16, [1]> x) {\n"
                           " tensor<fp16, [1]> y = relu(x = x);\n } -> (y);\n}\n";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    mil_program *p = mil_program_new();
    an_error err = {{0}};
    if (mil_parse_text(p, PROG, sizeof PROG - 1, "p.mil", &err) == 0)
        mil_parse_metadata_json(p, text, size, "fuzz.json", &err);
    mil_program_free(p);
    free(text);
    return 0;
}
