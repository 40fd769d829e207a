/* packed.c — sub-byte packing (packed.h, COREML-FORMAT.md §3.3). */
#include "mil/packed.h"

#include <string.h>

void mil_unpack_bits(const uint8_t *src, int64_t n, int bits, int is_signed, uint8_t *dst)
{
    if (bits == 8) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    const unsigned mask = (1u << bits) - 1;
    if (bits == 4 && !is_signed) {
        int64_t i = 0;
        for (; i + 1 < n; i += 2) {
            uint8_t b = src[i >> 1];
            dst[i] = b & 0xf;
            dst[i + 1] = b >> 4;
        }
        if (i < n)
            dst[i] = src[i >> 1] & 0xf;
        return;
    }
    uint64_t bit = 0;
    for (int64_t i = 0; i < n; i++, bit += (uint64_t)bits) {
        size_t byte = (size_t)(bit >> 3);
        unsigned sh = (unsigned)(bit & 7);
        unsigned v = src[byte] >> sh;
        if (sh + (unsigned)bits > 8)
            v |= (unsigned)src[byte + 1] << (8 - sh);
        v &= mask;
        if (is_signed && (v & (1u << (bits - 1))))
            v |= ~mask; /* sign-extend into the byte */
        dst[i] = (uint8_t)v;
    }
}

void mil_pack_bits(const uint8_t *src, int64_t n, int bits, uint8_t *dst)
{
    size_t nb = mil_packed_bytes(n, bits);
    memset(dst, 0, nb);
    const unsigned mask = (1u << bits) - 1;
    uint64_t bit = 0;
    for (int64_t i = 0; i < n; i++, bit += (uint64_t)bits) {
        size_t byte = (size_t)(bit >> 3);
        unsigned sh = (unsigned)(bit & 7);
        unsigned v = src[i] & mask;
        dst[byte] |= (uint8_t)(v << sh);
        if (sh + (unsigned)bits > 8)
            dst[byte + 1] |= (uint8_t)(v >> (8 - sh));
    }
}

int mil_unpack_dtype(mil_dtype dt, const void *src, int64_t n, void *dst)
{
    switch (dt) {
    case MIL_DT_UINT1:
    case MIL_DT_UINT2:
    case MIL_DT_UINT3:
    case MIL_DT_UINT4:
    case MIL_DT_UINT6:
        mil_unpack_bits(src, n, mil_dtype_bits(dt), 0, dst);
        return 0;
    case MIL_DT_INT4:
        mil_unpack_bits(src, n, 4, 1, dst);
        return 0;
    default:
        return -1;
    }
}
