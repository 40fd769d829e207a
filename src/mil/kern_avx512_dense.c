/*
 * kern_avx512_dense.c — the AVX-512 prefill kernel for dense fp32/fp16 weights (M > 4).
 *
 * Rows of X sit in the vector lanes: X comes transposed ([K][Mp], kn_act.xt), NR rows of
 * W are widened to fp32 KC columns at a time into a stack tile, and a register block of
 * NR rows of W x 64 rows of X (4 zmm) takes one broadcast W(n, k) against one panel vector
 * per FMA, so no horizontal sum is ever needed and short K (attention's head dimension)
 * costs no more per FMA than long K. Exact up to summation order, as the fp32 path is.
 */
#include <math.h>

#include "mil/kern_avx512.h"

#if defined(__x86_64__)

#define NR 4
#define KC 256
#define NC (16 * NR) /* rows of W per sweep: their sums (NC x 64 fp32) stay in cache */

/* Columns [k0, k0 + len) of rows nb.. (clamped to n1 - 1) as fp32, zero padded to KC;
 * tile[r * KC + k], or tile[k * NR + r] for a transposed weight (whose NR rows are then
 * NR contiguous values of each of its [K][N] rows). */
INL void tile_widen(int f16, const kn_weight *w, int64_t nb, int64_t n1, int64_t k0, int64_t len, float *tile)
{
    if (w->wt) {
        int nr = n1 - nb < NR ? (int)(n1 - nb) : NR;
        __mmask16 mk = (__mmask16)((1u << nr) - 1);
        for (int64_t k = 0; k < len; k++) {
            int64_t off = (k0 + k) * w->N + nb;
            __m128 v = f16 ? _mm_cvtph_ps(_mm_maskz_loadu_epi16((__mmask8)mk, (const uint16_t *)w->data + off))
                           : _mm_maskz_loadu_ps((__mmask8)mk, (const float *)w->data + off);
            _mm_store_ps(tile + k * NR, v);
        }
        return;
    }
    for (int r = 0; r < NR; r++) {
        int64_t n = nb + r < n1 ? nb + r : n1 - 1;
        float *t = tile + r * KC;
        for (int64_t k = 0; k < len; k += 16) {
            __mmask16 mk = len - k >= 16 ? 0xffff : (__mmask16)((1u << (len - k)) - 1);
            __m512 v = f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, (const uint16_t *)w->data + n * w->K + k0 + k))
                           : _mm512_maskz_loadu_ps(mk, (const float *)w->data + n * w->K + k0 + k);
            _mm512_store_ps(t + k, v);
        }
    }
}

INL void block(int MV, int wt, const float *tile, int64_t len, const float *xt, int64_t Mp, float *c)
{
    __m512 acc[NR][4];
    UNROLL
    for (int r = 0; r < NR; r++)
        UNROLL
        for (int v = 0; v < 4; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < len; k++) {
        const float *xk = xt + k * Mp;
        __m512 xv[4];
        UNROLL
        for (int v = 0; v < MV; v++)
            xv[v] = _mm512_loadu_ps(xk + 16 * v);
        UNROLL
        for (int r = 0; r < NR; r++) {
            __m512 b = _mm512_set1_ps(tile[wt ? k * NR + r : r * KC + k]);
            UNROLL
            for (int v = 0; v < MV; v++)
                acc[r][v] = _mm512_fmadd_ps(xv[v], b, acc[r][v]);
        }
    }
    UNROLL
    for (int r = 0; r < NR; r++)
        UNROLL
        for (int v = 0; v < MV; v++) {
            float *cp = c + r * 64 + 16 * v;
            _mm512_store_ps(cp, _mm512_add_ps(_mm512_load_ps(cp), acc[r][v]));
        }
}

/* Y(m, nb + r) for the rows of a register block, c [NR][64] lanes along m: c * qscale(m) + bias
 * (qscale NULL: c + bias), one rounding; [M][N] outputs of 4 rows go through a 4x16
 * transpose in registers, so that each m gets its 4 contiguous outputs in one store. */
