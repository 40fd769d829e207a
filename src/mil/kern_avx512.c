/*
 * kern_avx512.c — the AVX-512 kernels (F, BW, VL, VNNI and VBMI; chosen at run time).
 *
 * fp32 path: 16 weights at a time are decoded into a zmm and FMA'd with X.
 *   LUT4  with gk a multiple of 32 (L4D): vpmovzxbd, vpermps of the low nibbles and of
 *         the high nibbles, against X reordered even/odd (kn_act.xd); otherwise the 8
 *         index bytes broadcast, vpmultishiftqb moves index j into dword j, vpermps;
 *   LUT6  fp16 palettes and gk a multiple of 32 (L6H): 24 bytes spread to words by
 *         vpermb + vpmultishiftqb, one vpermt2w over the 64 fp16 entries, vcvtph2ps;
 *         otherwise 12 bytes spread to dwords, two vpermt2ps and a blend on bit 5;
 *   LUT8  fp16 palettes (L8H): four vpermt2w over the 256 fp16 entries and blends on
 *         bits 6 and 7; fp32 palettes: vpmovzxbd + a gather;
 *   fp16  vcvtph2ps; fp32 plain loads (any K: masked tails).
 * int8 path: 64 weights at a time as unsigned bytes (palette entry + 128), multiplied
 *   with the signed int8 activations by vpdpbusd; the +128 is taken back with the
 *   activations' prefix sums (kn_act.qsum):  sum (q_w + 128) q_x - 128 sum q_x.
 *   LUT4  vpmovzxbw + shift/ternlog put index j in byte j, vpshufb looks it up;
 *   LUT6  48 bytes spread by vpermb, vpmultishiftqb, vpermb looks up the 64 entries;
 *   LUT8  the int8 weights precomputed by kn_prepare, xor 0x80.
 *
 * M <= 4 (decode): every decoded block of W is used for all M rows straight from
 * registers. M > 4 (prefill): NR rows x KC columns of W are decoded once into a stack
 * tile, then swept by an MR x NR register block for every group of MR rows of X.
 *
 * Covered: fp32/fp16 weights with any K; LUT 4/6/8 with K and gk multiples of 16 (fp32
 * path) or 64 (int8 path). The rest returns -1 (the portable kernels run). The 16-bit
 * path is in kern_avx512_i16.c, the dense prefill kernel (M > 4) in kern_avx512_dense.c.
 */
#include "mil/kern_avx512.h"

#if defined(__x86_64__)

/* L8H: 8-bit indices into fp16 palettes, looked up as fp16 words by vpermt2w (the fp32
 * path; with fp32 palettes L8 gathers). */
/* L4D: LUT4 read with X in kn_act.xd's order (gk a multiple of 32): vpmovzxbd puts
 * index bytes in dwords, vpermps looks up the low nibbles (even columns) directly and
 * the high nibbles after a shift (odd columns), one shuffle fewer per 16 weights. */
/* L6H: 6-bit indices into fp16 palettes (gk a multiple of 32): 32 indices spread to
 * words by vpermb + vpmultishiftqb, one vpermt2w over the 64 fp16 entries, vcvtph2ps. */
enum { D32, D16, L4, L6, L8, L8H, L4D, L6H };

#define NR 4
#define MR 4
#define KC 1024
#define MSB 64 /* rows of X per tile sweep (the partial sums live on the stack) */

/* vpmultishiftqb controls and vpermb spreads (see the decoders). */
static const uint64_t SH4[8] = {
    0x0000000400000000ull, 0x0000000c00000008ull, 0x0000001400000010ull, 0x0000001c00000018ull,
    0x0000002400000020ull, 0x0000002c00000028ull, 0x0000003400000030ull, 0x0000003c00000038ull};
static const uint64_t SH6[8] = {
    0x0000000600000000ull, 0x0000000a00000004ull, 0x0000000600000000ull, 0x0000000a00000004ull,
    0x0000000600000000ull, 0x0000000a00000004ull, 0x0000000600000000ull, 0x0000000a00000004ull};
static const uint64_t SH6B[8] = {
    0x2a241e18120c0600ull, 0x2a241e18120c0600ull, 0x2a241e18120c0600ull, 0x2a241e18120c0600ull,
    0x2a241e18120c0600ull, 0x2a241e18120c0600ull, 0x2a241e18120c0600ull, 0x2a241e18120c0600ull};
/* vpermb spreads: fp32 LUT6 qword q gets the bytes from (12q)/8 (clamped to the 16 loaded),
 * int8 LUT6 qword q the bytes from 6q. */
