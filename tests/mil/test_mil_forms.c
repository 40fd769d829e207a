/* test_mil_forms.c — the two containers agree: for every component shipped both as
 * .mlpackage (protobuf) and .mlmodelc (text) among the test-model fixtures, `show
 * --program` text is identical and every blob reads the same bytes through either
 * program. Also: the printed program parses back to the same text (all fixtures and
 * shared samples), and truncated/corrupt protobuf fails with a byte offset. */
#pragma GCC diagnostic ignored "-Wformat-truncation" /* paths are short; messages may be cut */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/strbuf.h"
#include "mil/ir.h"
#include "mil/loaders.h"
#include "mil/print.h"
#include "mil/weights.h"
#include "test.h"

static char *print_of(const mil_program *p)
{
    an_strbuf sb;
    an_sb_init(&sb);
    if (mil_print_program(p, &sb)) {
        an_sb_free(&sb);
        return NULL;
    }
    return an_sb_steal(&sb);
}

static int list(const char *cmd, char lines[][512], int max)
{
    FILE *fp = popen(cmd, "r");
    int n = 0;
    if (!fp)
        return 0;
    while (n < max && fgets(lines[n], 512, fp)) {
        lines[n][strcspn(lines[n], "\n")] = '\0';
        n++;
    }
    pclose(fp);
    return n;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int same_file(const char *a, const char *b)
{
    an_mapped_file x = {0}, y = {0};
    an_error err;
    int same = an_map_file(a, &x, &err) == 0 && an_map_file(b, &y, &err) == 0 && x.size == y.size &&
               (x.size == 0 || memcmp(x.data, y.data, x.size) == 0);
    an_unmap_file(&x);
    an_unmap_file(&y);
    return same;
}

/* The blob literals of a function in op order (attributes, then inputs by position). */
static int blobs_of(const mil_function *fn, const mil_literal **out, int max)
{
    int n = 0;
    for (int o = 0; o < fn->n_ops; o++) {
        const mil_op *op = &fn->ops[o];
        for (int i = 0; i < op->n_attrs; i++)
            if (op->attrs[i].value->kind == MIL_LIT_BLOB && n < max)
                out[n++] = op->attrs[i].value;
        for (int i = 0; i < op->n_inputs; i++)
            for (int j = 0; j < op->inputs[i].n_bindings; j++) {
                const mil_literal *l = op->inputs[i].bindings[j].literal;
                if (l && l->kind == MIL_LIT_BLOB && n < max)
                    out[n++] = l;
            }
    }
    return n;
}

static void compare_weights(mil_program *a, mil_program *b, int *n_compared)
{
    mil_weights *wa = mil_weights_open(a), *wb = mil_weights_open(b);
    enum { MAX = 4096 };
    static const mil_literal *la[MAX], *lb[MAX];
    for (int f = 0; f < a->n_functions; f++) {
        const mil_function *fb = mil_program_function(b, a->functions[f].name);
        if (!fb) {
            T_FAIL("function %s missing in %s", a->functions[f].name, b->path);
            continue;
        }
        int na = blobs_of(&a->functions[f], la, MAX), nb = blobs_of(fb, lb, MAX);
        CHECK_EQ_INT(na, nb);
        for (int i = 0; i < na && i < nb; i++) {
            mil_blob ba, bb;
            an_error err = {{0}};
            if (mil_blob_get(wa, la[i], &ba, &err) || mil_blob_get(wb, lb[i], &bb, &err)) {
                T_FAIL("%.400s", err.msg);
                continue;
            }
            CHECK(ba.nbytes == bb.nbytes && ba.dtype == bb.dtype && memcmp(ba.data, bb.data, ba.nbytes) == 0);
            (*n_compared)++;
        }
    }
    mil_weights_close(wa);
    mil_weights_close(wb);
}

TEST(package_and_compiled_agree)
{
    static char pk[64][512], mc[64][512];
    int np = list("ls -d tests/fixtures/*/*.mlpackage 2>/dev/null", pk, 64);
    int nm = list("ls -d tests/fixtures/*/*.mlmodelc 2>/dev/null", mc, 64);
    int pairs = 0, blobs = 0;
    for (int i = 0; i < np; i++) {
        char stem[512];
        snprintf(stem, sizeof stem, "%s", base(pk[i]));
        *strrchr(stem, '.') = '\0';
        for (int j = 0; j < nm; j++) {
            char stem2[512];
            snprintf(stem2, sizeof stem2, "%s", base(mc[j]));
            *strrchr(stem2, '.') = '\0';
            char wa[1100], wb[1100];
            snprintf(wa, sizeof wa, "%s/Data/com.apple.CoreML/weights/weight.bin", pk[i]);
            snprintf(wb, sizeof wb, "%s/weights/weight.bin", mc[j]);
            /* the same component: same name and the same weight file */
            if (strcmp(stem, stem2) != 0 || !same_file(wa, wb))
                continue;
            an_error err = {{0}};
            mil_program *a = mil_program_load(pk[i], &err), *b = a ? mil_program_load(mc[j], &err) : NULL;
            if (!a || !b) {
                T_FAIL("%.400s", err.msg);
                mil_program_free(a);
                continue;
            }
            char *ta = print_of(a), *tb = print_of(b);
            REQUIRE(ta && tb);
            if (strcmp(ta, tb) != 0) {
                size_t k = 0;
                while (ta[k] && ta[k] == tb[k])
                    k++;
                T_FAIL("%s and %s print differently from byte %zu", pk[i], mc[j], k);
            }
            compare_weights(a, b, &blobs);
            free(ta);
            free(tb);
            mil_program_free(a);
            mil_program_free(b);
            pairs++;
        }
    }
    if (!pairs)
        SKIP("no component is shipped in both forms among the fixtures");
    CHECK(blobs > 0);
}

TEST(print_parse_print_is_stable)
{
    static char comps[128][512];
    int n = list("ls -d tests/fixtures/*/*.mlmodelc tests/fixtures/*/*.mlpackage 2>/dev/null", comps, 64);
    const char *sh = t_shared_dir();
    if (sh) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "find '%s/data/coreml-samples' -name model.mil -exec dirname {} \\; | sort", sh);
        n += list(cmd, comps + n, 128 - n);
    }
    if (!n)
        SKIP("no fixtures and no shared samples");
    for (int i = 0; i < n; i++) {
        an_error err = {{0}};
        mil_program *p = mil_program_load(comps[i], &err);
        if (!p) {
            T_FAIL("%.400s", err.msg);
            continue;
        }
        char *t1 = print_of(p);
        mil_program *q = mil_program_new();
        if (mil_parse_text(q, t1, strlen(t1), "printed.mil", &err)) {
            T_FAIL("%s: printed text does not parse: %.300s", comps[i], err.msg);
        } else {
            char *t2 = print_of(q);
            if (strcmp(t1, t2) != 0)
                T_FAIL("%s: print of the printed program differs", comps[i]);
            free(t2);
        }
        mil_program_free(q);
        mil_program_free(p);
        free(t1);
    }
}

