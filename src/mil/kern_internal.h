/*
 * kern_internal.h — what the kernel implementations share (not part of the contract).
 *
 * kn_prepare builds one kn_prep per weight; every ISA reads it. The per-ISA entry points
 * return -1 when they do not cover a shape (the portable version then runs), so a fast
 * path only has to handle the layouts that matter (block-aligned K and palette groups).
 */
#ifndef MIL_KERN_INTERNAL_H
#define MIL_KERN_INTERNAL_H

#include <string.h>

#include "common/fp16.h"
#include "mil/kern.h"

typedef struct kn_prep {
    int64_t P;       /* palettes: (N/gn)*(K/gk) for LUT weights, else 0 */
    int64_t kp;      /* palettes along a row: K/gk */
    int E;           /* entries per palette: 1 << bits */
    float *pal;      /* [P][E] the palettes in fp32 (exact copies of the fp16/fp32 entries);
                      * NULL on the 16-bit path */
    uint16_t *pal16; /* KN_F32, 6 or 8 bits, fp16 palettes: [P][E] the fp16 entries (16-bit
                      * permutes look up 32 at once where fp32 tables need a gather or
                      * two permutes and a blend per 16) */
    /* KN_I8 only */
    int8_t *qpal;    /* [P][E] round(pal / qscale), in -127..127 */
    uint8_t *upal;   /* [P][E] qpal + 128: the unsigned operand of u8 x s8 dot products */
    float *qscale;   /* [P] max |entry| / 127 (0 for an all-zero palette) */
    int8_t *w8;      /* 8-bit indices only: [N][K] the int8 weights, precomputed because an
                      * in-kernel 256-entry byte lookup costs more than reading one byte
                      * per weight (same size as the indices, so traffic is unchanged) */
    /* KN_I16 only */
    int ES;          /* entries stored per palette: max(E, 32) (smaller palettes repeat
                      * cyclically, so a 32-entry vpermw can use 5 index bits) */
    int16_t *wpal;   /* up to 5 bits: [P][ES] round(entry / wscale), in +-KN_I16_QW */
    uint8_t *wlo, *whi; /* 6 and 8 bits instead: [P][E] the low and high bytes of those
                      * integers (vpermb tables) */
    float *wscale;   /* [P] max |entry| / KN_I16_QW (0 for an all-zero palette) */
} kn_prep;

/* Blocks of the quantized activations that kn_act's prefix sums are kept at. */
#define KN_QBLK 64

/* One ISA's kn_matmul: 0 when done, -1 when it does not cover this weight/shape. */
typedef int (*kn_impl_fn)(const kn_weight *w, const kn_act *a, const float *bias, void *y,
                          int y_f16, int64_t ym, int64_t yn, int64_t n0, int64_t n1);

int kn_matmul_c(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                int64_t ym, int64_t yn, int64_t n0, int64_t n1);
#if defined(__x86_64__)
int kn_matmul_avx2(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                   int64_t ym, int64_t yn, int64_t n0, int64_t n1);
int kn_matmul_avx512(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                     int64_t ym, int64_t yn, int64_t n0, int64_t n1);
void kn_act_i16_avx512(const float *x, int64_t M, int64_t K, int64_t Kp, float *qs, int16_t *q, int16_t *re,
                       int16_t *ru, int64_t Mp);
void kn_avx512_store_block(const float *c, int nr, const float *qscale, int64_t ms, int64_t me, const float *bias,
                           void *y, int y_f16, int64_t ym, int64_t yn, int64_t nb);
int kn_gemm_dense_avx512(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym,
                         int64_t yn, int64_t n0, int64_t n1);
void kn_act_i16_conv_avx512(const uint16_t *src, int64_t sk, int64_t M, int64_t K, int64_t Kp, int64_t Mp,
                            float *qs, int16_t *re, int16_t *ru);
int kn_matmul_avx512_i16(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                         int64_t ym, int64_t yn, int64_t n0, int64_t n1);
#endif
#if defined(__aarch64__)
int kn_matmul_neon(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                   int64_t ym, int64_t yn, int64_t n0, int64_t n1);
#endif

/* Entry e of palette p on the 16-bit path. */
static inline int16_t kn_w16(const kn_prep *pr, int64_t p, unsigned e)
{
    if (pr->wpal)
        return pr->wpal[p * pr->ES + e];
    return (int16_t)(uint16_t)(pr->wlo[p * pr->E + e] | (unsigned)pr->whi[p * pr->E + e] << 8);
}

/* Index element i of a packed LSB-first stream (the decoding of ops_const.c run_lut). */
static inline unsigned kn_index_at(const uint8_t *b, int64_t i, int bits)
{
    uint64_t bit = (uint64_t)i * (uint64_t)bits;
    unsigned v = b[bit >> 3] >> (bit & 7);
    if ((bit & 7) + (uint64_t)bits > 8)
        v |= (unsigned)b[(bit >> 3) + 1] << (8 - (bit & 7));
    return v & ((1u << bits) - 1u);
}

/* Palette of row n, column k. */
static inline int64_t kn_pal_of(const kn_weight *w, const kn_prep *pr, int64_t n, int64_t k)
{
    return (n / w->gn) * pr->kp + k / w->gk;
}

/* Y(m, n) = v, rounded to fp16 when asked. */
static inline void kn_store(void *y, int y_f16, int64_t off, float v)
{
    if (y_f16)
        ((uint16_t *)y)[off] = an_fp32_to_fp16(v);
    else
        ((float *)y)[off] = v;
}

/* Prefix sums of quantized row m: [0] = 0, [j] = sum of q[0 .. 64j). */
static inline const int32_t *kn_qsum_row(const kn_act *a, int64_t m)
{
    return a->qsum + m * (a->Kp / KN_QBLK + 1);
}

#endif
