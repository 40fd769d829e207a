/*
 * kern_avx2.c — the AVX2 + FMA + F16C kernels (chosen at run time).
 *
 * fp32 path: 8 weights at a time into a ymm, FMA'd with X.
 *   LUT4  the 4 index bytes broadcast, vpsrlvd puts index j in dword j, two vpermps over
 *         the palette halves and a blend on index bit 3;
 *   LUT6  6 bytes broadcast, two vpsrlvq and a blend build the dword indices, gather;
 *   LUT8  vpmovzxbd + gather (the palette is in L1); fp16 vcvtph2ps; fp32 loads.
 * int8 path: 32 weights at a time as signed bytes; products by the sign trick
 *   (vpmaddubsw(|w|, sign(x, w)) never saturates: |w|, |x| <= 127), vpmaddwd to int32.
 *   LUT4  vpmovzxbw + shift/or/and put index j in byte j, vpshufb looks it up;
 *   LUT6  vpshufb gathers 3 bytes per dword, shifts/masks spread them to 4 bytes, four
 *         vpshufb over the 64 entries and blends on index bits 4 and 5;
 *   LUT8  the int8 weights precomputed by kn_prepare.
 * Each decoded block serves up to 4 rows of X straight from registers; fp32 prefill
 * (M > 4) decodes tiles of W once and sweeps them with a 2 x 4 register block.
 *
 * Covered: fp32/fp16 weights with any K; LUT 4/6/8 with K and gk multiples of 8 (fp32
 * path) or 32 (int8 path). The rest returns -1 (the portable kernels run).
 */
#include "mil/kern_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT
#define UNROLL _Pragma("GCC unroll 16")

enum { D32, D16, L4, L6, L8 };

static int code_of(const kn_weight *w)
{
    if (w->kind == KN_W_F32)
        return D32;
    if (w->kind == KN_W_F16)
        return D16;
    return w->bits == 4 ? L4 : w->bits == 6 ? L6 : w->bits == 8 ? L8 : -1;
}

/* Bytes of one 8-weight block (fp32 path). */
static inline int blk8(int code) { return code == D32 ? 32 : code == D16 ? 16 : code == L4 ? 4 : code == L6 ? 6 : 8; }

static const void *row_of(int code, const kn_weight *w, int64_t n)
{
    if (code == D32)
        return (const float *)w->data + n * w->K;
    if (code == D16)
        return (const uint16_t *)w->data + n * w->K;
    return (const uint8_t *)w->data + n * w->K * w->bits / 8;
}

INL float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INL int32_t hsum8i(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* ---- fp32 path ---- */

typedef struct pal {
    __m256 t0, t1;
    const float *f;
} pal;

INL __m256 dec8(int code, const uint8_t *b, const pal *P)
{
    switch (code) {
    case D32:
        return _mm256_loadu_ps((const float *)b);
    case D16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b));
    case L4: {
        uint32_t v;
        memcpy(&v, b, 4);
        __m256i d = _mm256_srlv_epi32(_mm256_set1_epi32((int)v), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
        __m256 lo = _mm256_permutevar8x32_ps(P->t0, d), hi = _mm256_permutevar8x32_ps(P->t1, d);
        return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(d, 28)));
    }
    case L6: {
        /* two loads combined in a register: a 6-byte memcpy to the stack and an 8-byte
         * reload would stall on store forwarding */
        uint32_t lo32;
        uint16_t hi16;
        memcpy(&lo32, b, 4);
        memcpy(&hi16, b + 4, 2);
        uint64_t v = lo32 | (uint64_t)hi16 << 32;
        __m256i q = _mm256_set1_epi64x((long long)v);
        __m256i e = _mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 12, 24, 36));
        __m256i o = _mm256_srlv_epi64(q, _mm256_setr_epi64x(6, 18, 30, 42));
        __m256i d = _mm256_and_si256(_mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xaa), _mm256_set1_epi32(63));
        return _mm256_i32gather_ps(P->f, d, 4);
    }
    default: {
        __m256i d = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b));
        return _mm256_i32gather_ps(P->f, d, 4);
    }
    }
}

