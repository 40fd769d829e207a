/*
 * kern_c.c — the portable kernels: any weight kind, any bits, any K and palette groups.
 *
 * A row of W is decoded in chunks of CB columns (never crossing a palette boundary, so
 * that the int8 path can scale each chunk by its palette's scale) into a stack buffer,
 * then dotted with up to MB activation rows, so each decoded chunk serves MB rows.
 */
#include "mil/kern_internal.h"

#define CB 256
#define MB 8

/* Columns [k0, k0+len) of row n as fp32. */
static void decode_f32(const kn_weight *w, const kn_prep *pr, int64_t n, int64_t k0, int64_t len,
                       float *out)
{
    if (w->wt) {
        for (int64_t i = 0; i < len; i++)
            out[i] = w->kind == KN_W_F32 ? ((const float *)w->data)[(k0 + i) * w->N + n]
                                         : an_fp16_to_fp32(((const uint16_t *)w->data)[(k0 + i) * w->N + n]);
    } else if (w->kind == KN_W_F32) {
        memcpy(out, (const float *)w->data + n * w->K + k0, (size_t)len * sizeof(float));
    } else if (w->kind == KN_W_F16) {
        an_fp16_to_fp32_n((const uint16_t *)w->data + n * w->K + k0, out, (size_t)len);
    } else {
        const float *pl = pr->pal + kn_pal_of(w, pr, n, k0) * pr->E;
        int64_t i0 = n * w->K + k0;
        for (int64_t i = 0; i < len; i++)
            out[i] = pl[kn_index_at(w->data, i0 + i, w->bits)];
    }
}

static float dot_f32(const float *a, const float *b, int64_t n)
{
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int64_t n)
{
    int32_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (int32_t)a[i] * b[i];
    return s;
}

/* Chunk length at column k: up to CB, not crossing a palette boundary. */
static int64_t chunk_len(const kn_weight *w, int64_t k)
{
    int64_t end = w->K;
    if (w->kind == KN_W_LUT) {
        int64_t pe = (k / w->gk + 1) * w->gk;
        end = pe < end ? pe : end;
    }
    return end - k < CB ? end - k : CB;
}

static void matmul_f32(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                       int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    float wb[CB];
    for (int64_t n = n0; n < n1; n++)
        for (int64_t m0 = 0; m0 < a->M; m0 += MB) {
            int mb = a->M - m0 < MB ? (int)(a->M - m0) : MB;
            float acc[MB] = {0};
            for (int64_t k = 0; k < w->K;) {
                int64_t len = chunk_len(w, k);
                decode_f32(w, pr, n, k, len, wb);
                for (int m = 0; m < mb; m++)
                    acc[m] += dot_f32(wb, a->x + (m0 + m) * a->K + k, len);
                k += len;
            }
            for (int m = 0; m < mb; m++)
                kn_store(y, y_f16, (m0 + m) * ym + n * yn, acc[m] + (bias ? bias[n] : 0.0f));
        }
}

static void matmul_i8(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                      int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    int8_t wb[CB];
    for (int64_t n = n0; n < n1; n++)
        for (int64_t m0 = 0; m0 < a->M; m0 += MB) {
            int mb = a->M - m0 < MB ? (int)(a->M - m0) : MB;
            float acc[MB] = {0};
            for (int64_t k = 0; k < w->K;) {
                int64_t len = chunk_len(w, k), p = kn_pal_of(w, pr, n, k);
                if (pr->w8) {
                    memcpy(wb, pr->w8 + n * w->K + k, (size_t)len);
                } else {
                    const int8_t *ql = pr->qpal + p * pr->E;
                    int64_t i0 = n * w->K + k;
                    for (int64_t i = 0; i < len; i++)
                        wb[i] = ql[kn_index_at(w->data, i0 + i, w->bits)];
                }
                for (int m = 0; m < mb; m++)
                    acc[m] += pr->qscale[p] * (float)dot_i8(wb, a->q + (m0 + m) * a->Kp + k, len);
                k += len;
            }
            for (int m = 0; m < mb; m++)
                kn_store(y, y_f16, (m0 + m) * ym + n * yn,
                         acc[m] * a->qscale[m0 + m] + (bias ? bias[n] : 0.0f));
        }
}

/* Quantized X(m, k) of the 16-bit path, read from the e-ordered copy (q16e, or the panel
 * p16e when M > 4): the one every preparation fills. */
static inline int32_t q16_at(const kn_act *a, int64_t m, int64_t k)
{
    int64_t i = k % 64, pos = k - i + (i % 2 ? 32 + i / 2 : i / 2);
    if (a->M <= 4)
        return a->q16e[m * a->Kp + pos];
    return a->p16e[((pos / 2) * a->Mp + m) * 2 + pos % 2];
}

/* KN_I16: chunks of at most KN_I16_FLUSH columns, so an int32 sum cannot overflow. */
static void matmul_i16(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                       int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    const kn_prep *pr = w->prep;
    int16_t wb[KN_I16_FLUSH];
    for (int64_t n = n0; n < n1; n++)
        for (int64_t m0 = 0; m0 < a->M; m0 += MB) {
            int mb = a->M - m0 < MB ? (int)(a->M - m0) : MB;
            float acc[MB] = {0};
            for (int64_t k = 0; k < w->K;) {
                int64_t len = chunk_len(w, k), p = kn_pal_of(w, pr, n, k);
                len = len < KN_I16_FLUSH ? len : KN_I16_FLUSH;
                int64_t i0 = n * w->K + k;
                for (int64_t i = 0; i < len; i++)
                    wb[i] = kn_w16(pr, p, kn_index_at(w->data, i0 + i, w->bits));
                for (int m = 0; m < mb; m++) {
                    int32_t s = 0;
                    for (int64_t i = 0; i < len; i++)
                        s += (int32_t)wb[i] * q16_at(a, m0 + m, k + i);
                    acc[m] += pr->wscale[p] * (float)s;
                }
                k += len;
            }
            for (int m = 0; m < mb; m++)
                kn_store(y, y_f16, (m0 + m) * ym + n * yn,
                         acc[m] * a->qscale[m0 + m] + (bias ? bias[n] : 0.0f));
        }
}

int kn_matmul_c(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{
    if (w->path == KN_I8)
        matmul_i8(w, a, bias, y, y_f16, ym, yn, n0, n1);
    else if (w->path == KN_I16)
        matmul_i16(w, a, bias, y, y_f16, ym, yn, n0, n1);
    else
        matmul_f32(w, a, bias, y, y_f16, ym, yn, n0, n1);
    return 0;
}
