/*
 * test_engine.c — the execution API: no allocation during predict (malloc, calloc and
 * realloc are wrapped with counters through -Wl,--wrap, see the Makefile), the KV state
 * updated in place and shared across components and functions, state aliasing that
 * must fall back to copies, and the errors of predict.
 *
 * Uses the llama-lut4-c2 test model (tests/fixtures) and small programs written here.
 */
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fp16.h"
#include "mil/engine.h"
#include "mil/kern.h"
#include "mil/npy.h"
#include "test.h"

static long n_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
    n_allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    n_allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    n_allocs++;
    return __real_realloc(p, n);
}

#define FIX "tests/fixtures/llama-lut4-c2/"
#define GOLD "tests/ref/goldens/llama-lut4-c2/"

static int load_npy(const char *name, mil_named_tensor *t, const char *as)
{
    an_error err = {{0}};
    t->name = as;
    if (mil_npy_read(name, &t->t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static double max_err_fp16(const mil_tensor *a, const mil_tensor *b)
{
    int64_t n = mil_tensor_numel(a);
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = an_fp16_to_fp32(((uint16_t *)a->data)[i]) - an_fp16_to_fp32(((uint16_t *)b->data)[i]);
        if (d < 0)
            d = -d;
        if (d > m)
            m = d;
    }
    return m;
}

static const char *chunk_inputs[] = {"hidden_states", "position_ids", "causal_mask", "current_pos"};

/* Runs prefill then infer of both chunks with one state; checks goldens, in-place
 * state updates and that predict allocates nothing. */
TEST(kv_state_in_place_shared_no_alloc)
{
    if (access(FIX "llama_FFN_PF_lut4_chunk_01of02.mlmodelc/model.mil", R_OK) != 0)
        SKIP("test model fixtures are absent");
    an_error err = {{0}};
    mil_component *c1 = mil_component_load(FIX "llama_FFN_PF_lut4_chunk_01of02.mlmodelc", &err);
    mil_component *c2 = mil_component_load(FIX "llama_FFN_PF_lut4_chunk_02of02.mlmodelc", &err);
    if (!c1 || !c2)
        fprintf(stderr, "%s\n", err.msg);
    REQUIRE(c1 && c2);
    CHECK(n_allocs > 0); /* the counting wrappers are in effect */
    CHECK_EQ_INT(mil_component_n_functions(c1), 2);
    const mil_fn_desc *inf = mil_component_find(c1, "infer");
    REQUIRE(inf);
    CHECK_EQ_INT(inf->n_inputs, 4);
    CHECK_EQ_INT(inf->n_states, 1);
    CHECK_EQ_INT(inf->states[0].rank, 4);
    /* one state made from chunk 1's prefill serves both chunks and both functions */
    mil_state *st = mil_state_new(c1, "prefill", &err);
    REQUIRE(st && st->n == 1);
    mil_named_tensor pin[4], iin[4], want_p, want_i, want_sp, want_si;
    char path[256];
    int ok = 1;
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, GOLD "chunk1_prefill_%s.npy", chunk_inputs[k]);
        ok &= load_npy(path, &pin[k], chunk_inputs[k]) == 0;
        snprintf(path, sizeof path, GOLD "chunk1_infer_%s.npy", chunk_inputs[k]);
        ok &= load_npy(path, &iin[k], chunk_inputs[k]) == 0;
    }
    ok &= load_npy(GOLD "chunk1_prefill_output_hidden_states.npy", &want_p, "o") == 0;
    ok &= load_npy(GOLD "chunk1_infer_output_hidden_states.npy", &want_i, "o") == 0;
    ok &= load_npy(GOLD "chunk1_prefill_state_out.npy", &want_sp, "s") == 0;
    ok &= load_npy(GOLD "chunk1_infer_state_out.npy", &want_si, "s") == 0;
    REQUIRE(ok);

    const mil_named_tensor *out;
    int n_out;
    long before = n_allocs;
    int rc = mil_predict(c1, "prefill", 4, pin, st, &out, &n_out, &err);
    long prefill_allocs = n_allocs - before;
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    REQUIRE(rc == 0 && n_out == 1);
    CHECK_EQ_INT(prefill_allocs, 0);
    CHECK(max_err_fp16(&out[0].t, &want_p.t) < 0.05);
    CHECK(max_err_fp16(&st->bufs[0].t, &want_sp.t) < 0.05);

    /* the infer step: state starts from the golden prefill state */
    memcpy(st->bufs[0].t.data, want_sp.t.data, mil_tensor_nbytes(&want_sp.t));
    before = n_allocs;
    rc = mil_predict(c1, "infer", 4, iin, st, &out, &n_out, &err);
    long infer_allocs = n_allocs - before;
    REQUIRE(rc == 0);
    CHECK_EQ_INT(infer_allocs, 0);
    CHECK(max_err_fp16(&out[0].t, &want_i.t) < 0.05);
    CHECK(max_err_fp16(&st->bufs[0].t, &want_si.t) < 0.05);
    mil_predict_stats ps;
    mil_component_stats(c1, &ps);
    /* in place: no state copy at all; exactly one K and one V row per layer written
     * (1 layer in this chunk x 2 (K, V) x kv_heads 2 x head_dim 12 x fp16) */
    CHECK_EQ_INT(ps.state_bytes_copied, 0);
    CHECK_EQ_INT(ps.state_bytes_written_in_place, 1 * 2 * 2 * 12 * 2);
    /* the 7 projections of the layer (q, k, v, o, gate, up, down: 7 conv/linear ops over
     * constexpr_lut_to_dense in model.mil) run on the packed weights: nothing decoded */
    CHECK_EQ_INT(ps.kernel_projections, 7);
    CHECK_EQ_INT(ps.kernel_projections_int8, 0); /* never the default */
    /* the 16-bit path is the default where the kernels have it (all 7 are LUT) */
    CHECK_EQ_INT(ps.kernel_projections_int16, kn_default_path() == KN_I16 ? 7 : 0);
    CHECK_EQ_INT(mil_component_decoded_bytes(c1), 0);
    printf("INFO infer step chunk 1: %llu state bytes copied, %llu written in place, %ld allocations, %llu ops\n",
           (unsigned long long)ps.state_bytes_copied, (unsigned long long)ps.state_bytes_written_in_place,
           infer_allocs, (unsigned long long)ps.ops_run);

    /* the same state through chunk 2's infer (another component) */
    rc = mil_predict(c2, "infer", 4, iin, st, &out, &n_out, &err);
    CHECK_EQ_INT(rc, 0);
    mil_component_stats(c2, &ps);
    CHECK_EQ_INT(ps.state_bytes_copied, 0);

    /* errors: wrong shape, wrong dtype, missing input, missing state */
    rc = mil_predict(c1, "infer", 4, pin, st, &out, &n_out, &err);
    CHECK(rc != 0 && strstr(err.msg, "not one of its declared shapes"));
    mil_named_tensor bad[4];
    memcpy(bad, iin, sizeof bad);
    bad[1].t.dtype = MIL_DT_INT16;
    rc = mil_predict(c1, "infer", 4, bad, st, &out, &n_out, &err);
    CHECK(rc != 0 && strstr(err.msg, "must be int32"));
    rc = mil_predict(c1, "infer", 3, iin, st, &out, &n_out, &err);
    CHECK(rc != 0 && strstr(err.msg, "missing input"));
    rc = mil_predict(c1, "infer", 4, iin, NULL, &out, &n_out, &err);
    CHECK(rc != 0 && strstr(err.msg, "needs state"));
    rc = mil_predict(c1, "nope", 4, iin, st, &out, &n_out, &err);
    CHECK(rc != 0 && strstr(err.msg, "no function"));

    for (int k = 0; k < 4; k++) {
        free(pin[k].t.data);
        free(iin[k].t.data);
    }
    free(want_p.t.data);
    free(want_i.t.data);
    free(want_sp.t.data);
    free(want_si.t.data);
    mil_state_free(st);
    mil_component_free(c1);
    mil_component_free(c2);
}

