/*
 * kern_avx512_i16.c — the AVX-512 kernels of the 16-bit integer path (KN_I16).
 *
 * 64 weights at a time are looked up as two zmm of 32 int16 words and multiplied with the
 * 15-bit activations by vpdpwssd (two products per int32 lane):
 *   LUT4  32 index bytes widened to words (vpmovzxbw); vpermw reads the low 5 bits, so a
 *         32-word table (the 16 entries twice) looks up the low nibbles directly (even
 *         columns) and the high nibbles after a shift (odd columns): order "e";
 *   LUT6  48 bytes spread to one index per byte (vpermb + vpmultishiftqb); vpermb looks
 *         up the low and the high bytes of the 64 entries; vpunpck{l,h}bw join them:
 *         order "u" (within each 128-bit lane, bytes 0-7 then 8-15);
 *   LUT8  64 index bytes; two vpermt2b per byte plane (128 entries each) and a blend on
 *         bit 7; joined as for LUT6.
 * The activations come in the same column orders (kn_act q16e/q16u, p16e/p16u), so no
 * weight is ever moved back to column order.
 *
 * M <= 4 (decode): rows in groups of 16 finished by one transposing reduction, as the
 * fp32 path does. Each int32 lane takes two products per 64 columns, so sums move to fp32
 * every 4096 columns (128 products: KN_I16_FLUSH) and at every palette boundary.
 * M > 4 (prefill): NR rows of W are decoded, KB columns at a time, into a stack tile;
 * a register block of NR rows x 64 rows of X (4 zmm, rows of X in the lanes) runs over
 * it, a broadcast column pair of W against a panel vector of X per vpdpwssd. Each lane
 * takes two products per column pair, so KB = KN_I16_FLUSH columns between flushes.
 *
 * Covered: LUT 4/6/8 with K and gk multiples of 64. The rest returns -1.
 */
#include "mil/kern_avx512.h"

#if defined(__x86_64__)

enum { W4, W6, W8 };

/* acc + pairwise products of a and b. GCC 12 keeps a copy of the accumulator around every
 * _mm512_dpwssd_epi32 in a loop (and spills register blocks); the instruction itself is
 * accumulate-in-place, which the asm states. */
INL __m512i dpw(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
    return acc;
}

#define NR 4              /* rows of W per prefill register block */
#define KB KN_I16_FLUSH   /* columns per prefill tile (and per flush) */
#define GEMV_FLUSH 4096   /* columns per flush in decode: 128 products per lane */
#define PF 4096           /* prefetch distance in bytes of indices, into L2 (T1): measured
                           * 8% faster decode than into L1 (T0), whose few fill buffers the
                           * prefetches then compete for with the loads */

/* LUT6: qword q gets the 8 bytes from 6q; vpmultishiftqb then takes bits 6j.. into byte j */
static const uint8_t PB6[64] = {
    0,  1,  2,  3,  4,  5,  6,  7,  6,  7,  8,  9,  10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
    18, 19, 18, 19, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 30, 31, 30, 31, 32, 33,
    34, 35, 36, 37, 36, 37, 38, 39, 40, 41, 42, 43, 42, 43, 44, 45, 46, 47, 47, 47,
};
static const uint64_t SH6 = 0x2a241e18120c0600ull; /* shifts 0, 6, 12, .., 42 */

typedef struct tabs {
    __m512i t;           /* W4: the 32-word table */
    __m512i lo[4], hi[4]; /* W6: lo[0], hi[0]; W8: four 64-byte quarters of each plane */
} tabs;

INL tabs tabs_load(int code, const kn_prep *pr, int64_t p)
{
    tabs T;
    T.t = _mm512_setzero_si512();
    UNROLL
    for (int j = 0; j < 4; j++)
        T.lo[j] = T.hi[j] = _mm512_setzero_si512();
    if (code == W4) {
        T.t = _mm512_loadu_si512(pr->wpal + p * pr->ES);
    } else {
        int nq = code == W8 ? 4 : 1;
        for (int j = 0; j < nq; j++) {
            T.lo[j] = _mm512_loadu_si512(pr->wlo + p * pr->E + 64 * j);
            T.hi[j] = _mm512_loadu_si512(pr->whi + p * pr->E + 64 * j);
        }
    }
    return T;
}

