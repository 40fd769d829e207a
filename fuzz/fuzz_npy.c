/* fuzz_npy.c — libFuzzer target for the .npy parser (mil_npy_parse). */
#include <stddef.h>
#include <stdint.h>

#include "mil/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mil_tensor t;
    an_error err;
    if (mil_npy_parse(data, size, "fuzz.npy", &t, &err) == 0) {
        /* touch every byte the parser claims is there */
        size_t n = mil_tensor_nbytes(&t);
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum ^= ((const uint8_t *)t.data)[i];
        (void)sum;
    }
    return 0;
}