static char tmpdir[256];

static mil_component *load_text(const char *name, const char *text, an_error *err)
{
    char dir[512], file[600];
    snprintf(dir, sizeof dir, "%s/%s.mlmodelc", tmpdir, name);
    mkdir(dir, 0755);
    snprintf(file, sizeof file, "%s/model.mil", dir);
    FILE *f = fopen(file, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return mil_component_load(dir, err);
}

/* An accumulator: s += x, returned before and after. The read before the write must
 * see the old value although a later write_state replaces the state: the planner has
 * to copy (not alias) that read. */
TEST(state_read_before_write_sees_old_value)
{
    an_error err = {{0}};
    mil_component *c = load_text("acc",
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp32, [2]> x, state<tensor<fp32, [2]>> s) {\n"
        "        tensor<fp32, [2]> old = read_state(input = s)[name = string(\"old\")];\n"
        "        tensor<fp32, [2]> sum = add(x = old, y = x)[name = string(\"sum\")];\n"
        "        write_state(data = sum, input = s)[name = string(\"w\")];\n"
        "        tensor<fp32, [2]> now = read_state(input = s)[name = string(\"now\")];\n"
        "        tensor<fp32, [2]> twice = mul(x = now, y = fp32(2))[name = string(\"twice\")];\n"
        "        tensor<fp32, [2]> old2 = mul(x = old, y = fp32(1))[name = string(\"old2\")];\n"
        "    } -> (old2, twice);\n}\n", &err);
    if (!c)
        fprintf(stderr, "%s\n", err.msg);
    REQUIRE(c);
    mil_state *st = mil_state_new(c, NULL, &err);
    REQUIRE(st);
    float xv[2] = {1.5f, -2.0f};
    mil_named_tensor in = {"x", {MIL_DT_FP32, 1, {2}, xv}};
    const mil_named_tensor *out;
    int n_out;
    for (int step = 1; step <= 3; step++) {
        REQUIRE(mil_predict(c, NULL, 1, &in, st, &out, &n_out, &err) == 0);
        REQUIRE(n_out == 2);
        const float *old = out[0].t.data, *tw = out[1].t.data;
        CHECK_NEAR(old[0], 1.5 * (step - 1), 1e-6);
        CHECK_NEAR(old[1], -2.0 * (step - 1), 1e-6);
        CHECK_NEAR(tw[0], 2 * 1.5 * step, 1e-6);
        CHECK_NEAR(tw[1], 2 * -2.0 * step, 1e-6);
    }
    mil_state_reset(st);
    REQUIRE(mil_predict(c, NULL, 1, &in, st, &out, &n_out, &err) == 0);
    CHECK_NEAR(((const float *)out[0].t.data)[0], 0, 1e-9);
    /* a state of another shape is refused */
    mil_state bad = *st;
    mil_state_buf b = st->bufs[0];
    b.t.shape[0] = 3;
    bad.bufs = &b;
    CHECK(mil_predict(c, NULL, 1, &in, &bad, &out, &n_out, &err) != 0);
    CHECK(strstr(err.msg, "another dtype or shape") != NULL);
    mil_state_free(st);
    mil_component_free(c);
}

/* One run of `fn` of a fixture chunk on its golden inputs from a zero state: output and
 * final state bytes, concatenated into a malloc'd buffer (*n bytes). */
static unsigned char *run_chunk(mil_component *c, const char *gold, const char *fn, size_t *n)
{
    static const char *names[] = {"hidden_states", "position_ids", "causal_mask", "current_pos"};
    mil_named_tensor in[4];
    char path[512];
    an_error err = {{0}};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%schunk1_%s_%s.npy", gold, fn, names[k]);
        if (load_npy(path, &in[k], names[k]))
            return NULL;
    }
    mil_state *st = mil_state_new(c, fn, &err);
    const mil_named_tensor *out;
    int n_out;
    unsigned char *buf = NULL;
    if (st && mil_predict(c, fn, 4, in, st, &out, &n_out, &err) == 0 && n_out >= 1) {
        size_t a = mil_tensor_nbytes(&out[0].t), b = mil_tensor_nbytes(&st->bufs[0].t);
        buf = malloc(a + b);
        if (buf) {
            memcpy(buf, out[0].t.data, a);
            memcpy(buf + a, st->bufs[0].t.data, b);
            *n = a + b;
        }
    } else {
        fprintf(stderr, "%s\n", err.msg);
    }
    mil_state_free(st);
    for (int k = 0; k < 4; k++)
        free(in[k].t.data);
    return buf;
}