/* Bytes of indices per 64 columns. */
static inline int64_t blk_bytes(int code) { return code == W4 ? 32 : code == W6 ? 48 : 64; }

/* The 64 weights of the block at b, as words in the code's column order. */
INL void dec64(int code, const uint8_t *b, const tabs *T, __m512i *A, __m512i *B)
{
    if (code == W4) {
        __m512i d = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)b));
        *A = _mm512_permutexvar_epi16(d, T->t);
        *B = _mm512_permutexvar_epi16(_mm512_srli_epi16(d, 4), T->t);
        return;
    }
    __m512i lo, hi;
    if (code == W6) {
        __m512i z = _mm512_maskz_loadu_epi8(0xffffffffffffull, b);
        __m512i d = _mm512_multishift_epi64_epi8(_mm512_set1_epi64((long long)SH6),
                                                 _mm512_permutexvar_epi8(_mm512_loadu_si512(PB6), z));
        lo = _mm512_permutexvar_epi8(d, T->lo[0]);
        hi = _mm512_permutexvar_epi8(d, T->hi[0]);
    } else {
        __m512i d = _mm512_loadu_si512(b);
        __mmask64 top = _mm512_movepi8_mask(d);
        lo = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(T->lo[0], d, T->lo[1]),
                                    _mm512_permutex2var_epi8(T->lo[2], d, T->lo[3]));
        hi = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(T->hi[0], d, T->hi[1]),
                                    _mm512_permutex2var_epi8(T->hi[2], d, T->hi[3]));
    }
    *A = _mm512_unpacklo_epi8(lo, hi);
    *B = _mm512_unpackhi_epi8(lo, hi);
}

/* ---- decode: M <= 4 ---- */

/* out[16 m]: a vector whose lanes sum to (row n of W) . (row m of X) / qscale[m]. */
INL void gemv_row(int code, int MB, const kn_weight *w, const kn_prep *pr, const int16_t *const *xr,
                  int64_t n, __m512 *out)
{
    int64_t K = w->K, gk = w->gk, kp = pr->kp, bb = blk_bytes(code);
    const uint8_t *row = (const uint8_t *)w->data + n * K * w->bits / 8;
    __m512 f[4];
    UNROLL
    for (int m = 0; m < 4; m++)
        f[m] = _mm512_setzero_ps();
    for (int64_t s = 0; s < kp; s++) {
        int64_t p = (n / w->gn) * kp + s;
        tabs T = tabs_load(code, pr, p);
        __m512 sc = _mm512_set1_ps(pr->wscale[p]);
        for (int64_t k0 = s * gk; k0 < (s + 1) * gk; k0 += GEMV_FLUSH) {
            int64_t k1 = k0 + GEMV_FLUSH < (s + 1) * gk ? k0 + GEMV_FLUSH : (s + 1) * gk;
            /* two blocks per step, four accumulators per row: the vpdpwssd latency is hidden */
            __m512i acc[4][4];
            UNROLL
            for (int m = 0; m < 4; m++)
                acc[m][0] = acc[m][1] = acc[m][2] = acc[m][3] = _mm512_setzero_si512();
            const uint8_t *bp = row + k0 / 64 * bb;
            for (int64_t k = k0; k < k1; k += 128, bp += 2 * bb) {
                _mm_prefetch((const char *)bp + PF, _MM_HINT_T1);
                if (bb > 32)
                    _mm_prefetch((const char *)bp + PF + 64, _MM_HINT_T1);
                __m512i A, B, C, D;
                dec64(code, bp, &T, &A, &B);
                dec64(code, bp + bb, &T, &C, &D);
                UNROLL
                for (int m = 0; m < MB; m++) {
                    acc[m][0] = dpw(acc[m][0], A, _mm512_loadu_si512(xr[m] + k));
                    acc[m][1] = dpw(acc[m][1], B, _mm512_loadu_si512(xr[m] + k + 32));
                    acc[m][2] = dpw(acc[m][2], C, _mm512_loadu_si512(xr[m] + k + 64));
                    acc[m][3] = dpw(acc[m][3], D, _mm512_loadu_si512(xr[m] + k + 96));
                }
            }
            UNROLL
            for (int m = 0; m < MB; m++)
                UNROLL
                for (int j = 0; j < 4; j++)
                    f[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][j]), sc, f[m]);
        }
    }
    UNROLL
    for (int m = 0; m < MB; m++)
        out[16 * m] = f[m];
}