static const uint8_t PB6[64] = {
    0, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 8,
    3, 4, 5, 6, 7, 8, 9, 10, 4, 5, 6, 7, 8, 9, 10, 11,
    6, 7, 8, 9, 10, 11, 12, 13, 7, 8, 9, 10, 11, 12, 13, 14,
    9, 10, 11, 12, 13, 14, 15, 15, 10, 11, 12, 13, 14, 15, 15, 15,
};
static const uint8_t PB6B[64] = {
    0, 1, 2, 3, 4, 5, 6, 7, 6, 7, 8, 9, 10, 11, 12, 13,
    12, 13, 14, 15, 16, 17, 18, 19, 18, 19, 20, 21, 22, 23, 24, 25,
    24, 25, 26, 27, 28, 29, 30, 31, 30, 31, 32, 33, 34, 35, 36, 37,
    36, 37, 38, 39, 40, 41, 42, 43, 42, 43, 44, 45, 46, 47, 48, 49,
};

/* L6H: qword q (4 six-bit indices) gets the bytes from 3q; vpmultishiftqb then takes
 * word w from bit 6w (constant 0x0012000c00060000 per qword). */
static const uint8_t PB6W[64] = {
    0, 1, 2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 8, 9, 10,
    6, 7, 8, 9, 10, 11, 12, 13, 9, 10, 11, 12, 13, 14, 15, 16,
    12, 13, 14, 15, 16, 17, 18, 19, 15, 16, 17, 18, 19, 20, 21, 22,
    18, 19, 20, 21, 22, 23, 24, 25, 21, 22, 23, 24, 25, 26, 27, 28,
};

typedef struct consts {
    __m512i sh4, sh6, pb6, sh6b, pb6b, sh6w, pb6w;
} consts;

INL consts consts_load(void)
{
    consts c;
    c.sh4 = _mm512_loadu_si512(SH4);
    c.sh6 = _mm512_loadu_si512(SH6);
    c.pb6 = _mm512_loadu_si512(PB6);
    c.sh6b = _mm512_loadu_si512(SH6B);
    c.pb6b = _mm512_loadu_si512(PB6B);
    c.sh6w = _mm512_set1_epi64(0x0012000c00060000ll);
    c.pb6w = _mm512_loadu_si512(PB6W);
    return c;
}

static int code_of(const kn_weight *w)
{
    if (w->kind == KN_W_F32)
        return D32;
    if (w->kind == KN_W_F16)
        return D16;
    return w->bits == 4 ? L4 : w->bits == 6 ? L6 : w->bits == 8 ? L8 : -1;
}

/* Row n of W: a float/uint16 pointer for dense kinds, the byte of its first index for LUT
 * (byte aligned because K*bits is a multiple of 8 whenever a LUT path runs here). */
static const void *row_of(int code, const kn_weight *w, int64_t n)
{
    if (code == D32)
        return (const float *)w->data + n * w->K;
    if (code == D16)
        return (const uint16_t *)w->data + n * w->K;
    return (const uint8_t *)w->data + n * w->K * w->bits / 8;
}

/* Decode streams one row after another; the hardware prefetcher alone leaves the loads
 * waiting, so ask for the bytes PF ahead (past the row end is the next row). */
#define PF 4096 /* bytes ahead, into L2 (T1): faster streams than into L1, as in the 16-bit kernels */
INL void prefetch(int code, const void *row, int64_t k)
{
    const char *b = row;
    int64_t off = code == D32 ? k * 4 : code == D16 ? k * 2 : code == L4 || code == L4D ? k / 2 : code == L6 || code == L6H ? k / 4 * 3 : k;
    _mm_prefetch(b + off + PF, _MM_HINT_T1);
}

/* ---- fp32 path ---- */

typedef struct pal {
    __m512 t0, t1, t2, t3;
    __m512i h[8];
    const float *f;
} pal;

INL pal pal_load(int code, const kn_prep *pr, int64_t p)
{
    pal r;
    r.t0 = r.t1 = r.t2 = r.t3 = _mm512_setzero_ps();
    r.f = NULL;
    if (code >= L4) {
        r.f = pr->pal + p * pr->E;
        r.t0 = _mm512_loadu_ps(r.f);
        if (code == L6 || code == L6H) {
            r.t1 = _mm512_loadu_ps(r.f + 16);
            r.t2 = _mm512_loadu_ps(r.f + 32);
            r.t3 = _mm512_loadu_ps(r.f + 48);
        }
    }
    UNROLL
    for (int j = 0; j < 8; j++)
        r.h[j] = code == L8H || (code == L6H && j < 2) ? _mm512_loadu_si512(pr->pal16 + p * pr->E + 32 * j)
                                                       : _mm512_setzero_si512();
    return r;
}