/* Results do not depend on the thread count: a chunk with grouped-query attention,
 * masked attention and RMSNorm gives the same bytes planned and run on 1 thread, planned
 * on 1 and run on 3 (more threads than planned for), and planned and run on 3. */
TEST(thread_count_does_not_change_results)
{
    static const char *cases[][2] = {
        {FIX "llama_FFN_PF_lut4_chunk_01of02.mlmodelc", GOLD},
        {"tests/fixtures/qwen3-lut6-c1-argmax/qwen_FFN_PF_lut6_chunk_01of01.mlpackage",
         "tests/ref/goldens/qwen3-lut6-c1-argmax/"},
    };
    static const char *fns[] = {"prefill", "infer"};
    an_error err = {{0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (access(cases[k][0], R_OK) != 0)
            SKIP("test model fixtures are absent");
        REQUIRE(mil_set_threads(1, &err) == 0);
        mil_component *c1 = mil_component_load(cases[k][0], &err);
        REQUIRE(c1);
        REQUIRE(mil_set_threads(3, &err) == 0);
        mil_component *c3 = mil_component_load(cases[k][0], &err);
        REQUIRE(c3);
        for (int f = 0; f < 2; f++) {
            size_t n1 = 0, n2 = 0, n3 = 0;
            REQUIRE(mil_set_threads(1, &err) == 0);
            unsigned char *r1 = run_chunk(c1, cases[k][1], fns[f], &n1);
            REQUIRE(mil_set_threads(3, &err) == 0);
            unsigned char *r2 = run_chunk(c1, cases[k][1], fns[f], &n2);
            unsigned char *r3 = run_chunk(c3, cases[k][1], fns[f], &n3);
            REQUIRE(r1 && r2 && r3);
            CHECK(n1 == n2 && memcmp(r1, r2, n1) == 0);
            CHECK(n1 == n3 && memcmp(r1, r3, n1) == 0);
            free(r1), free(r2), free(r3);
        }
        mil_component_free(c1);
        mil_component_free(c3);
    }
    REQUIRE(mil_set_threads(1, &err) == 0);
}

/* ANEMONE_KERNEL_PATH (read when a component is loaded) puts the LUT projections on the
 * path asked for; the results stay within the goldens' tolerance on the exact paths. */
static void path_on_request(const char *path, int i8, int i16)
{
    an_error err = {{0}};
    setenv("ANEMONE_KERNEL_PATH", path, 1);
    mil_component *c = mil_component_load(FIX "llama_FFN_PF_lut4_chunk_01of02.mlmodelc", &err);
    unsetenv("ANEMONE_KERNEL_PATH");
    REQUIRE(c);
    size_t n = 0;
    unsigned char *r = run_chunk(c, GOLD, "infer", &n);
    REQUIRE(r);
    free(r);
    mil_predict_stats ps;
    mil_component_stats(c, &ps);
    CHECK_EQ_INT(ps.kernel_projections, 7);
    CHECK_EQ_INT(ps.kernel_projections_int8, i8);
    CHECK_EQ_INT(ps.kernel_projections_int16, i16);
    mil_component_free(c);
}

TEST(kernel_path_on_request)
{
    if (access(FIX "llama_FFN_PF_lut4_chunk_01of02.mlmodelc/model.mil", R_OK) != 0)
        SKIP("test model fixtures are absent");
    path_on_request("i8", 7, 0);
    path_on_request("i16", 0, 7);
    path_on_request("f32", 0, 0);
}

/* Large element-wise ops run on the threads: the same bytes on 1 and 2 threads (planned
 * for 2), equal to the plain definition (fp32 arithmetic, then the output's rounding),
 * with broadcasting along rows and along columns, fp16 and fp32; unary SiLU and sigmoid
 * too (within the vector exp's error). */
TEST(large_binary_ops_on_threads)
{
    an_error err = {{0}};
    REQUIRE(mil_set_threads(2, &err) == 0);
    mil_component *c = load_text("bin",
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp16, [1, 64, 1000]> x, tensor<fp16, [1, 1, 1000]> r, tensor<fp32, [64, 1]> k,"
        " tensor<fp32, [64, 1000]> z) {\n"
        "        tensor<fp16, [1, 64, 1000]> a = add(x = x, y = r)[name = string(\"a\")];\n"
        "        tensor<fp32, [64, 1000]> m = mul(x = z, y = k)[name = string(\"m\")];\n"
        "        tensor<fp32, [64, 1000]> d = real_div(x = m, y = z)[name = string(\"d\")];\n"
        "        tensor<fp16, [1, 64, 1000]> sl = silu(x = x)[name = string(\"sl\")];\n"
        "        tensor<fp32, [64, 1000]> sg = sigmoid(x = m)[name = string(\"sg\")];\n"
        "    } -> (a, m, d, sl, sg);\n}\n", &err);
    if (!c)
        fprintf(stderr, "%s\n", err.msg);
    REQUIRE(c);
    int64_t R = 64, C = 1000;
    uint16_t *x = malloc((size_t)(R * C) * 2), r[1000];
    float k[64], *z = malloc((size_t)(R * C) * 4);
    for (int64_t i = 0; i < R * C; i++) {
        x[i] = an_fp32_to_fp16((float)((i * 37) % 1001) / 97.0f - 5.0f);
        z[i] = (float)((i * 53) % 997) / 31.0f + 0.25f;
    }
    for (int64_t i = 0; i < C; i++)
        r[i] = an_fp32_to_fp16((float)i / 333.0f);
    for (int64_t i = 0; i < R; i++)
        k[i] = (float)i * 0.125f - 3.0f;
    mil_named_tensor in[4] = {{"x", {MIL_DT_FP16, 3, {1, 64, 1000}, x}},
                              {"r", {MIL_DT_FP16, 3, {1, 1, 1000}, r}},
                              {"k", {MIL_DT_FP32, 2, {64, 1}, k}},
                              {"z", {MIL_DT_FP32, 2, {64, 1000}, z}}};
    unsigned char *got[2][5];
    size_t bytes[5] = {(size_t)(R * C) * 2, (size_t)(R * C) * 4, (size_t)(R * C) * 4, (size_t)(R * C) * 2,
                       (size_t)(R * C) * 4};
    for (int t = 0; t < 2; t++) {
        REQUIRE(mil_set_threads(t ? 2 : 1, &err) == 0);
        const mil_named_tensor *out;
        int n_out;
        REQUIRE(mil_predict(c, NULL, 4, in, NULL, &out, &n_out, &err) == 0);
        REQUIRE(n_out == 5);
        for (int o = 0; o < 5; o++) {
            got[t][o] = malloc(bytes[o]);
            memcpy(got[t][o], out[o].t.data, bytes[o]);
        }
    }
    for (int o = 0; o < 5; o++)
        CHECK(memcmp(got[0][o], got[1][o], bytes[o]) == 0);
    int bad = 0;
    for (int64_t i = 0; i < R * C && !bad; i++) {
        int64_t row = i / C, col = i % C;
        uint16_t a = an_fp32_to_fp16(an_fp16_to_fp32(x[i]) + an_fp16_to_fp32(r[col]));
        float m = z[i] * k[row], d = m / z[i];
        float gm, gd;
        memcpy(&gm, got[1][1] + (size_t)i * 4, 4);
        memcpy(&gd, got[1][2] + (size_t)i * 4, 4);
        /* silu and sigmoid from the vector exp: within its few-ulp error, then rounding */
        double xv = an_fp16_to_fp32(x[i]), sl = xv / (1.0 + exp(-xv)), sg = 1.0 / (1.0 + exp(-(double)m));
        float gsg;
        memcpy(&gsg, got[1][4] + (size_t)i * 4, 4);
        double gsl = an_fp16_to_fp32(((const uint16_t *)got[1][3])[i]);
        if (fabs(gsl - sl) > fabs(sl) / 1024 + 1e-7 || fabs(gsg - sg) > 1e-6 * sg + 1e-37) { /* libm overflows too: 0 for tiny results */
            T_FAIL("element %lld: silu %g (want %g), sigmoid %g (want %g)", (long long)i, gsl, sl, gsg, sg);
            bad = 1;
        }
        if (((const uint16_t *)got[1][0])[i] != a || gm != m || gd != d) {
            T_FAIL("element %lld: %04x %g %g, expected %04x %g %g", (long long)i, ((const uint16_t *)got[1][0])[i],
                   gm, gd, a, m, d);
            bad = 1;
        }
    }
    for (int t = 0; t < 2; t++)
        for (int o = 0; o < 5; o++)
            free(got[t][o]);
    free(x), free(z);
    mil_component_free(c);
    REQUIRE(mil_set_threads(1, &err) == 0);
}

/* Contiguous slices are views (of the state, of an arena value): the values are still
 * those NumPy slicing gives, a slice of the state taken before a write still sees the
 * old rows, and a strided slice (not contiguous) is still copied correctly. */
TEST(slice_views_of_state)
{
    an_error err = {{0}};
    mil_component *c = load_text("sv",
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp32, [2, 3]> x, state<tensor<fp32, [2, 3]>> s) {\n"
        "        tensor<fp32, [2, 3]> old = read_state(input = s)[name = string(\"old\")];\n"
        "        tensor<fp32, [1, 3]> row1 = slice_by_index(x = old, begin = tensor<int32, [2]>([1, 0]), end = tensor<int32, [2]>([2, 3]))[name = string(\"row1\")];\n"
        "        tensor<fp32, [2, 3]> sum = add(x = old, y = x)[name = string(\"sum\")];\n"
        "        write_state(data = sum, input = s)[name = string(\"w\")];\n"
        "        tensor<fp32, [2, 3]> now = read_state(input = s)[name = string(\"now\")];\n"
        "        tensor<fp32, [2]> mid = slice_by_index(x = now, begin = tensor<int32, [2]>([1, 1]), end = tensor<int32, [2]>([2, 3]), squeeze_mask = tensor<bool, [2]>([true, false]))[name = string(\"mid\")];\n"
        "        tensor<fp32, [2, 1]> col = slice_by_index(x = now, begin = tensor<int32, [2]>([0, 2]), end = tensor<int32, [2]>([2, 3]))[name = string(\"col\")];\n"
        "        tensor<fp32, [1, 3]> r1 = mul(x = row1, y = fp32(1))[name = string(\"r1\")];\n"
        "        tensor<fp32, [2]> m2 = mul(x = mid, y = fp32(10))[name = string(\"m2\")];\n"
        "    } -> (r1, m2, col);\n}\n", &err);
    if (!c)
        fprintf(stderr, "%s\n", err.msg);
    REQUIRE(c);
    mil_state *st = mil_state_new(c, NULL, &err);
    REQUIRE(st);
    float xv[6] = {1, 2, 3, 4, 5, 6};
    mil_named_tensor in = {"x", {MIL_DT_FP32, 2, {2, 3}, xv}};
    const mil_named_tensor *out;
    int n_out;
    for (int step = 1; step <= 2; step++) {
        REQUIRE(mil_predict(c, NULL, 1, &in, st, &out, &n_out, &err) == 0);
        REQUIRE(n_out == 3);
        const float *r1 = out[0].t.data, *m2 = out[1].t.data, *col = out[2].t.data;
        /* state before the step is (step-1)*x, after it step*x */
        for (int k = 0; k < 3; k++)
            CHECK_NEAR(r1[k], (step - 1) * xv[3 + k], 1e-6);
        CHECK_NEAR(m2[0], 10 * step * xv[4], 1e-5);
        CHECK_NEAR(m2[1], 10 * step * xv[5], 1e-5);
        CHECK_NEAR(col[0], step * xv[2], 1e-6);
        CHECK_NEAR(col[1], step * xv[5], 1e-6);
    }
    mil_state_free(st);
    mil_component_free(c);
}

/* Grouped-query attention: tile → reshape → matmul reads the unrepeated heads (the tile
 * is not materialized); results equal the plain definition, and equal those of the same
 * program where the tile is also an output (materialized). */
TEST(gqa_tile_not_materialized)
{
    static const char *prog =
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp32, [1, 6, 2, 4]> q, tensor<fp32, [2, 1, 3, 4]> kv) {\n"
        "        tensor<fp32, [2, 3, 3, 4]> t = tile(x = kv, reps = tensor<int32, [4]>([1, 3, 1, 1]))[name = string(\"t\")];\n"
        "        tensor<fp32, [1, 6, 3, 4]> k = reshape(x = t, shape = tensor<int32, [4]>([1, 6, 3, 4]))[name = string(\"k\")];\n"
        "        tensor<fp32, [1, 6, 2, 3]> sc = matmul(x = q, y = k, transpose_x = bool(false), transpose_y = bool(true))[name = string(\"sc\")];\n"
        "        tensor<fp32, [1, 6, 3, 2]> st = transpose(x = sc, perm = tensor<int32, [4]>([0, 1, 3, 2]))[name = string(\"st\")];\n"
        "        tensor<fp32, [1, 6, 2, 4]> av = matmul(x = sc, y = k, transpose_x = bool(false), transpose_y = bool(false))[name = string(\"av\")];\n"
        "    } -> (sc, av%s);\n}\n";
    char text[2][4096];
    snprintf(text[0], sizeof text[0], prog, "");
    snprintf(text[1], sizeof text[1], prog, ", t");
    float q[48], kv[24];
    for (int i = 0; i < 48; i++)
        q[i] = (float)((i * 37) % 11) / 8.0f - 0.6f;
    for (int i = 0; i < 24; i++)
        kv[i] = (float)((i * 17) % 13) / 6.0f - 1.0f;
    /* head h of the repeated keys is kv head h / 3 */
    float want_sc[36], want_av[48];
    for (int h = 0; h < 6; h++)
        for (int m = 0; m < 2; m++) {
            for (int n = 0; n < 3; n++) {
                double acc = 0;
                for (int d = 0; d < 4; d++)
                    acc += (double)q[(h * 2 + m) * 4 + d] * kv[((h / 3) * 3 + n) * 4 + d];
                want_sc[(h * 2 + m) * 3 + n] = (float)acc;
            }
        }
    for (int h = 0; h < 6; h++)
        for (int m = 0; m < 2; m++)
            for (int d = 0; d < 4; d++) {
                double acc = 0;
                for (int n = 0; n < 3; n++)
                    acc += (double)want_sc[(h * 2 + m) * 3 + n] * kv[((h / 3) * 3 + n) * 4 + d];
                want_av[(h * 2 + m) * 4 + d] = (float)acc;
            }
    for (int v = 0; v < 2; v++) {
        an_error err = {{0}};
        mil_component *c = load_text(v ? "gqa_t" : "gqa", text[v], &err);
        if (!c)
            fprintf(stderr, "%s\n", err.msg);
        REQUIRE(c);
        mil_named_tensor in[2] = {{"q", {MIL_DT_FP32, 4, {1, 6, 2, 4}, q}},
                                  {"kv", {MIL_DT_FP32, 4, {2, 1, 3, 4}, kv}}};
        const mil_named_tensor *out;
        int n_out;
        REQUIRE(mil_predict(c, NULL, 2, in, NULL, &out, &n_out, &err) == 0);
        REQUIRE(n_out == 2 + v);
        double e = 0;
        for (int i = 0; i < 36; i++)
            e = fmax(e, fabs(((const float *)out[0].t.data)[i] - want_sc[i]));
        for (int i = 0; i < 48; i++)
            e = fmax(e, fabs(((const float *)out[1].t.data)[i] - want_av[i]));
        CHECK(e < 1e-4);
        if (v) /* the materialized tile: kv head h/3 repeated */
            CHECK_NEAR(((const float *)out[2].t.data)[(1 * 3 + 2) * 12 + 5], kv[(1 * 3 + 1) * 4 + 1], 0);
        mil_component_free(c);
    }
}

/* Attention scores whose mask is -inf in every row for the last columns: the matmul
 * skips those columns. Softmax weights equal the plain definition (computed here), and
 * those of the same program where the scores are also an output (no skipping). */
TEST(masked_attention_columns_skipped)
{
    static const char *prog =
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp32, [1, 2, 3, 4]> q, tensor<fp32, [1, 2, 6, 4]> k, tensor<fp32, [1, 1, 3, 6]> mask) {\n"
        "        tensor<fp32, [1, 2, 3, 6]> sc = matmul(x = q, y = k, transpose_x = bool(false), transpose_y = bool(true))[name = string(\"sc\")];\n"
        "        fp32 half = const()[name = string(\"half\"), val = fp32(0.5)];\n"
        "        tensor<fp32, [1, 2, 3, 6]> ss = mul(x = sc, y = half)[name = string(\"ss\")];\n"
        "        tensor<fp32, [1, 2, 3, 6]> sm = add(x = ss, y = mask)[name = string(\"sm\")];\n"
        "        int32 ax = const()[name = string(\"ax\"), val = int32(-1)];\n"
        "        tensor<fp32, [1, 2, 3, 6]> w = softmax(x = sm, axis = ax)[name = string(\"w\")];\n"
        "    } -> (w%s);\n}\n";
    char text[2][4096];
    snprintf(text[0], sizeof text[0], prog, "");
    snprintf(text[1], sizeof text[1], prog, ", sc");
    float q[24], k[48], mask[18];
    for (int i = 0; i < 24; i++)
        q[i] = (float)((i * 7) % 5) / 4.0f - 0.3f;
    for (int i = 0; i < 48; i++)
        k[i] = (float)((i * 11) % 9) / 5.0f - 0.7f;
    /* causal rows for positions 0, 1, 2: columns 3..5 are masked everywhere */
    for (int m = 0; m < 3; m++)
        for (int n = 0; n < 6; n++)
            mask[m * 6 + n] = n <= m ? 0.0f : -INFINITY;
    float want[36];
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < 3; m++) {
            double e[6], sum = 0;
            for (int n = 0; n < 6; n++) {
                double acc = 0;
                for (int d = 0; d < 4; d++)
                    acc += (double)q[(h * 3 + m) * 4 + d] * k[(h * 6 + n) * 4 + d];
                e[n] = n <= m ? exp(acc * 0.5) : 0;
                sum += e[n];
            }
            for (int n = 0; n < 6; n++)
                want[(h * 3 + m) * 6 + n] = (float)(e[n] / sum);
        }
    for (int v = 0; v < 2; v++) {
        an_error err = {{0}};
        mil_component *c = load_text(v ? "att_sc" : "att", text[v], &err);
        if (!c)
            fprintf(stderr, "%s\n", err.msg);
        REQUIRE(c);
        mil_named_tensor in[3] = {{"q", {MIL_DT_FP32, 4, {1, 2, 3, 4}, q}},
                                  {"k", {MIL_DT_FP32, 4, {1, 2, 6, 4}, k}},
                                  {"mask", {MIL_DT_FP32, 4, {1, 1, 3, 6}, mask}}};
        const mil_named_tensor *out;
        int n_out;
        REQUIRE(mil_predict(c, NULL, 3, in, NULL, &out, &n_out, &err) == 0);
        double e = 0;
        for (int i = 0; i < 36; i++)
            e = fmax(e, fabs(((const float *)out[0].t.data)[i] - want[i]));
        CHECK(e < 1e-5);
        mil_component_free(c);
    }
}