INL void gemv(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym,
              int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    const int16_t *xb = code == W4 ? a->q16e : a->q16u;
    __m512 v[4][16];
    int M = (int)a->M;
    const int16_t *xr[4];
    UNROLL
    for (int m = 0; m < 4; m++)
        xr[m] = xb + (m < M ? m : 0) * a->Kp;
    for (int64_t nb = n0; nb < n1; nb += 16) {
        int ng = n1 - nb < 16 ? (int)(n1 - nb) : 16;
        for (int r = 0; r < 16; r++) {
            if (r >= ng) {
                for (int m = 0; m < 4; m++)
                    v[m][r] = _mm512_setzero_ps();
                continue;
            }
            switch (M) {
            case 1: gemv_row(code, 1, w, pr, xr, nb + r, &v[0][r]); break;
            case 2: gemv_row(code, 2, w, pr, xr, nb + r, &v[0][r]); break;
            case 3: gemv_row(code, 3, w, pr, xr, nb + r, &v[0][r]); break;
            default: gemv_row(code, 4, w, pr, xr, nb + r, &v[0][r]); break;
            }
        }
        for (int m = 0; m < M; m++)
            store16(y, y_f16, m * ym + nb * yn, yn, _mm512_mul_ps(hsum16_ps(v[m]), _mm512_set1_ps(a->qscale[m])), bias,
                    nb, ng);
    }
}

/* ---- prefill: M > 4 ---- */

/* Columns [k0, k0+KB) of rows nb.. (clamped to n1-1) as words in the code's order. */
INL void tile_decode(int code, const kn_weight *w, const kn_prep *pr, int64_t nb, int64_t n1, int64_t k0,
                     int16_t *tile, float *scale)
{
    int64_t bb = blk_bytes(code);
    for (int r = 0; r < NR; r++) {
        int64_t n = nb + r < n1 ? nb + r : n1 - 1;
        int64_t p = (n / w->gn) * pr->kp + k0 / w->gk;
        tabs T = tabs_load(code, pr, p);
        scale[r] = pr->wscale[p];
        const uint8_t *bp = (const uint8_t *)w->data + n * w->K * w->bits / 8 + k0 / 64 * bb;
        UNROLL
        for (int j = 0; j < KB / 64; j++) {
            __m512i A, B;
            dec64(code, bp + j * bb, &T, &A, &B);
            _mm512_store_si512(tile + r * KB + 64 * j, A);
            _mm512_store_si512(tile + r * KB + 64 * j + 32, B);
        }
    }
}

/* c[r][16 v ..] += wscale(r) * (tile row r) . (panel columns), rows ms .. ms + 16 MV of X. */
INL void gemm_block(int MV, const int16_t *tile, const float *scale, const int16_t *panel, int64_t Mp,
                    float *c)
{
    __m512i acc[NR][4];
    UNROLL
    for (int r = 0; r < NR; r++)
        UNROLL
        for (int v = 0; v < 4; v++)
            acc[r][v] = _mm512_setzero_si512();
    for (int j = 0; j < KB / 2; j++) {
        const int16_t *pj = panel + j * Mp * 2;
        __m512i xv[4];
        UNROLL
        for (int v = 0; v < MV; v++)
            xv[v] = _mm512_loadu_si512(pj + 32 * v);
        UNROLL
        for (int r = 0; r < NR; r++) {
            int32_t pair;
            memcpy(&pair, tile + r * KB + 2 * j, 4);
            __m512i b = _mm512_set1_epi32(pair);
            UNROLL
            for (int v = 0; v < MV; v++)
                acc[r][v] = dpw(acc[r][v], xv[v], b);
        }
    }
    UNROLL
    for (int r = 0; r < NR; r++) {
        __m512 sc = _mm512_set1_ps(scale[r]);
        UNROLL
        for (int v = 0; v < MV; v++) {
            float *cp = c + r * 64 + 16 * v;
            _mm512_store_ps(cp, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][v]), sc, _mm512_load_ps(cp)));
        }
    }
}