/* L8H: the 32 weights of the 32 index bytes at b. Four vpermt2w cover the 256 fp16
 * entries 64 at a time, index bits 6 and 7 pick among them, vcvtph2ps widens (exact). */
INL void dec32h(const uint8_t *b, const pal *P, __m512 *w0, __m512 *w1)
{
    __m512i ix = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)b));
    __m512i a0 = _mm512_permutex2var_epi16(P->h[0], ix, P->h[1]);
    __m512i a1 = _mm512_permutex2var_epi16(P->h[2], ix, P->h[3]);
    __m512i a2 = _mm512_permutex2var_epi16(P->h[4], ix, P->h[5]);
    __m512i a3 = _mm512_permutex2var_epi16(P->h[6], ix, P->h[7]);
    __mmask32 b6 = _mm512_test_epi16_mask(ix, _mm512_set1_epi16(64));
    __mmask32 b7 = _mm512_test_epi16_mask(ix, _mm512_set1_epi16(128));
    __m512i h = _mm512_mask_blend_epi16(b7, _mm512_mask_blend_epi16(b6, a0, a1), _mm512_mask_blend_epi16(b6, a2, a3));
    *w0 = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    *w1 = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}

/* L6H: the 32 weights of the 24 index bytes at b. */
INL void dec32h6(const uint8_t *b, const pal *P, const consts *C, __m512 *w0, __m512 *w1)
{
    __m512i z = _mm512_maskz_loadu_epi8(0xffffffull, b);
    __m512i d = _mm512_multishift_epi64_epi8(C->sh6w, _mm512_permutexvar_epi8(C->pb6w, z));
    __m512i h = _mm512_permutex2var_epi16(P->h[0], d, P->h[1]);
    *w0 = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    *w1 = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}

/* Bytes of one 16-weight block. */
static inline int blk16(int code)
{
    return code == D32 ? 64 : code == D16 ? 32 : code == L4 || code == L4D ? 8 : code == L6 || code == L6H ? 12 : 16;
}

/* The 16 weights of the block at b. */
INL __m512 dec16(int code, const uint8_t *b, const pal *P, const consts *C)
{
    switch (code) {
    case D32:
        return _mm512_loadu_ps(b);
    case D16:
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b));
    case L4:
    case L4D: {
        uint64_t v;
        memcpy(&v, b, 8);
        __m512i d = _mm512_multishift_epi64_epi8(C->sh4, _mm512_set1_epi64((long long)v));
        return _mm512_permutexvar_ps(d, P->t0);
    }
    case L6:
    case L6H: {
        __m512i z = _mm512_zextsi128_si512(_mm_maskz_loadu_epi8(0x0fff, b));
        __m512i d = _mm512_multishift_epi64_epi8(C->sh6, _mm512_permutexvar_epi8(C->pb6, z));
        __m512 lo = _mm512_permutex2var_ps(P->t0, d, P->t1);
        __m512 hi = _mm512_permutex2var_ps(P->t2, d, P->t3);
        return _mm512_mask_blend_ps(_mm512_test_epi32_mask(d, _mm512_set1_epi32(32)), lo, hi);
    }
    default: {
        __m512i d = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)b));
        return _mm512_i32gather_ps(d, P->f, 4);
    }
    }
}

/* Dense tail: weights [k, k+r) and zeros. */
INL __m512 dec_tail(int code, const void *row, int64_t k, __mmask16 mk)
{
    if (code == D32)
        return _mm512_maskz_loadu_ps(mk, (const float *)row + k);
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, (const uint16_t *)row + k));
}

