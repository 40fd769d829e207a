/* fuzz_mil_blob.c — the weight blob checks on an arbitrary weight file. The first 16
 * bytes choose the blob offset, dtype and shape; the rest is the file. A blob that passes
 * is read completely (and unpacked when sub-byte), so ASan sees any out-of-bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mil/packed.h"
#include "mil/weights.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 16)
        return 0;
    uint64_t off;
    memcpy(&off, data, 8);
    mil_type t;
    memset(&t, 0, sizeof t);
    t.kind = MIL_TYPE_TENSOR;
    t.dtype = (mil_dtype)(1 + data[8] % (MIL_DT_COUNT - 1));
    t.rank = data[9] % 4;
    for (int i = 0; i < t.rank; i++)
        t.dims[i] = data[10 + 2 * i] | (data[11 + 2 * i] << 8);
    off %= (size - 16) + 64;
    unsigned char *file = malloc(size - 16 + 1);
    if (!file)
        return 0;
    memcpy(file, data + 16, size - 16);
    mil_blob b;
    an_error err = {{0}};
    if (mil_blob_check(file, size - 16, "fuzz.bin", off, &t, &b, &err) == 0) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < b.nbytes; i++)
            sum += ((const unsigned char *)b.data)[i];
        if (mil_dtype_bits(t.dtype) < 8) {
            uint8_t *u = malloc((size_t)b.numel + 1);
            if (u && mil_unpack_dtype(t.dtype, b.data, b.numel, u) == 0)
                sum += u[0];
            free(u);
        }
        (void)sum;
    }
    free(file);
    return 0;
}
