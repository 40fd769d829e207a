/*
 * kern.h — matrix kernels over fp32, fp16 and LUT-compressed weights.
 *
 * Every projection of an ANEMLL graph (a 1x1 conv or a linear whose weight is a constant,
 * often constexpr_lut_to_dense) is Y = X · Wᵀ (+ bias): X is M rows of K activations
 * (M = 1 in decode, the batch in prefill), W is N rows of K weights. The kernels read W
 * in its stored form: dense fp32/fp16 rows, or LUT-compressed rows (packed 1..8-bit
 * indices into fp16/fp32 palettes), expanding inside the kernel so that memory traffic
 * stays at the compressed size. Nothing here allocates after kn_prepare.
 *
 * Two arithmetic paths:
 *   KN_F32  weights expanded to fp32, fp32 FMAs (exact up to summation order);
 *   KN_I8   palettes requantized to int8 per palette (one fp32 scale each), activations
 *           quantized to int8 per row (one fp32 scale per row), int32 dot products
 *           (byte shuffles for the palette lookup, VNNI / maddubs for the products).
 *   KN_I16  palettes requantized to 12-bit integers per palette (|q| <= KN_I16_QW, one fp32
 *           scale each), activations to 14-bit integers per row (|q| <= KN_I16_QX),
 *           products of pairs summed in int32 (vpdpwssd / pmaddwd) and moved to fp32 every
 *           KN_I16_FLUSH products per lane, so no sum can overflow whatever the data.
 *           Errors stay below fp16 rounding of the inputs for typical rows; the engine's
 *           accuracy tests pass on it where KN_I8 fails them.
 * Each path has an AVX-512 and an AVX2 version (chosen at run time from the CPU
 * features), a NEON version on aarch64, and a portable C version; all versions of a path
 * agree with the plain reference (kn_matmul_ref) to rounding.
 *
 * Threads: kn_matmul computes the output rows [n0, n1) only, so callers split N across
 * threads; kn_act_prepare runs once per call, before. A prepared weight and prepared
 * activations are read-only in kn_matmul: any number of threads may run it at once on
 * disjoint row ranges. The results of a row do not depend on the range it was computed
 * in (same ISA, same M).
 *
 * Coverage: every ISA version handles fp32/fp16 weights of any K and LUT weights with
 * 4, 6 or 8 bits when K and gk are multiples of its block (AVX-512: 16 on the fp32
 * path, 64 on the int8 path, 128 on the 16-bit path; AVX2: 8 / 32; NEON: 16 / 16); the
 * 16-bit path has AVX-512 kernels only (kern_avx512_i16.c), transposed dense weights
 * (wt) run on AVX-512 when M > 4 (kern_avx512_dense.c); every other case (1, 2, 3 bits,
 * odd K or gk, another ISA) runs the portable version, so results are always produced.
 */
#ifndef MIL_KERN_H
#define MIL_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum kn_wkind { KN_W_F32 = 0, KN_W_F16, KN_W_LUT } kn_wkind;
typedef enum kn_path { KN_F32 = 0, KN_I8 = 1, KN_I16 = 2 } kn_path;

typedef struct kn_weight {
    kn_wkind kind;
    int64_t N, K;      /* W has N rows (outputs) of K columns (inputs) */
    const void *data;  /* F32/F16: dense row-major [N][K]. LUT: packed indices of the
                        * row-major [N][K] index matrix, `bits` bits each, LSB first
                        * (element i occupies bits [i*bits, (i+1)*bits) of the byte
                        * string, bit 0 = least significant bit of byte 0): Core ML's
                        * packing of sub-byte types and of iOS16 LUT indices. */
    /* LUT only */
    int bits;          /* 1, 2, 3, 4, 6 or 8 */
    const void *lut;   /* palettes [N/gn][K/gk][1<<bits], scalar entries */
    int lut_f32;       /* palette entries are fp32 (else fp16) */
    int64_t gn, gk;    /* rows / columns sharing one palette: W[n][k] uses palette
                        * (n/gn)*(K/gk) + k/gk. gn divides N, gk divides K. */
    int wt;            /* F32/F16 only: data holds W transposed, [K][N] row-major (a matmul
                        * whose y is not transposed, attention weights x values) */
    /* filled by kn_prepare, freed by kn_release */
    kn_path path;
    void *prep;
    size_t prep_bytes;
} kn_weight;

/* Choose the path and precompute what the kernels need (fp32 palettes, int8 palettes and
 * their scales): O(number of palettes), except KN_I8 with 8-bit indices, which keeps
 * the int8 weights themselves (N*K bytes, the size of the indices: a byte lookup in a
 * 256-entry table costs more than reading the byte). The path is honoured for LUT
 * weights; dense (F32, F16) weights always get KN_F32 (w->path tells). The weight's
 * data and lut must outlive the preparation. 0, or -1 + err (unsupported bits, groups
 * that do not divide N/K, out of memory). */