/* out[16 m]: a vector whose lanes sum to row n of W . X row m, for MB <= 4 rows xr[]. */
INL void f32_rows(int code, int MB, const kn_weight *w, const kn_prep *pr, const consts *C,
                  const float *const *xr, int64_t n, __m512 *out)
{
    int64_t K = w->K, gk = code >= L4 ? w->gk : K, kp = K / gk;
    const void *row = row_of(code, w, n);
    __m512 acc[4][4];
    UNROLL
    for (int m = 0; m < 4; m++)
        acc[m][0] = acc[m][1] = acc[m][2] = acc[m][3] = _mm512_setzero_ps();
    for (int64_t s = 0; s < kp; s++) {
        pal P = pal_load(code, pr, code >= L4 ? (n / w->gn) * kp + s : 0);
        int64_t k = s * gk, ke = k + gk, kf = k + (gk & ~(int64_t)15);
        /* four independent accumulators per row hide the FMA latency */
        const int bb = blk16(code);
        const uint8_t *bp = (const uint8_t *)row + k / 16 * bb;
        const float *xk[4];
        UNROLL
        for (int m = 0; m < 4; m++)
            xk[m] = xr[m] + k;
        if (code == L4D) {
            for (; k < kf; k += 64, bp += 32) {
                _mm_prefetch((const char *)bp + PF, _MM_HINT_T1);
                __m512 wv[4];
                __m512i d = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)bp));
                wv[0] = _mm512_permutexvar_ps(d, P.t0);
                wv[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(d, 4), P.t0);
                int two = k + 64 <= kf; /* a last lone 32-column block uses wv[0..1] only */
                if (two) {
                    d = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(bp + 16)));
                    wv[2] = _mm512_permutexvar_ps(d, P.t0);
                    wv[3] = _mm512_permutexvar_ps(_mm512_srli_epi32(d, 4), P.t0);
                } else {
                    wv[2] = wv[3] = _mm512_setzero_ps();
                }
                UNROLL
                for (int m = 0; m < MB; m++) {
                    acc[m][0] = _mm512_fmadd_ps(wv[0], _mm512_loadu_ps(xk[m]), acc[m][0]);
                    acc[m][1] = _mm512_fmadd_ps(wv[1], _mm512_loadu_ps(xk[m] + 16), acc[m][1]);
                    if (two) {
                        acc[m][2] = _mm512_fmadd_ps(wv[2], _mm512_loadu_ps(xk[m] + 32), acc[m][2]);
                        acc[m][3] = _mm512_fmadd_ps(wv[3], _mm512_loadu_ps(xk[m] + 48), acc[m][3]);
                    }
                    xk[m] += 64;
                }
            }
            continue;
        }
        for (; k + 64 <= kf; k += 64, bp += 4 * bb) {
            _mm_prefetch((const char *)bp + PF, _MM_HINT_T1);
            __m512 wv[4];
            if (code == L8H) {
                dec32h(bp, &P, &wv[0], &wv[1]);
                dec32h(bp + 32, &P, &wv[2], &wv[3]);
            } else if (code == L6H) {
                dec32h6(bp, &P, C, &wv[0], &wv[1]);
                dec32h6(bp + 24, &P, C, &wv[2], &wv[3]);
            } else {
                UNROLL
                for (int j = 0; j < 4; j++)
                    wv[j] = dec16(code, bp + j * bb, &P, C);
            }
            UNROLL
            for (int m = 0; m < MB; m++) {
                UNROLL
                for (int j = 0; j < 4; j++)
                    acc[m][j] = _mm512_fmadd_ps(wv[j], _mm512_loadu_ps(xk[m] + 16 * j), acc[m][j]);
                xk[m] += 64;
            }
        }
        for (; k < kf; k += 16, bp += bb) {
            __m512 w0 = dec16(code, bp, &P, C);
            UNROLL
            for (int m = 0; m < MB; m++) {
                acc[m][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xk[m]), acc[m][0]);
                xk[m] += 16;
            }
        }
        if (k < ke) {
            __mmask16 mk = (__mmask16)((1u << (ke - k)) - 1);
            __m512 w0 = dec_tail(code, row, k, mk);
            UNROLL
            for (int m = 0; m < MB; m++)
                acc[m][0] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(mk, xr[m] + k), acc[m][0]);
        }
    }
    UNROLL
    for (int m = 0; m < MB; m++)
        out[16 * m] = _mm512_add_ps(_mm512_add_ps(acc[m][0], acc[m][1]), _mm512_add_ps(acc[m][2], acc[m][3]));
}

INL __m512i hsum16_epi32(const __m512i *a)
{
    __m512i b[8], c[4], d[2];
    UNROLL
    for (int i = 0; i < 8; i++)
        b[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]),
                                _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]));
    UNROLL
    for (int i = 0; i < 4; i++)
        c[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(b[2 * i], b[2 * i + 1]),
                                _mm512_unpackhi_epi64(b[2 * i], b[2 * i + 1]));
    UNROLL
    for (int i = 0; i < 2; i++)
        d[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(c[2 * i], c[2 * i + 1], 0x88),
                                _mm512_shuffle_i32x4(c[2 * i], c[2 * i + 1], 0xdd));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(d[0], d[1], 0x88), _mm512_shuffle_i32x4(d[0], d[1], 0xdd));
}