/* ANEMLL's RMSNorm: layer_norm(concat([x, -x], -1)) then the first half. Fused (the
 * negation and the concat are not run) it still equals x / sqrt(mean(x^2) + eps), and
 * the program with the concat as an extra output (not fused) gives the same. */
TEST(rmsnorm_pattern_fused)
{
    static const char *prog =
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp16, [1, 3, 8]> x) {\n"
        "        fp16 m1 = const()[name = string(\"m1\"), val = fp16(-0x1p+0)];\n"
        "        tensor<fp16, [1, 3, 8]> neg = mul(x = x, y = m1)[name = string(\"neg\")];\n"
        "        int32 ax = const()[name = string(\"ax\"), val = int32(-1)];\n"
        "        bool il = const()[name = string(\"il\"), val = bool(false)];\n"
        "        tensor<fp16, [1, 3, 16]> cat = concat(axis = ax, interleave = il, values = (x, neg))[name = string(\"cat\")];\n"
        "        tensor<int32, [1]> axes = const()[name = string(\"axes\"), val = tensor<int32, [1]>([-1])];\n"
        "        fp16 eps = const()[name = string(\"eps\"), val = fp16(0x1p-10)];\n"
        "        tensor<fp16, [1, 3, 16]> ln = layer_norm(axes = axes, epsilon = eps, x = cat)[name = string(\"ln\")];\n"
        "        tensor<fp16, [1, 3, 8]> y = slice_by_index(x = ln, begin = tensor<int32, [3]>([0, 0, 0]), end = tensor<int32, [3]>([1, 3, 8]))[name = string(\"y\")];\n"
        "    } -> (y%s);\n}\n";
    char text[2][4096];
    snprintf(text[0], sizeof text[0], prog, "");
    snprintf(text[1], sizeof text[1], prog, ", cat");
    uint16_t x[24];
    float xf[24];
    for (int i = 0; i < 24; i++) {
        x[i] = an_fp32_to_fp16((float)((i * 13) % 7) * 0.37f - 1.1f + (i / 8) * 0.5f);
        xf[i] = an_fp16_to_fp32(x[i]);
    }
    float want[24];
    for (int r = 0; r < 3; r++) {
        double ss = 0;
        for (int i = 0; i < 8; i++)
            ss += (double)xf[r * 8 + i] * xf[r * 8 + i];
        double inv = 1.0 / sqrt(ss / 8 + 0x1p-10);
        for (int i = 0; i < 8; i++)
            want[r * 8 + i] = (float)(xf[r * 8 + i] * inv);
    }
    long ops[2] = {0, 0};
    for (int v = 0; v < 2; v++) {
        an_error err = {{0}};
        mil_component *c = load_text(v ? "rms_cat" : "rms", text[v], &err);
        if (!c)
            fprintf(stderr, "%s\n", err.msg);
        REQUIRE(c);
        mil_named_tensor in = {"x", {MIL_DT_FP16, 3, {1, 3, 8}, x}};
        const mil_named_tensor *out;
        int n_out;
        REQUIRE(mil_predict(c, NULL, 1, &in, NULL, &out, &n_out, &err) == 0);
        double e = 0;
        for (int i = 0; i < 24; i++)
            e = fmax(e, fabs(an_fp16_to_fp32(((const uint16_t *)out[0].t.data)[i]) - want[i]));
        CHECK(e < 4e-3); /* fp16 output rounding */
        mil_predict_stats ps;
        mil_component_stats(c, &ps);
        ops[v] = (long)ps.ops_run;
        mil_component_free(c);
    }
    /* fused: the negation and the concat did not run (layer_norm and the slice did) */
    CHECK_EQ_INT(ops[0], 2);
    CHECK_EQ_INT(ops[1], 4);
}