int kn_prepare(kn_weight *w, kn_path path, an_error *err);
void kn_release(kn_weight *w);

/* KN_I16 integer ranges: KN_I16_QX * KN_I16_QW * KN_I16_FLUSH < 2^31. */
#define KN_I16_QX 8191
#define KN_I16_QW 2047
#define KN_I16_FLUSH 128

/* Activations prepared for one kn_matmul call (or several sharing X). */
typedef struct kn_act {
    int64_t M, K;
    const float *x;   /* dense fp32 [M][K] (inside buf) */
    const float *xd;  /* KN_F32 and M <= 4 (else not filled): x again, [M][K], each full
                       * 32-column block reordered even columns first, then odd (the
                       * order LUT4 decode kernels read in); a partial last block as is */
    const int8_t *q;  /* KN_I8: quantized rows [M][Kp] (Kp = K rounded up to 64, zero pad) */
    const float *qscale; /* KN_I8: per row */
    const int32_t *qsum; /* KN_I8: per row, prefix sums of q at every 64 columns:
                          * [M][Kp/64 + 1], qsum[m][j] = sum of q[m][0 .. 64j) (they take
                          * back the +128 of unsigned-times-signed products per palette) */
    int64_t Kp;
    /* KN_I16 (qscale holds the per-row scales: max|x| / KN_I16_QX) */
    const int16_t *q16;  /* [M][Kp] round(x / qscale), zero padded; an intermediate that
                          * only some preparations fill (NULL otherwise): kernels read the
                          * reordered copies below */
    const int16_t *q16e; /* M <= 4: q16 with each 64-column block reordered even columns,
                          * then odd (the order LUT4 words come out of vpmovzxbw + vpermw) */
    const int16_t *q16u; /* M <= 4: each 64-column block in byte-unpack order: columns 0-7,
                          * 16-23, 32-39, 48-55, then 8-15, 24-31, 40-47, 56-63 */
    const int16_t *p16e, *p16u; /* M > 4: panels [Kp/2][Mp][2]: for pair j of a block (in
                          * the q16e / q16u order), the two values of every row m;
                          * rows M..Mp are zero */
    int64_t Mp;          /* M rounded up to 16 (KN_F32 with M > 4 too) */
    const float *xt;     /* KN_F32, M > 4: X transposed, [K][Mp], rows M..Mp zero (the
                          * dense prefill kernels keep rows of X in the vector lanes) */
} kn_act;

/* The path LUT weights should take here: KN_I16 where this CPU's kernels implement it
 * (AVX-512 with VNNI and VBMI), else KN_F32. Both pass the engine's accuracy tests; KN_I16
 * decodes 1.3-2.3x and prefills 2-3x faster (tool_kernbench). KN_I8 is never chosen (it fails
 * them). */
kn_path kn_default_path(void);

/* Bytes of buf that kn_act_prepare needs for M rows of K (every path). */
size_t kn_act_bytes(int64_t M, int64_t K);

/* Gather X into buf: element (m, k) is at src + (m*sm + k*sk) elements of type
 * src_f16 ? fp16 : fp32 (strides let a conv's [C, S] layout be read as [S][C] rows).
 * Quantizes too when path is KN_I8: qscale = max|x| / 127 per row, q = x / qscale
 * rounded to nearest, in -127..127 (non-finite values quantize to 0); when path is KN_I16,
 * qscale = max|x| / KN_I16_QX and the reordered copies likewise (a conv's fp16 [C, S] input
 * with M > 4 goes straight to the panels: x and q16 are then not filled). buf must be
 * 64-byte aligned and hold kn_act_bytes(M, K); a points into it. */
void kn_act_prepare(kn_act *a, const void *src, int src_f16, int64_t M, int64_t K, int64_t sm,
                    int64_t sk, kn_path path, void *buf);

/* Y(m, n) = sum_k X(m, k) W(n, k) + (bias ? bias[n] : 0) for m < M, n0 <= n < n1, stored
 * at y + m*ym + n*yn as fp16 (y_f16) or fp32. w must be prepared; a->M rows, a->K == w->K.
 * The path is w->path; a must have been prepared for it. */
void kn_matmul(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
               int64_t ym, int64_t yn, int64_t n0, int64_t n1);

/* The plain reference: double accumulation over the exact fp32 weights (no path, no
 * preparation), the LUT decoded as constexpr_lut_to_dense does; x is [M][K], y is
 * [M][N] fp32. For tests. */
void kn_matmul_ref(const kn_weight *w, const float *x, int64_t M, const float *bias, float *y);

/* Which implementation kn_matmul uses on this CPU: "avx512", "avx2", "neon", "c". */
const char *kn_isa(void);
/* Force an implementation for tests and benchmarks ("c", "avx2", "avx512", "neon");
 * refused (-1) when the CPU lacks it. NULL restores the automatic choice. Process-wide:
 * call it while no kn_matmul runs. */
int kn_force_isa(const char *isa);

#endif