TEST(corrupt_protobuf)
{
    static char pk[64][512];
    int np = list("ls -d tests/fixtures/*/*.mlpackage 2>/dev/null", pk, 64);
    if (!np)
        SKIP("no .mlpackage fixtures");
    char path[700];
    snprintf(path, sizeof path, "%s/Data/com.apple.CoreML/model.mlmodel", pk[0]);
    char *data;
    size_t len;
    an_error err = {{0}};
    REQUIRE(an_read_file(path, 0, &data, &len, &err) == 0);
    int failed = 0;
    /* every truncation point below the full length fails cleanly, with an offset */
    for (size_t cut = 0; cut < len; cut += 1 + len / 97) {
        mil_program *p = mil_program_new();
        an_error_clear(&err);
        if (mil_parse_proto(p, (const unsigned char *)data, cut, "m.mlmodel", &err) == 0)
            failed++;
        else if (cut > 0 && !strstr(err.msg, "m.mlmodel: "))
            T_FAIL("error without the file name: %.300s", err.msg);
        mil_program_free(p);
    }
    CHECK_EQ_INT(failed, 0);
    /* flipping bytes never crashes (ASan build) */
    for (size_t i = 0; i < len; i += 1 + len / 211) {
        data[i] ^= 0x5a;
        mil_program *p = mil_program_new();
        mil_parse_proto(p, (const unsigned char *)data, len, "m.mlmodel", &err);
        mil_program_free(p);
        data[i] ^= 0x5a;
    }
    /* text is not a model */
    mil_program *p = mil_program_new();
    CHECK(mil_parse_proto(p, (const unsigned char *)"program(1.3)\n{", 14, "m.mlmodel", &err) != 0);
    CHECK(strstr(err.msg, "m.mlmodel: byte ") != NULL);
    mil_program_free(p);
    free(data);
}

int main(void)
{
    RUN(package_and_compiled_agree);
    RUN(print_parse_print_is_stable);
    RUN(corrupt_protobuf);
    return t_finish();
}