TGT void kn_avx512_store_block(const float *c, int nr, const float *qscale, int64_t ms, int64_t me, const float *bias,
                           void *y, int y_f16, int64_t ym, int64_t yn, int64_t nb)
{
    if (yn == 1 && ym != 1 && nr == 4) {
        /* [M][N] output (linear): 4 x 16 blocks transposed in registers, so that each m
         * gets its 4 contiguous outputs in one store */
        __m128 bv = bias ? _mm_loadu_ps(bias + nb) : _mm_setzero_ps();
        for (int64_t m = ms; m < me; m += 16) {
            __m512 v0 = _mm512_load_ps(c + (m - ms)), v1 = _mm512_load_ps(c + 64 + (m - ms));
            __m512 v2 = _mm512_load_ps(c + 128 + (m - ms)), v3 = _mm512_load_ps(c + 192 + (m - ms));
            __m512 a01 = _mm512_unpacklo_ps(v0, v1), b01 = _mm512_unpackhi_ps(v0, v1);
            __m512 a23 = _mm512_unpacklo_ps(v2, v3), b23 = _mm512_unpackhi_ps(v2, v3);
            __m512 t[4];
            t[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a01), _mm512_castps_pd(a23)));
            t[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a01), _mm512_castps_pd(a23)));
            t[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(b01), _mm512_castps_pd(b23)));
            t[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(b01), _mm512_castps_pd(b23)));
            float o[64] __attribute__((aligned(64)));
            UNROLL
            for (int j = 0; j < 4; j++)
                _mm512_store_ps(o + 16 * j, t[j]); /* lane L of t[j]: the 4 outputs of m = 4L + j */
            for (int64_t i = 0; i < 16 && m + i < me; i++) {
                /* c * qscale + bias in one rounding, as every other store does */
                __m128 v = _mm_fmadd_ps(_mm_load_ps(o + 16 * (i % 4) + 4 * (i / 4)), _mm_set1_ps(qscale ? qscale[m + i] : 1.0f), bv);
                if (y_f16)
                    _mm_storel_epi64((__m128i *)((uint16_t *)y + (m + i) * ym + nb),
                                     _mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
                else
                    _mm_storeu_ps((float *)y + (m + i) * ym + nb, v);
            }
        }
        return;
    }
    for (int r = 0; r < nr; r++) {
        float bv = bias ? bias[nb + r] : 0.0f;
        const float *cr = c + r * 64;
        if (ym != 1) {
            for (int64_t m = ms; m < me; m++)
                kn_store(y, y_f16, m * ym + (nb + r) * yn, fmaf(cr[m - ms], qscale ? qscale[m] : 1.0f, bv));
            continue;
        }
        for (int64_t m = ms; m < me; m += 16) {
            __mmask16 mk = (__mmask16)(me - m >= 16 ? 0xffff : (1u << (me - m)) - 1);
            __m512 v = _mm512_fmadd_ps(_mm512_load_ps(cr + (m - ms)), qscale ? _mm512_maskz_loadu_ps(mk, qscale + m) : _mm512_set1_ps(1.0f),
                                       _mm512_set1_ps(bv));
            int64_t off = m + (nb + r) * yn;
            if (y_f16)
                _mm256_mask_storeu_epi16((uint16_t *)y + off, mk,
                                         _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            else
                _mm512_mask_storeu_ps((float *)y + off, mk, v);
        }
    }
}

INL void gemm(int f16, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym,
              int64_t yn, int64_t n0, int64_t n1)
{
    int64_t K = w->K, M = a->M, Mp = a->Mp;
    float tile[NR * KC] __attribute__((aligned(64)));
    float c[NC * 64] __attribute__((aligned(64)));
    for (int64_t nc0 = n0; nc0 < n1; nc0 += NC) {
        int64_t nc1 = nc0 + NC < n1 ? nc0 + NC : n1;
        for (int64_t ms = 0; ms < M; ms += 64) {
            int MV = (int)((Mp - ms) / 16 < 4 ? (Mp - ms) / 16 : 4);
            memset(c, 0, sizeof c);
            for (int64_t k0 = 0; k0 < K; k0 += KC) {
                int64_t len = K - k0 < KC ? K - k0 : KC;
                const float *xt = a->xt + k0 * Mp + ms;
                for (int64_t nb = nc0; nb < nc1; nb += NR) {
                    float *cb = c + (nb - nc0) * 64;
                    tile_widen(f16, w, nb, nc1, k0, len, tile);
                    if (w->wt)
                        switch (MV) {
                        case 1: block(1, 1, tile, len, xt, Mp, cb); break;
                        case 2: block(2, 1, tile, len, xt, Mp, cb); break;
                        case 3: block(3, 1, tile, len, xt, Mp, cb); break;
                        default: block(4, 1, tile, len, xt, Mp, cb); break;
                        }
                    else
                        switch (MV) {
                        case 1: block(1, 0, tile, len, xt, Mp, cb); break;
                        case 2: block(2, 0, tile, len, xt, Mp, cb); break;
                        case 3: block(3, 0, tile, len, xt, Mp, cb); break;
                        default: block(4, 0, tile, len, xt, Mp, cb); break;
                        }
                }
            }
            int64_t me = ms + 64 < M ? ms + 64 : M;
            for (int64_t nb = nc0; nb < nc1; nb += NR)
                kn_avx512_store_block(c + (nb - nc0) * 64, nc1 - nb < NR ? (int)(nc1 - nb) : NR, NULL, ms, me, bias, y,
                                      y_f16, ym, yn, nb);
        }
    }
}

static TGT void gemm_f32(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym,
                         int64_t yn, int64_t n0, int64_t n1)
{
    gemm(0, w, a, bias, y, y_f16, ym, yn, n0, n1);
}

static TGT void gemm_f16(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym,
                         int64_t yn, int64_t n0, int64_t n1)
{
    gemm(1, w, a, bias, y, y_f16, ym, yn, n0, n1);
}

int kn_gemm_dense_avx512(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym,
                         int64_t yn, int64_t n0, int64_t n1)
{
    if (!a->xt || a->M <= 4 || (w->kind != KN_W_F32 && w->kind != KN_W_F16))
        return -1;
    if (w->kind == KN_W_F16)
        gemm_f16(w, a, bias, y, y_f16, ym, yn, n0, n1);
    else
        gemm_f32(w, a, bias, y, y_f16, ym, yn, n0, n1);
    return 0;
}

#endif