INL void f32_rows(int code, int MB, const kn_weight *w, const kn_prep *pr, const float *const *xr, int64_t n,
                  float *out)
{
    int64_t K = w->K, gk = code >= L4 ? w->gk : K, kp = K / gk;
    const uint8_t *row = row_of(code, w, n);
    const int bb = blk8(code);
    __m256 acc[4][2];
    UNROLL
    for (int m = 0; m < 4; m++)
        acc[m][0] = acc[m][1] = _mm256_setzero_ps();
    float tail[4] = {0, 0, 0, 0};
    for (int64_t s = 0; s < kp; s++) {
        pal P = {_mm256_setzero_ps(), _mm256_setzero_ps(), NULL};
        if (code >= L4) {
            P.f = pr->pal + ((n / w->gn) * kp + s) * pr->E;
            P.t0 = _mm256_loadu_ps(P.f);
            P.t1 = _mm256_loadu_ps(P.f + 8);
        }
        int64_t k = s * gk, ke = k + gk, kf = k + (gk & ~(int64_t)7);
        const uint8_t *bp = row + k / 8 * bb;
        for (; k + 16 <= kf; k += 16, bp += 2 * bb) {
            _mm_prefetch((const char *)bp + 4096, _MM_HINT_T0);
            __m256 w0 = dec8(code, bp, &P), w1 = dec8(code, bp + bb, &P);
            UNROLL
            for (int m = 0; m < MB; m++) {
                acc[m][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr[m] + k), acc[m][0]);
                acc[m][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr[m] + k + 8), acc[m][1]);
            }
        }
        if (k < kf) {
            __m256 w0 = dec8(code, bp, &P);
            UNROLL
            for (int m = 0; m < MB; m++)
                acc[m][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr[m] + k), acc[m][0]);
            k += 8;
        }
        for (; k < ke; k++) { /* dense tail */
            float wv = code == D32 ? ((const float *)row)[k] : an_fp16_to_fp32(((const uint16_t *)row)[k]);
            for (int m = 0; m < MB; m++)
                tail[m] += wv * xr[m][k];
        }
    }
    UNROLL
    for (int m = 0; m < MB; m++)
        out[m] = hsum8(_mm256_add_ps(acc[m][0], acc[m][1])) + tail[m];
}

INL void f32_gemv(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                  int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    for (int64_t n = n0; n < n1; n++) {
        float bn = bias ? bias[n] : 0.0f;
        for (int64_t m0 = 0; m0 < a->M; m0 += 4) {
            int mb = a->M - m0 < 4 ? (int)(a->M - m0) : 4;
            const float *xr[4];
            for (int m = 0; m < 4; m++)
                xr[m] = a->x + (m0 + (m < mb ? m : 0)) * a->K;
            float out[4];
            switch (mb) {
            case 1: f32_rows(code, 1, w, w->prep, xr, n, out); break;
            case 2: f32_rows(code, 2, w, w->prep, xr, n, out); break;
            case 3: f32_rows(code, 3, w, w->prep, xr, n, out); break;
            default: f32_rows(code, 4, w, w->prep, xr, n, out); break;
            }
            for (int m = 0; m < mb; m++)
                kn_store(y, y_f16, (m0 + m) * ym + n * yn, out[m] + bn);
        }
    }
}

/* Prefill (M > 4): NR rows x KC columns of W decoded once into a stack tile (zero padded
 * to a multiple of 8), then swept by an MR x NR register block per MR rows of X. */
#define NR 4
#define MR 2
#define KC 1024
#define MSB 64