/* slice_update on a state read: in place only when the next use of the state writes it.
 * Here a second read comes first (it must see the old value), and another function
 * updates without writing back (the state must not change). */
TEST(state_update_in_place_only_before_a_write)
{
    an_error err = {{0}};
    mil_component *c = load_text("upd",
        "program(1.3)\n{\n"
        "    func reread<ios18>(tensor<fp32, [1]> x, state<tensor<fp32, [3]>> s) {\n"
        "        tensor<fp32, [3]> r1 = read_state(input = s)[name = string(\"r1\")];\n"
        "        tensor<fp32, [3]> u = slice_update(begin = tensor<int32, [1]>([1]), end = tensor<int32, [1]>([2]), update = x, x = r1)[name = string(\"u\")];\n"
        "        tensor<fp32, [3]> r2 = read_state(input = s)[name = string(\"r2\")];\n"
        "        tensor<fp32, [3]> old = add(x = r2, y = fp32(0))[name = string(\"old\")];\n"
        "        write_state(data = u, input = s)[name = string(\"w\")];\n"
        "    } -> (old);\n"
        "    func nowrite<ios18>(tensor<fp32, [1]> x, state<tensor<fp32, [3]>> s) {\n"
        "        tensor<fp32, [3]> r1 = read_state(input = s)[name = string(\"r1\")];\n"
        "        tensor<fp32, [3]> u = slice_update(begin = tensor<int32, [1]>([0]), end = tensor<int32, [1]>([1]), update = x, x = r1)[name = string(\"u\")];\n"
        "    } -> (u);\n}\n", &err);
    if (!c)
        fprintf(stderr, "%s\n", err.msg);
    REQUIRE(c);
    mil_state *st = mil_state_new(c, "reread", &err);
    REQUIRE(st);
    float xv[1] = {7.0f};
    mil_named_tensor in = {"x", {MIL_DT_FP32, 1, {1}, xv}};
    const mil_named_tensor *out;
    int n_out;
    REQUIRE(mil_predict(c, "reread", 1, &in, st, &out, &n_out, &err) == 0);
    const float *old = out[0].t.data, *sv = st->bufs[0].t.data;
    CHECK_NEAR(old[1], 0.0, 0);
    CHECK_NEAR(sv[1], 7.0, 0);
    REQUIRE(mil_predict(c, "nowrite", 1, &in, st, &out, &n_out, &err) == 0);
    const float *u = out[0].t.data;
    CHECK_NEAR(u[0], 7.0, 0);
    CHECK_NEAR(u[1], 7.0, 0);
    CHECK_NEAR(sv[0], 0.0, 0); /* not written back: the state keeps its value */
    mil_state_free(st);
    mil_component_free(c);
}

