/*
 * fp16.h — IEEE 754 binary16 <-> binary32 conversion.
 *
 * Exact: fp32 -> fp16 rounds to nearest, ties to even, with subnormals, overflow to
 * infinity, and NaN kept as a quiet NaN with its payload's top bits (what the F16C and
 * ARM conversion instructions do). fp16 -> fp32 is exact for every value; a signalling
 * NaN comes back quiet, again as the hardware does.
 *
 * The scalar functions are portable bit manipulation. The bulk functions use F16C when
 * the CPU has it (checked once at run time) and give bit-identical results either way.
 */
#ifndef AN_FP16_H
#define AN_FP16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float an_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise into an fp32 normal */
            int e = -1;
            do {
                mant <<= 1;
                e++;
            } while (!(mant & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0u);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t an_fp32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) /* inf, or NaN made quiet with the payload's top bits */
        return x == 0x7f800000u ? (uint16_t)(sign | 0x7c00u)
                                : (uint16_t)(sign | 0x7e00u | ((x & 0x7fffffu) >> 13));
    if (x >= 0x477ff000u) /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (x < 0x38800000u) { /* below 2^-14: an fp16 subnormal or zero */
        if (x <= 0x33000000u) /* <= 2^-25: rounds to zero (2^-25 is a tie, even is 0) */
            return sign;
        uint32_t e = x >> 23, mant = (x & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((((x >> 23) - 127 + 15) << 10) | ((x & 0x7fffffu) >> 13));
    uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++; /* a carry into the exponent is the correct next binade */
    return (uint16_t)(sign | h);
}

/* Round an fp32 value to the nearest fp16 value, returned as fp32. */
static inline float an_fp16_round(float f) { return an_fp16_to_fp32(an_fp32_to_fp16(f)); }

/* Bulk conversions; src and dst must not overlap. */
void an_fp16_to_fp32_n(const uint16_t *src, float *dst, size_t n);
void an_fp32_to_fp16_n(const float *src, uint16_t *dst, size_t n);

/* Whether the bulk functions use the hardware path. an_fp16_set_hw(0) forces the
 * portable path (tests compare the two); an_fp16_set_hw(1) re-enables hardware when
 * the CPU has it. Not thread-safe: call before starting work. */
int an_fp16_hw(void);
void an_fp16_set_hw(int enable);

#endif
