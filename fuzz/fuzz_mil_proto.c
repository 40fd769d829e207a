/* fuzz_mil_proto.c — the protobuf Model reader on arbitrary bytes, then the printer. */
#include "common/strbuf.h"
#include "mil/loaders.h"
#include "mil/print.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    mil_program *p = mil_program_new();
    an_error err = {{0}};
    if (mil_parse_proto(p, data, size, "fuzz.mlmodel", &err) == 0) {
        an_strbuf sb;
        an_sb_init(&sb);
        mil_print_program(p, &sb);
        an_sb_free(&sb);
    }
    mil_program_free(p);
    return 0;
}