/* A function with no state and one whose state is made by extending another's. */
TEST(state_extend_and_unknown_op_place)
{
    an_error err = {{0}};
    mil_component *c = load_text("unk",
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp32, [2]> x) {\n"
        "        tensor<fp32, [2]> y = frobnicate(x = x)[name = string(\"y\")];\n"
        "    } -> (y);\n}\n", &err);
    CHECK(c == NULL);
    CHECK(strstr(err.msg, "model.mil:4:") != NULL);
    CHECK(strstr(err.msg, "frobnicate") != NULL);
    CHECK(strstr(err.msg, "ios18") != NULL);
    CHECK(strstr(err.msg, "'main'") != NULL);
    mil_component *a = load_text("nostate",
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp16, [2]> x) {\n"
        "        tensor<fp16, [2]> y = relu(x = x)[name = string(\"y\")];\n"
        "    } -> (y);\n}\n", &err);
    mil_component *b = load_text("withstate",
        "program(1.3)\n{\n"
        "    func main<ios18>(tensor<fp16, [2]> x, state<tensor<fp16, [2]>> kv) {\n"
        "        write_state(data = x, input = kv)[name = string(\"w\")];\n"
        "        tensor<fp16, [2]> y = read_state(input = kv)[name = string(\"y\")];\n"
        "    } -> (y);\n}\n", &err);
    REQUIRE(a && b);
    mil_state *st = mil_state_new(a, NULL, &err);
    REQUIRE(st && st->n == 0);
    REQUIRE(mil_state_extend(st, b, NULL, &err) == 0);
    CHECK_EQ_INT(st->n, 1);
    uint16_t xv[2] = {an_fp32_to_fp16(3.0f), an_fp32_to_fp16(-1.0f)};
    mil_named_tensor in = {"x", {MIL_DT_FP16, 1, {2}, xv}};
    const mil_named_tensor *out;
    int n_out;
    REQUIRE(mil_predict(b, NULL, 1, &in, st, &out, &n_out, &err) == 0);
    CHECK_EQ_INT(((uint16_t *)out[0].t.data)[0], xv[0]);
    CHECK_EQ_INT(((uint16_t *)st->bufs[0].t.data)[1], xv[1]);
    mil_predict_stats ps;
    mil_component_stats(b, &ps);
    CHECK_EQ_INT(ps.state_bytes_copied, 4); /* the write of a fresh value: one copy */
    mil_state_free(st);
    mil_component_free(a);
    mil_component_free(b);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anemone-test-engine-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(kv_state_in_place_shared_no_alloc);
    RUN(state_read_before_write_sees_old_value);
    RUN(slice_views_of_state);
    RUN(thread_count_does_not_change_results);
    RUN(kernel_path_on_request);
    RUN(large_binary_ops_on_threads);
    RUN(gqa_tile_not_materialized);
    RUN(masked_attention_columns_skipped);
    RUN(rmsnorm_pattern_fused);
    RUN(state_update_in_place_only_before_a_write);
    RUN(state_extend_and_unknown_op_place);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return t_finish();
}