INL void f32_gemm(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                  int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    int64_t K = w->K, M = a->M, gk = code >= L4 ? w->gk : K, kp = K / gk;
    const int bb = blk8(code);
    float tile[NR * KC] __attribute__((aligned(32)));
    float part[MSB][NR];
    for (int64_t nb = n0; nb < n1; nb += NR) {
        int nr = n1 - nb < NR ? (int)(n1 - nb) : NR;
        for (int64_t ms = 0; ms < M; ms += MSB) {
            int64_t me = ms + MSB < M ? ms + MSB : M;
            memset(part, 0, sizeof part);
            for (int64_t kc0 = 0; kc0 < K; kc0 += KC) {
                int64_t kc1 = kc0 + KC < K ? kc0 + KC : K, len = kc1 - kc0, lp = (len + 7) & ~(int64_t)7;
                for (int r = 0; r < NR; r++) {
                    int64_t n = nb + r < n1 ? nb + r : n1 - 1;
                    const uint8_t *row = row_of(code, w, n);
                    float *t = tile + r * KC - kc0;
                    for (int64_t k = kc0; k < kc1;) {
                        int64_t s = k / gk, se = (s + 1) * gk < kc1 ? (s + 1) * gk : kc1;
                        pal P = {_mm256_setzero_ps(), _mm256_setzero_ps(), NULL};
                        if (code >= L4) {
                            P.f = pr->pal + ((n / w->gn) * kp + s) * pr->E;
                            P.t0 = _mm256_loadu_ps(P.f);
                            P.t1 = _mm256_loadu_ps(P.f + 8);
                        }
                        for (; k + 8 <= se; k += 8)
                            _mm256_store_ps(t + k, dec8(code, row + k / 8 * bb, &P));
                        for (; k < se; k++) /* dense tail */
                            t[k] = code == D32 ? ((const float *)(const void *)row)[k]
                                               : an_fp16_to_fp32(((const uint16_t *)(const void *)row)[k]);
                    }
                    for (int64_t k = len; k < lp; k++)
                        tile[r * KC + k] = 0;
                }
                int64_t lf = len & ~(int64_t)7;
                __m256i tm = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(len - lf)),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                for (int64_t m0 = ms; m0 < me; m0 += MR) {
                    const float *xp[MR];
                    for (int i = 0; i < MR; i++)
                        xp[i] = a->x + (m0 + i < me ? m0 + i : me - 1) * K + kc0;
                    __m256 c[MR * NR];
                    UNROLL
                    for (int i = 0; i < MR * NR; i++)
                        c[i] = _mm256_setzero_ps();
                    int64_t k = 0;
                    for (; k < lf; k += 8) {
                        UNROLL
                        for (int i = 0; i < MR; i++) {
                            __m256 xv = _mm256_loadu_ps(xp[i] + k);
                            UNROLL
                            for (int r = 0; r < NR; r++)
                                c[i * NR + r] = _mm256_fmadd_ps(xv, _mm256_load_ps(tile + r * KC + k), c[i * NR + r]);
                        }
                    }
                    if (k < len) {
                        UNROLL
                        for (int i = 0; i < MR; i++) {
                            __m256 xv = _mm256_maskload_ps(xp[i] + k, tm);
                            UNROLL
                            for (int r = 0; r < NR; r++)
                                c[i * NR + r] = _mm256_fmadd_ps(xv, _mm256_load_ps(tile + r * KC + k), c[i * NR + r]);
                        }
                    }
                    for (int i = 0; i < MR && m0 + i < me; i++)
                        for (int r = 0; r < NR; r++)
                            part[m0 + i - ms][r] += hsum8(c[i * NR + r]);
                }
            }
            for (int64_t m = ms; m < me; m++)
                for (int r = 0; r < nr; r++)
                    kn_store(y, y_f16, m * ym + (nb + r) * yn, part[m - ms][r] + (bias ? bias[nb + r] : 0.0f));
        }
    }
}

/* ---- int8 path ---- */

typedef struct tbl {
    __m256i t[4];
} tbl;

/* Weights [k, k+32) as signed bytes. */
INL __m256i dec32(int code, const uint8_t *row, const int8_t *w8row, int64_t k, const tbl *T)
{
    if (code == L4) {
        __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(row + k / 2)));
        __m256i t = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi16(v, 4)), _mm256_set1_epi16(0x0f0f));
        return _mm256_shuffle_epi8(T->t[0], t);
    }
    if (code == L6) {
        const int *p = (const int *)(const void *)(row + k / 4 * 3);
        __m128i m3 = _mm_setr_epi32(-1, -1, -1, 0);
        __m256i z = _mm256_set_m128i(_mm_maskload_epi32(p + 3, m3), _mm_maskload_epi32(p, m3));
        __m256i d = _mm256_shuffle_epi8(z, _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2,
                                                            -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
        __m256i i = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(d, _mm256_set1_epi32(0x3f)),
                            _mm256_and_si256(_mm256_slli_epi32(d, 2), _mm256_set1_epi32(0x3f00))),
            _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(d, 4), _mm256_set1_epi32(0x3f0000)),
                            _mm256_and_si256(_mm256_slli_epi32(d, 6), _mm256_set1_epi32(0x3f000000))));
        __m256i b4 = _mm256_slli_epi16(i, 3), b5 = _mm256_slli_epi16(i, 2); /* bits 4, 5 to bit 7 */
        __m256i lo = _mm256_blendv_epi8(_mm256_shuffle_epi8(T->t[0], i), _mm256_shuffle_epi8(T->t[1], i), b4);
        __m256i hi = _mm256_blendv_epi8(_mm256_shuffle_epi8(T->t[2], i), _mm256_shuffle_epi8(T->t[3], i), b4);
        return _mm256_blendv_epi8(lo, hi, b5);
    }
    return _mm256_loadu_si256((const __m256i *)(w8row + k));
}

/* int32 lanes += w . x over 32 bytes (signed x signed). */
INL __m256i dot32(__m256i acc, __m256i w, __m256i x)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