/* Rows in groups of 16, so that one transposing reduction finishes 16 outputs (the same
 * reduction for every row, so results do not depend on how callers split N). */
INL void f32_gemv(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                  int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    consts C = consts_load();
    __m512 v[4][16];
    for (int64_t nb = n0; nb < n1; nb += 16) {
        int ng = n1 - nb < 16 ? (int)(n1 - nb) : 16;
        for (int64_t m0 = 0; m0 < a->M; m0 += 4) {
            int mb = a->M - m0 < 4 ? (int)(a->M - m0) : 4;
            const float *xr[4], *xb = code == L4D ? a->xd : a->x;
            UNROLL
            for (int m = 0; m < 4; m++)
                xr[m] = xb + (m0 + (m < mb ? m : 0)) * a->K;
            for (int r = 0; r < 16; r++) {
                if (r >= ng) {
                    for (int m = 0; m < 4; m++)
                        v[m][r] = _mm512_setzero_ps();
                    continue;
                }
                switch (mb) {
                case 1: f32_rows(code, 1, w, pr, &C, xr, nb + r, &v[0][r]); break;
                case 2: f32_rows(code, 2, w, pr, &C, xr, nb + r, &v[0][r]); break;
                case 3: f32_rows(code, 3, w, pr, &C, xr, nb + r, &v[0][r]); break;
                default: f32_rows(code, 4, w, pr, &C, xr, nb + r, &v[0][r]); break;
                }
            }
            for (int m = 0; m < mb; m++)
                store16(y, y_f16, (m0 + m) * ym + nb * yn, yn, hsum16_ps(v[m]), bias, nb, ng);
        }
    }
}

/* Decode columns [kc0, kc1) of rows nb.. (clamped to n1-1) into tile[NR][KC], zero padded
 * to a multiple of 16. */
INL void f32_tile(int code, const kn_weight *w, const kn_prep *pr, const consts *C, int64_t nb,
                  int64_t n1, int64_t kc0, int64_t kc1, float *tile)
{
    int64_t gk = code >= L4 ? w->gk : w->K, kp = w->K / gk;
    UNROLL
    for (int r = 0; r < NR; r++) {
        int64_t n = nb + r < n1 ? nb + r : n1 - 1;
        const void *row = row_of(code, w, n);
        float *t = tile + r * KC - kc0;
        int64_t k = kc0;
        while (k < kc1) {
            int64_t s = k / gk, se = (s + 1) * gk < kc1 ? (s + 1) * gk : kc1;
            pal P = pal_load(code, pr, code >= L4 ? (n / w->gn) * kp + s : 0);
            if (code == L8H || code == L6H)
                for (; k + 32 <= se; k += 32) {
                    __m512 w0, w1;
                    if (code == L8H)
                        dec32h((const uint8_t *)row + k, &P, &w0, &w1);
                    else
                        dec32h6((const uint8_t *)row + k / 4 * 3, &P, C, &w0, &w1);
                    _mm512_storeu_ps(t + k, w0);
                    _mm512_storeu_ps(t + k + 16, w1);
                }
            for (; k + 16 <= se; k += 16)
                _mm512_storeu_ps(t + k, dec16(code, (const uint8_t *)row + k / 16 * blk16(code), &P, C));
            if (k < se) { /* dense tail only */
                __mmask16 mk = (__mmask16)((1u << (se - k)) - 1);
                _mm512_storeu_ps(t + k, dec_tail(code, row, k, mk));
                k = se;
            }
        }
    }
}

