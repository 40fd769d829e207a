/*
 * packed.h — sub-byte element packing (COREML-FORMAT.md §3.3).
 *
 * uint1/2/3/4/6 and int4 values are stored as one continuous LSB-first bit stream:
 * element i occupies stream bits [i*b, i*b + b), stream bit k being bit k%8 of byte k/8;
 * a value may straddle two bytes (uint3, uint6). The same packing is used in weight
 * blobs, inline `bytes` tensor values and iOS16 LUT index vectors. Pure functions, no
 * allocation, thread-safe.
 */
#ifndef MIL_PACKED_H
#define MIL_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "mil/ir.h"

/* Bytes needed for n packed b-bit elements: ceil(n*b/8). */
static inline size_t mil_packed_bytes(int64_t n, int bits) { return (size_t)(((uint64_t)n * (uint64_t)bits + 7) / 8); }

/* Unpack n b-bit elements (1 <= bits <= 8) from src (at least mil_packed_bytes(n, bits)
 * bytes) into dst, one byte each. Unsigned values go to uint8 0..2^b-1; with is_signed
 * the values are sign-extended two's complement (int4 → -8..7) and dst is int8. */
void mil_unpack_bits(const uint8_t *src, int64_t n, int bits, int is_signed, uint8_t *dst);

/* The inverse: pack n values (low `bits` bits of each byte of src) into dst, which must
 * hold mil_packed_bytes(n, bits) bytes; unused trailing bits are zero. */
void mil_pack_bits(const uint8_t *src, int64_t n, int bits, uint8_t *dst);

/* Unpack a sub-byte dtype (uint1/2/3/4/6 → uint8, int4 → int8); -1 for other dtypes. */
int mil_unpack_dtype(mil_dtype dt, const void *src, int64_t n, void *dst);

#endif