INL void i8_rows(int code, int MB, const kn_weight *w, const kn_prep *pr, const kn_act *a, int64_t m0, int64_t n,
                 float *out)
{
    int64_t K = w->K, gk = w->gk, kp = K / gk;
    const uint8_t *row = row_of(code, w, n);
    const int8_t *w8row = pr->w8 ? pr->w8 + n * K : NULL;
    const int8_t *q[4];
    for (int m = 0; m < 4; m++)
        q[m] = a->q + (m0 + (m < MB ? m : 0)) * a->Kp;
    float f[4] = {0, 0, 0, 0};
    for (int64_t s = 0; s < kp; s++) {
        int64_t p = (n / w->gn) * kp + s;
        tbl T;
        for (int j = 0; j < 4; j++)
            T.t[j] = _mm256_setzero_si256();
        if (code == L4)
            T.t[0] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(pr->qpal + p * 16)));
        else if (code == L6)
            for (int j = 0; j < 4; j++)
                T.t[j] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(pr->qpal + p * 64 + 16 * j)));
        __m256i acc[4][2];
        UNROLL
        for (int m = 0; m < 4; m++)
            acc[m][0] = acc[m][1] = _mm256_setzero_si256();
        int64_t k = s * gk, ke = k + gk;
        for (; k + 64 <= ke; k += 64) {
            _mm_prefetch(code == L8 ? (const char *)w8row + k + 4096
                                    : (const char *)row + (code == L4 ? k / 2 : k / 4 * 3) + 4096,
                         _MM_HINT_T0);
            __m256i w0 = dec32(code, row, w8row, k, &T), w1 = dec32(code, row, w8row, k + 32, &T);
            UNROLL
            for (int m = 0; m < MB; m++) {
                acc[m][0] = dot32(acc[m][0], w0, _mm256_loadu_si256((const __m256i *)(q[m] + k)));
                acc[m][1] = dot32(acc[m][1], w1, _mm256_loadu_si256((const __m256i *)(q[m] + k + 32)));
            }
        }
        if (k < ke) {
            __m256i w0 = dec32(code, row, w8row, k, &T);
            UNROLL
            for (int m = 0; m < MB; m++)
                acc[m][0] = dot32(acc[m][0], w0, _mm256_loadu_si256((const __m256i *)(q[m] + k)));
        }
        UNROLL
        for (int m = 0; m < MB; m++)
            f[m] += pr->qscale[p] * (float)hsum8i(_mm256_add_epi32(acc[m][0], acc[m][1]));
    }
    for (int m = 0; m < MB; m++)
        out[m] = f[m];
}

INL void i8_all(int code, const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    for (int64_t n = n0; n < n1; n++) {
        float bn = bias ? bias[n] : 0.0f;
        for (int64_t m0 = 0; m0 < a->M; m0 += 4) {
            int mb = a->M - m0 < 4 ? (int)(a->M - m0) : 4;
            float out[4];
            switch (mb) {
            case 1: i8_rows(code, 1, w, w->prep, a, m0, n, out); break;
            case 2: i8_rows(code, 2, w, w->prep, a, m0, n, out); break;
            case 3: i8_rows(code, 3, w, w->prep, a, m0, n, out); break;
            default: i8_rows(code, 4, w, w->prep, a, m0, n, out); break;
            }
            for (int m = 0; m < mb; m++)
                kn_store(y, y_f16, (m0 + m) * ym + n * yn, out[m] * a->qscale[m0 + m] + bn);
        }
    }
}

#define ARGS const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16, int64_t ym, int64_t yn, \
             int64_t n0, int64_t n1
#define PASS w, a, bias, y, y_f16, ym, yn, n0, n1
#define INST_F32(code)                                                                       \
    static TGT void f32_##code(ARGS)                                                         \
    {                                                                                        \
        if (a->M <= 4)                                                                       \
            f32_gemv(code, PASS);                                                            \
        else                                                                                 \
            f32_gemm(code, PASS);                                                            \
    }
#define INST_I8(code) \
    static TGT void i8_##code(ARGS) { i8_all(code, PASS); }
INST_F32(D32)
INST_F32(D16)
INST_F32(L4)
INST_F32(L6)
INST_F32(L8)
INST_I8(L4)
INST_I8(L6)
INST_I8(L8)

int kn_matmul_avx2(ARGS)
{
    int code = code_of(w);
    if (code < 0)
        return -1;
    if (w->path == KN_I16 || w->wt)
        return -1;
    if (w->path == KN_I8) {
        /* int32 lanes: 64 products of at most 127 * 127 per lane and 32 columns */
        if (w->K % 32 || w->gk % 32 || w->gk > 65536)
            return -1;
        if (code == L4)
            i8_L4(PASS);
        else if (code == L6)
            i8_L6(PASS);
        else
            i8_L8(PASS);
        return 0;
    }
    if (code >= L4 && (w->K % 8 || w->gk % 8))
        return -1;
    switch (code) {
    case D32: f32_D32(PASS); break;
    case D16: f32_D16(PASS); break;
    case L4: f32_L4(PASS); break;
    case L6: f32_L6(PASS); break;
    default: f32_L8(PASS); break;
    }
    return 0;
}

#endif