INL void f32_gemm(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                  int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    consts C = consts_load();
    int64_t K = w->K, M = a->M;
    float tile[NR * KC] __attribute__((aligned(64)));
    float part[MSB][NR];
    for (int64_t nb = n0; nb < n1; nb += NR) {
        int nr = n1 - nb < NR ? (int)(n1 - nb) : NR;
        for (int64_t ms = 0; ms < M; ms += MSB) {
            int64_t me = ms + MSB < M ? ms + MSB : M;
            memset(part, 0, sizeof part);
            for (int64_t kc0 = 0; kc0 < K; kc0 += KC) {
                int64_t kc1 = kc0 + KC < K ? kc0 + KC : K, len = kc1 - kc0;
                f32_tile(code, w, pr, &C, nb, n1, kc0, kc1, tile);
                int64_t lf = len & ~(int64_t)15;
                __mmask16 mk = (__mmask16)((1u << (len - lf)) - 1);
                for (int64_t m0 = ms; m0 < me; m0 += MR) {
                    const float *xp[MR];
                    UNROLL
                    for (int i = 0; i < MR; i++)
                        xp[i] = a->x + (m0 + i < me ? m0 + i : me - 1) * K + kc0;
                    __m512 c[MR * NR];
                    UNROLL
                    for (int i = 0; i < MR * NR; i++)
                        c[i] = _mm512_setzero_ps();
                    int64_t k = 0;
                    for (; k < lf; k += 16) {
                        __m512 wv[NR];
                        UNROLL
                        for (int r = 0; r < NR; r++)
                            wv[r] = _mm512_load_ps(tile + r * KC + k);
                        UNROLL
                        for (int i = 0; i < MR; i++) {
                            __m512 xv = _mm512_loadu_ps(xp[i] + k);
                            UNROLL
                            for (int r = 0; r < NR; r++)
                                c[i * NR + r] = _mm512_fmadd_ps(xv, wv[r], c[i * NR + r]);
                        }
                    }
                    if (k < len) {
                        UNROLL
                        for (int i = 0; i < MR; i++) {
                            __m512 xv = _mm512_maskz_loadu_ps(mk, xp[i] + k);
                            UNROLL
                            for (int r = 0; r < NR; r++)
                                c[i * NR + r] = _mm512_fmadd_ps(xv, _mm512_load_ps(tile + r * KC + k), c[i * NR + r]);
                        }
                    }
                    float s[MR * NR];
                    _mm512_storeu_ps(s, hsum16_ps(c));
                    for (int i = 0; i < MR && m0 + i < me; i++)
                        UNROLL
                        for (int r = 0; r < NR; r++)
                            part[m0 + i - ms][r] += s[i * NR + r];
                }
            }
            for (int64_t m = ms; m < me; m++)
                for (int r = 0; r < nr; r++)
                    kn_store(y, y_f16, m * ym + (nb + r) * yn, part[m - ms][r] + (bias ? bias[nb + r] : 0.0f));
        }
    }
}

/* ---- int8 path ---- */

INL __m512i tbl_load(int code, const kn_prep *pr, int64_t p)
{
    if (code == L4)
        return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(pr->upal + p * 16)));
    if (code == L6)
        return _mm512_loadu_si512(pr->upal + p * 64);
    return _mm512_setzero_si512();
}

/* Weights [k, k+64) of row n as unsigned bytes (int8 weight + 128). */
INL __m512i dec64(int code, const void *row, const int8_t *w8row, int64_t k, __m512i tbl, const consts *C)
{
    const uint8_t *b = row;
    if (code == L4) {
        __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(b + k / 2)));
        __m512i t = _mm512_ternarylogic_epi32(v, _mm512_slli_epi16(v, 4), _mm512_set1_epi16(0x0f0f), 0xa8);
        return _mm512_shuffle_epi8(tbl, t);
    }
    if (code == L6) {
        __m512i z = _mm512_maskz_loadu_epi8(0x0000ffffffffffffull, b + k / 4 * 3);
        __m512i d = _mm512_multishift_epi64_epi8(C->sh6b, _mm512_permutexvar_epi8(C->pb6b, z));
        return _mm512_permutexvar_epi8(d, tbl);
    }
    return _mm512_xor_si512(_mm512_loadu_si512(w8row + k), _mm512_set1_epi8((char)0x80));
}