/* Rows of W per sweep: their partial sums (NC x 64 fp32) stay in L1/L2 while the KB-column
 * slice of the X panel (16 KB) is reused by every register block of the sweep. */
#define NC (16 * NR)

INL void gemm(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym,
              int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    const int16_t *pan = code == W4 ? a->p16e : a->p16u;
    int64_t K = w->K, M = a->M, Mp = a->Mp;
    int16_t tile[NR * KB] __attribute__((aligned(64)));
    float c[NC * 64] __attribute__((aligned(64)));
    float scale[NR];
    for (int64_t nc0 = n0; nc0 < n1; nc0 += NC) {
        int64_t nc1 = nc0 + NC < n1 ? nc0 + NC : n1;
        for (int64_t ms = 0; ms < M; ms += 64) {
            int MV = (int)((Mp - ms) / 16 < 4 ? (Mp - ms) / 16 : 4);
            memset(c, 0, sizeof c);
            for (int64_t k0 = 0; k0 < K; k0 += KB) {
                const int16_t *panel = pan + (k0 / 2 * Mp + ms) * 2;
                for (int64_t nb = nc0; nb < nc1; nb += NR) {
                    float *cb = c + (nb - nc0) * 64;
                    tile_decode(code, w, pr, nb, nc1, k0, tile, scale);
                    switch (MV) {
                    case 1: gemm_block(1, tile, scale, panel, Mp, cb); break;
                    case 2: gemm_block(2, tile, scale, panel, Mp, cb); break;
                    case 3: gemm_block(3, tile, scale, panel, Mp, cb); break;
                    default: gemm_block(4, tile, scale, panel, Mp, cb); break;
                    }
                }
            }
            int64_t me = ms + 64 < M ? ms + 64 : M;
            for (int64_t nb = nc0; nb < nc1; nb += NR)
                kn_avx512_store_block(c + (nb - nc0) * 64, nc1 - nb < NR ? (int)(nc1 - nb) : NR, a->qscale, ms, me,
                                      bias, y, y_f16, ym, yn, nb);
        }
    }
}

/* ---- activations ---- */

/* Word permutations of a 64-word block into the e and u orders (position i <- column). */
static const uint16_t ORD_E[64] = {
    0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
    44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23,
    25, 27, 29, 31, 33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63,
};
static const uint16_t ORD_U[64] = {
    0,  1,  2,  3,  4,  5,  6,  7,  16, 17, 18, 19, 20, 21, 22, 23, 32, 33, 34, 35, 36, 37,
    38, 39, 48, 49, 50, 51, 52, 53, 54, 55, 8,  9,  10, 11, 12, 13, 14, 15, 24, 25, 26, 27,
    28, 29, 30, 31, 40, 41, 42, 43, 44, 45, 46, 47, 56, 57, 58, 59, 60, 61, 62, 63,
};

static const uint16_t PACKFIX[32] = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27,
                                      4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};

/* q = round(x * inv) (half away from zero) clamped to +-KN_I16_QX, NaN to 0: the portable
 * quantization, 32 at once. */