INL void i8_rows(int code, int MB, const kn_weight *w, const kn_prep *pr, const consts *C, const kn_act *a,
                 int64_t m0, int64_t n, __m512 *out)
{
    int64_t K = w->K, gk = w->gk, kp = K / gk;
    const void *row = row_of(code, w, n);
    const int8_t *w8row = pr->w8 ? pr->w8 + n * K : NULL;
    const int8_t *q[4];
    const int32_t *qs[4];
    UNROLL
    for (int m = 0; m < 4; m++) {
        int64_t mm = m0 + (m < MB ? m : 0);
        q[m] = a->q + mm * a->Kp;
        qs[m] = kn_qsum_row(a, mm);
    }
    __m512 f[4];
    float corr[4] = {0, 0, 0, 0};
    UNROLL
    for (int m = 0; m < 4; m++)
        f[m] = _mm512_setzero_ps();
    for (int64_t s = 0; s < kp; s++) {
        int64_t p = (n / w->gn) * kp + s;
        __m512i tbl = tbl_load(code, pr, p);
        __m512i acc[4][2];
        UNROLL
        for (int m = 0; m < 4; m++)
            acc[m][0] = acc[m][1] = _mm512_setzero_si512();
        int64_t k = s * gk, ke = k + gk;
        for (; k + 128 <= ke; k += 128) {
            prefetch(code, pr->w8 ? (const void *)w8row : row, k);
            __m512i w0 = dec64(code, row, w8row, k, tbl, C), w1 = dec64(code, row, w8row, k + 64, tbl, C);
            UNROLL
            for (int m = 0; m < MB; m++) {
                acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], w0, _mm512_loadu_si512(q[m] + k));
                acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], w1, _mm512_loadu_si512(q[m] + k + 64));
            }
        }
        if (k < ke) {
            __m512i w0 = dec64(code, row, w8row, k, tbl, C);
            UNROLL
            for (int m = 0; m < MB; m++)
                acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], w0, _mm512_loadu_si512(q[m] + k));
        }
        UNROLL
        for (int m = 0; m < MB; m++) {
            /* lanes stay below 2^24 for gk <= 4096 (exact in fp32); beyond, a relative 2^-24 */
            int64_t xs = (int64_t)qs[m][ke / 64] - qs[m][s * gk / 64];
            __m512 sc = _mm512_set1_ps(pr->qscale[p]);
            f[m] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(_mm512_add_epi32(acc[m][0], acc[m][1])), f[m]);
            corr[m] += pr->qscale[p] * (float)(-128 * xs);
        }
    }
    UNROLL
    for (int m = 0; m < MB; m++)
        out[16 * m] = _mm512_mask_add_ps(f[m], 1, f[m], _mm512_set1_ps(corr[m]));
}

INL void i8_gemv(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                 int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    consts C = consts_load();
    __m512 v[4][16];
    for (int64_t nb = n0; nb < n1; nb += 16) {
        int ng = n1 - nb < 16 ? (int)(n1 - nb) : 16;
        for (int64_t m0 = 0; m0 < a->M; m0 += 4) {
            int mb = a->M - m0 < 4 ? (int)(a->M - m0) : 4;
            for (int r = 0; r < 16; r++) {
                if (r >= ng) {
                    for (int m = 0; m < 4; m++)
                        v[m][r] = _mm512_setzero_ps();
                    continue;
                }
                switch (mb) {
                case 1: i8_rows(code, 1, w, pr, &C, a, m0, nb + r, &v[0][r]); break;
                case 2: i8_rows(code, 2, w, pr, &C, a, m0, nb + r, &v[0][r]); break;
                case 3: i8_rows(code, 3, w, pr, &C, a, m0, nb + r, &v[0][r]); break;
                default: i8_rows(code, 4, w, pr, &C, a, m0, nb + r, &v[0][r]); break;
                }
            }
            for (int m = 0; m < mb; m++)
                store16(y, y_f16, (m0 + m) * ym + nb * yn, yn,
                        _mm512_mul_ps(hsum16_ps(v[m]), _mm512_set1_ps(a->qscale[m0 + m])), bias, nb, ng);
        }
    }
}

INL void i8_gemm(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                 int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    consts C = consts_load();
    int64_t K = w->K, M = a->M, gk = w->gk, kp = K / gk;
    uint8_t tile[NR * KC] __attribute__((aligned(64)));
    float part[MSB][NR];
    for (int64_t nb = n0; nb < n1; nb += NR) {
        int nr = n1 - nb < NR ? (int)(n1 - nb) : NR;
        int64_t rn[NR];
        UNROLL
        for (int r = 0; r < NR; r++)
            rn[r] = nb + r < n1 ? nb + r : n1 - 1;
        for (int64_t ms = 0; ms < M; ms += MSB) {
            int64_t me = ms + MSB < M ? ms + MSB : M;
            memset(part, 0, sizeof part);
            for (int64_t kc0 = 0; kc0 < K;) {
                int64_t s = kc0 / gk, se = (s + 1) * gk, kc1 = kc0 + KC < se ? kc0 + KC : se;
                float sc[NR];
                UNROLL
                for (int r = 0; r < NR; r++) {
                    int64_t p = (rn[r] / w->gn) * kp + s;
                    sc[r] = pr->qscale[p];
                    __m512i tbl = tbl_load(code, pr, p);
                    const void *row = row_of(code, w, rn[r]);
                    const int8_t *w8row = pr->w8 ? pr->w8 + rn[r] * K : NULL;
                    for (int64_t k = kc0; k < kc1; k += 64)
                        _mm512_store_si512(tile + r * KC + (k - kc0), dec64(code, row, w8row, k, tbl, &C));
                }
                for (int64_t m0 = ms; m0 < me; m0 += MR) {
                    const int8_t *xp[MR];
                    int64_t xs[MR];
                    UNROLL
                    for (int i = 0; i < MR; i++) {
                        int64_t mm = m0 + i < me ? m0 + i : me - 1;
                        xp[i] = a->q + mm * a->Kp + kc0;
                        const int32_t *ps = kn_qsum_row(a, mm);
                        xs[i] = (int64_t)ps[kc1 / 64] - ps[kc0 / 64];
                    }
                    __m512i c[MR * NR];
                    UNROLL
                    for (int i = 0; i < MR * NR; i++)
                        c[i] = _mm512_setzero_si512();
                    for (int64_t k = 0; k < kc1 - kc0; k += 64) {
                        __m512i wv[NR];
                        UNROLL
                        for (int r = 0; r < NR; r++)
                            wv[r] = _mm512_load_si512(tile + r * KC + k);
                        UNROLL
                        for (int i = 0; i < MR; i++) {
                            __m512i xv = _mm512_loadu_si512(xp[i] + k);
                            UNROLL
                            for (int r = 0; r < NR; r++)
                                c[i * NR + r] = _mm512_dpbusd_epi32(c[i * NR + r], wv[r], xv);
                        }
                    }
                    int32_t sum[MR * NR];
                    _mm512_storeu_si512(sum, hsum16_epi32(c));
                    for (int i = 0; i < MR && m0 + i < me; i++)
                        UNROLL
                        for (int r = 0; r < NR; r++)
                            part[m0 + i - ms][r] += sc[r] * (float)((int64_t)sum[i * NR + r] - 128 * xs[i]);
                }
                kc0 = kc1;
            }
            for (int64_t m = ms; m < me; m++)
                for (int r = 0; r < nr; r++)
                    kn_store(y, y_f16, m * ym + (nb + r) * yn,
                             part[m - ms][r] * a->qscale[m] + (bias ? bias[nb + r] : 0.0f));
        }
    }
}

/* One instance per weight code, so the decoders are resolved at compile time. */
#define ARGS const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym, int64_t yn, \
             int64_t n0, int64_t n1
#define PASS w, a, bias, y, y_f16, ym, yn, n0, n1
#define INST(name, code)                                                                     \
    static TGT void name##_##code(ARGS)                                                      \
    {                                                                                        \
        if (a->M <= 4)                                                                       \
            name##_gemv(code, PASS);                                                         \
        else                                                                                 \
            name##_gemm(code, PASS);                                                         \
    }
INST(f32, D32)
INST(f32, D16)
INST(f32, L4)
INST(f32, L6)
INST(f32, L8)
INST(f32, L8H)
INST(f32, L6H)
INST(f32, L4D)
INST(i8, L4)
INST(i8, L6)
INST(i8, L8)

int kn_matmul_avx512(ARGS)
{
    int code = code_of(w);
    if (code < 0)
        return -1;
    if (w->path == KN_I16)
        return kn_matmul_avx512_i16(PASS);
    if (w->path == KN_I8) {
        if (w->K % 64 || w->gk % 64 || w->gk > 32768)
            return -1;
        if (code == L4)
            i8_L4(PASS);
        else if (code == L6)
            i8_L6(PASS);
        else
            i8_L8(PASS);
        return 0;
    }
    if (code >= L4 && (w->K % 16 || w->gk % 16))
        return -1;
    if ((code == D32 || code == D16) && kn_gemm_dense_avx512(PASS) == 0)
        return 0;
    if (w->wt)
        return -1; /* decode (M <= 4) of a transposed weight: the portable code */
    switch (code) {
    case D32: f32_D32(PASS); break;
    case D16: f32_D16(PASS); break;
    case L4:
        if (w->gk % 32 == 0)
            f32_L4D(PASS);
        else
            f32_L4(PASS);
        break;
    case L6:
        if (((const kn_prep *)w->prep)->pal16 && w->gk % 32 == 0)
            f32_L6H(PASS);
        else
            f32_L6(PASS);
        break;
    default:
        if (((const kn_prep *)w->prep)->pal16)
            f32_L8H(PASS);
        else
            f32_L8(PASS);
        break;
    }
    return 0;
}

#endif