INL __m512i quant32(const float *x, __mmask32 mk, __m512 inv)
{
    const __m512 lim = _mm512_set1_ps((float)KN_I16_QX), nlim = _mm512_set1_ps(-(float)KN_I16_QX);
    __m512i h[2];
    UNROLL
    for (int i = 0; i < 2; i++) {
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps((__mmask16)(mk >> (16 * i)), x + 16 * i), inv);
        __mmask16 ok = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
        v = _mm512_maskz_mov_ps(ok, _mm512_min_ps(_mm512_max_ps(v, nlim), lim));
        __m512 half = _mm512_or_ps(_mm512_set1_ps(0.5f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
        h[i] = _mm512_cvttps_epi32(_mm512_add_ps(v, half));
    }
    /* vpackssdw packs within 128-bit lanes; vpermw puts the words back in order */
    return _mm512_permutexvar_epi16(_mm512_loadu_si512(PACKFIX), _mm512_packs_epi32(h[0], h[1]));
}

/* kn_act_prepare's KN_I16 part (see kern.c act_prepare_i16): scales, q16 and the reordered
 * copies or panels, from the gathered fp32 rows x. */
TGT void kn_act_i16_avx512(const float *x, int64_t M, int64_t K, int64_t Kp, float *qs, int16_t *q, int16_t *re,
                       int16_t *ru, int64_t Mp)
{
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        __m512 mx = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 16) {
            __mmask16 mk = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
            /* vmaxps returns its second operand when the first is NaN: NaN is skipped */
            mx = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(mk, xr + k)), mx);
        }
        float amax = _mm512_reduce_max_ps(mx);
        if (!(amax <= 3.402823466e38f))
            amax = 0; /* inf: the integer paths cannot carry it */
        float inv = amax > 0 ? (float)KN_I16_QX / amax : 0.0f;
        qs[m] = amax / (float)KN_I16_QX;
        __m512 iv = _mm512_set1_ps(inv);
        for (int64_t k = 0; k < Kp; k += 32) {
            int64_t r = K - k;
            __mmask32 mk = r >= 32 ? 0xffffffffu : r <= 0 ? 0 : (__mmask32)((1u << r) - 1);
            _mm512_storeu_si512(q + m * Kp + k, quant32(xr + k, mk, iv));
        }
    }
    const __m512i oe0 = _mm512_loadu_si512(ORD_E), oe1 = _mm512_loadu_si512(ORD_E + 32);
    const __m512i ou0 = _mm512_loadu_si512(ORD_U), ou1 = _mm512_loadu_si512(ORD_U + 32);
    if (M <= 4) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t k = 0; k < Kp; k += 64) {
                __m512i a = _mm512_loadu_si512(q + m * Kp + k), b = _mm512_loadu_si512(q + m * Kp + k + 32);
                _mm512_storeu_si512(re + m * Kp + k, _mm512_permutex2var_epi16(a, oe0, b));
                _mm512_storeu_si512(re + m * Kp + k + 32, _mm512_permutex2var_epi16(a, oe1, b));
                _mm512_storeu_si512(ru + m * Kp + k, _mm512_permutex2var_epi16(a, ou0, b));
                _mm512_storeu_si512(ru + m * Kp + k + 32, _mm512_permutex2var_epi16(a, ou1, b));
            }
        return;
    }
    /* panels: the reordered block of row m is 32 dwords, dword j going to pair j's row m */
    const __m512i lanes = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32((int)Mp));
    for (int64_t k = 0; k < Kp; k += 64) {
        int32_t *pe = (int32_t *)re + k / 2 * Mp, *pu = (int32_t *)ru + k / 2 * Mp;
        for (int64_t m = 0; m < Mp; m++) {
            __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
            if (m < M) {
                a = _mm512_loadu_si512(q + m * Kp + k);
                b = _mm512_loadu_si512(q + m * Kp + k + 32);
            }
            _mm512_i32scatter_epi32(pe + m, lanes, _mm512_permutex2var_epi16(a, oe0, b), 4);
            _mm512_i32scatter_epi32(pe + 16 * Mp + m, lanes, _mm512_permutex2var_epi16(a, oe1, b), 4);
            _mm512_i32scatter_epi32(pu + m, lanes, _mm512_permutex2var_epi16(a, ou0, b), 4);
            _mm512_i32scatter_epi32(pu + 16 * Mp + m, lanes, _mm512_permutex2var_epi16(a, ou1, b), 4);
        }
    }
}

/* quant32's rounding on 16 fp32 values: int32 results. */
INL __m512i quant16(__m512 x, __m512 inv)
{
    __m512 v = _mm512_mul_ps(x, inv);
    __mmask16 ok = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    v = _mm512_maskz_mov_ps(ok, _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-(float)KN_I16_QX)),
                                              _mm512_set1_ps((float)KN_I16_QX)));
    __m512 half = _mm512_or_ps(_mm512_set1_ps(0.5f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_cvttps_epi32(_mm512_add_ps(v, half));
}

/* Column k (rows m0 + 16v ..) of a conv's fp16 [K][S] input as fp32, zero past M and K. */
INL __m512 col16(const uint16_t *src, int64_t sk, int64_t K, int64_t k, int64_t m, __mmask16 mk)
{
    if (k >= K)
        return _mm512_setzero_ps();
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, src + k * sk + m));
}

/* kn_act_prepare's KN_I16 path for a conv's fp16 [C, S] input with M > 4: the element
 * (m, k) is src[k * sk + m], so each column is a contiguous run of rows: the scales come
 * from one pass over the columns and the panels are written in order, row vectors at a
 * time, with no transposition. */
TGT void kn_act_i16_conv_avx512(const uint16_t *src, int64_t sk, int64_t M, int64_t K, int64_t Kp, int64_t Mp,
                                float *qs, int16_t *re, int16_t *ru)
{
    for (int64_t m0 = 0; m0 < Mp; m0 += 64) {
        int nv = (int)((Mp - m0) / 16 < 4 ? (Mp - m0) / 16 : 4);
        __mmask16 mk[4];
        __m512 mx[4], inv[4];
        for (int v = 0; v < 4; v++) {
            int64_t r = M - (m0 + 16 * v);
            mk[v] = r >= 16 ? 0xffff : r <= 0 ? 0 : (__mmask16)((1u << r) - 1);
            mx[v] = _mm512_setzero_ps();
        }
        for (int64_t k = 0; k < K; k++)
            for (int v = 0; v < nv; v++) /* vmaxps returns its second operand for a NaN first */
                mx[v] = _mm512_max_ps(_mm512_abs_ps(col16(src, sk, K, k, m0 + 16 * v, mk[v])), mx[v]);
        for (int v = 0; v < nv; v++) {
            float am[16], iv[16];
            _mm512_storeu_ps(am, mx[v]);
            for (int i = 0; i < 16; i++) {
                float a = am[i] <= 3.402823466e38f ? am[i] : 0.0f; /* inf: not for integers */
                iv[i] = a > 0 ? (float)KN_I16_QX / a : 0.0f;
                if (m0 + 16 * v + i < M)
                    qs[m0 + 16 * v + i] = a / (float)KN_I16_QX;
            }
            inv[v] = _mm512_loadu_ps(iv);
        }
        for (int64_t k0 = 0; k0 < Kp; k0 += 64)
            for (int j = 0; j < 32; j++) {
                int32_t *pe = (int32_t *)re + (k0 / 2 + j) * Mp + m0, *pu = (int32_t *)ru + (k0 / 2 + j) * Mp + m0;
                for (int v = 0; v < nv; v++) {
                    __m512i a = quant16(col16(src, sk, K, k0 + ORD_E[2 * j], m0 + 16 * v, mk[v]), inv[v]);
                    __m512i b = quant16(col16(src, sk, K, k0 + ORD_E[2 * j + 1], m0 + 16 * v, mk[v]), inv[v]);
                    _mm512_storeu_si512(pe + 16 * v, _mm512_or_si512(_mm512_and_si512(a, _mm512_set1_epi32(0xffff)),
                                                                     _mm512_slli_epi32(b, 16)));
                    a = quant16(col16(src, sk, K, k0 + ORD_U[2 * j], m0 + 16 * v, mk[v]), inv[v]);
                    b = quant16(col16(src, sk, K, k0 + ORD_U[2 * j + 1], m0 + 16 * v, mk[v]), inv[v]);
                    _mm512_storeu_si512(pu + 16 * v, _mm512_or_si512(_mm512_and_si512(a, _mm512_set1_epi32(0xffff)),
                                                                     _mm512_slli_epi32(b, 16)));
                }
            }
    }
}

#define ARGS const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym, int64_t yn, \
             int64_t n0, int64_t n1
#define PASS w, a, bias, y, y_f16, ym, yn, n0, n1
#define INST(code)                                                                                                  \
    static TGT void i16_##code(ARGS)                                                                                \
    {                                                                                                               \
        if (a->M <= 4)                                                                                              \
            gemv(code, PASS);                                                                                       \
        else                                                                                                        \
            gemm(code, PASS);                                                                                       \
    }
INST(W4)
INST(W6)
INST(W8)

int kn_matmul_avx512_i16(ARGS)
{
    if (w->kind != KN_W_LUT || w->K % 64 || w->gk % 64 || w->gk % KB)
        return -1;
    switch (w->bits) {
    case 4: i16_W4(PASS); return 0;
    case 6: i16_W6(PASS); return 0;
    case 8: i16_W8(PASS); return 0;
    default: return -1;
    }
}

#endif
