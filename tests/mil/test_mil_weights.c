/* test_mil_weights.c — MIL blob storage v2 (COREML-FORMAT.md §3): header, sentinel,
 * dtype, size and bounds checks, path resolution, sub-byte packing (§3.3), and every
 * blob of the test-model fixtures. Expected bytes are written out from the spec by hand. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mil/ir.h"
#include "mil/packed.h"
#include "mil/weights.h"
#include "test.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A one-blob file: header, metadata at 64, payload at 128. */
static size_t make_file(uint8_t *f, uint32_t code, const uint8_t *payload, size_t n, uint64_t pad)
{
    memset(f, 0, 256);
    put32(f, 1);
    put32(f + 4, 2);
    put32(f + 64, 0xDEADBEEFu);
    put32(f + 68, code);
    put64(f + 72, n);
    put64(f + 80, 128);
    put64(f + 88, pad);
    memcpy(f + 128, payload, n);
    return 192;
}

static mil_type tensor(mil_dtype dt, int64_t d0, int64_t d1)
{
    mil_type t;
    memset(&t, 0, sizeof t);
    t.kind = MIL_TYPE_TENSOR;
    t.dtype = dt;
    t.rank = d1 ? 2 : 1;
    t.dims[0] = d0;
    t.dims[1] = d1;
    return t;
}

TEST(unpack_by_the_spec)
{
    /* uint4: byte j holds element 2j in bits 0-3, 2j+1 in bits 4-7 */
    const uint8_t u4[] = {0x21, 0xf3, 0x07};
    uint8_t out[8];
    mil_unpack_bits(u4, 5, 4, 0, out);
    CHECK_EQ_INT(out[0], 1);
    CHECK_EQ_INT(out[1], 2);
    CHECK_EQ_INT(out[2], 3);
    CHECK_EQ_INT(out[3], 15);
    CHECK_EQ_INT(out[4], 7);
    /* uint6 straddles: elements 1..4 = 0b000001, 0b000010, 0b000011, 0b111111
     * stream: e0 bits 0-5, e1 bits 6-11, e2 bits 12-17, e3 bits 18-23 */
    const uint8_t u6[] = {0x41, 0x30, 0xfc};
    mil_unpack_bits(u6, 4, 6, 0, out);
    CHECK_EQ_INT(out[0], 1);
    CHECK_EQ_INT(out[1], 1);
    CHECK_EQ_INT(out[2], 3);
    CHECK_EQ_INT(out[3], 63);
    /* uint3: 5,2,7 → bits 101 010 111 → 0b11010101 0b1 */
    const uint8_t u3[] = {0xd5, 0x01};
    mil_unpack_bits(u3, 3, 3, 0, out);
    CHECK_EQ_INT(out[0], 5);
    CHECK_EQ_INT(out[1], 2);
    CHECK_EQ_INT(out[2], 7);
    /* int4 two's complement: 0xf8 = elements 8 (-8), 15 (-1) */
    const uint8_t i4[] = {0xf8, 0x07};
    int8_t s[3];
    CHECK_EQ_INT(mil_unpack_dtype(MIL_DT_INT4, i4, 3, s), 0);
    CHECK_EQ_INT(s[0], -8);
    CHECK_EQ_INT(s[1], -1);
    CHECK_EQ_INT(s[2], 7);
    /* uint1: LSB first */
    const uint8_t u1[] = {0x05};
    mil_unpack_bits(u1, 3, 1, 0, out);
    CHECK(out[0] == 1 && out[1] == 0 && out[2] == 1);
    CHECK_EQ_INT(mil_unpack_dtype(MIL_DT_FP16, u1, 1, out), -1);
}

TEST(pack_unpack_round_trip)
{
    const int widths[] = {1, 2, 3, 4, 6, 8};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        int b = widths[w];
        uint8_t src[101], packed[101], back[101];
        for (int i = 0; i < 101; i++)
            src[i] = (uint8_t)((i * 37 + 11) & ((1 << b) - 1));
        mil_pack_bits(src, 101, b, packed);
        CHECK_EQ_INT(mil_packed_bytes(101, b), (101 * b + 7) / 8);
        mil_unpack_bits(packed, 101, b, 0, back);
        CHECK(memcmp(src, back, 101) == 0);
    }
}

TEST(blob_checks)
{
    uint8_t f[256];
    const uint8_t half[8] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x00, 0x42}; /* 1 -2 .5 3 */
    size_t n = make_file(f, 1, half, 8, 0);
    mil_type t = tensor(MIL_DT_FP16, 4, 0);
    mil_blob b;
    an_error err = {{0}};
    REQUIRE(mil_blob_check(f, n, "w.bin", 64, &t, &b, &err) == 0);
    CHECK(b.data == f + 128);
    CHECK_EQ_INT(b.nbytes, 8);
    CHECK_EQ_INT(b.numel, 4);
    mil_type t22 = tensor(MIL_DT_FP16, 2, 2);
    CHECK_EQ_INT(mil_blob_check(f, n, "w.bin", 64, &t22, &b, &err), 0);

#define BAD(file, size, off, type, needle)                                                    \
    do {                                                                                     \
        an_error_clear(&err);                                                                \
        CHECK(mil_blob_check(file, size, "w.bin", off, type, &b, &err) != 0);                \
        if (!strstr(err.msg, needle))                                                        \
            T_FAIL("error '%.300s' lacks '%s'", err.msg, needle);                            \
    } while (0)

    mil_type t5 = tensor(MIL_DT_FP16, 5, 0), tf = tensor(MIL_DT_FP32, 2, 0);
    BAD(f, n, 64, &t5, "8 bytes, 5 fp16 elements need 10");
    BAD(f, n, 64, &tf, "blob holds fp16, the program declares fp32");
    BAD(f, n, 0, &t, "outside the file");
    BAD(f, n, 160, &t, "outside the file");
    BAD(f, n, 1u << 30, &t, "outside the file");
    BAD(f, n, 128, &t, "w.bin: byte 128: no blob here");
    BAD(f, 40, 64, &t, "too short");
    uint8_t g[256];
    memcpy(g, f, 256);
    put32(g + 4, 1);
    BAD(g, n, 64, &t, "weight file version 1");
    memcpy(g, f, 256);
    put64(g + 80, 188); /* payload runs past the end */
    BAD(g, n, 64, &t, "outside the file");
    memcpy(g, f, 256);
    put64(g + 80, UINT64_MAX - 2);
    BAD(g, n, 64, &t, "outside the file");
    memcpy(g, f, 256);
    put32(g + 68, 99);
    BAD(g, n, 64, &t, "unknown blob data type 99");

    /* uint4 with 5 elements: 3 bytes, 4 padding bits */
    const uint8_t u4[3] = {0x21, 0xf3, 0x07};
    n = make_file(f, 11, u4, 3, 4);
    mil_type t4 = tensor(MIL_DT_UINT4, 5, 0);
    CHECK_EQ_INT(mil_blob_check(f, n, "w.bin", 64, &t4, &b, &err), 0);
    CHECK_EQ_INT(b.numel, 5);
    put64(f + 88, 0);
    BAD(f, n, 64, &t4, "padding of 0 bits");
    /* absurd declared shape */
    mil_type huge = tensor(MIL_DT_FP16, INT64_MAX / 2, 4);
    BAD(f, n, 64, &huge, "no static size");
}

TEST(paths)
{
    an_error err = {{0}};
    char *p = mil_blob_resolve_path("/m/x.mlmodelc", "@model_path/weights/weight.bin", &err);
    CHECK_EQ_STR(p, "/m/x.mlmodelc/weights/weight.bin");
    free(p);
    p = mil_blob_resolve_path("/m", "weights.bin", &err);
    CHECK_EQ_STR(p, "/m/weights.bin");
    free(p);
    CHECK(mil_blob_resolve_path("/m", "@model_path/../../etc/passwd", &err) == NULL);
    CHECK(strstr(err.msg, "inside the model directory") != NULL);
    CHECK(mil_blob_resolve_path("/m", "/etc/passwd", &err) == NULL);
}

/* Every blob literal of every fixture component resolves and checks out. */
static int check_all_blobs(const char *dir, int *n_blobs)
{
    an_error err = {{0}};
    mil_program *p = mil_program_load(dir, &err);
    if (!p) {
        T_FAIL("%.400s", err.msg);
        return -1;
    }
    mil_weights *w = mil_weights_open(p);
    int bad = 0;
    for (int f = 0; f < p->n_functions; f++)
        for (int o = 0; o < p->functions[f].n_ops; o++) {
            const mil_op *op = &p->functions[f].ops[o];
            for (int i = 0; i < op->n_attrs + op->n_inputs; i++) {
                const mil_literal *l = i < op->n_attrs ? op->attrs[i].value
                                                        : op->inputs[i - op->n_attrs].bindings[0].literal;
                if (!l || l->kind != MIL_LIT_BLOB)
                    continue;
                mil_blob b;
                if (mil_blob_get(w, l, &b, &err)) {
                    T_FAIL("%.400s", err.msg);
                    bad = 1;
                } else {
                    (*n_blobs)++;
                }
            }
        }
    mil_weights_close(w);
    mil_program_free(p);
    return bad ? -1 : 0;
}

TEST(fixture_blobs)
{
    FILE *fp = popen("ls -d tests/fixtures/*/*.mlmodelc tests/fixtures/*/*.mlpackage 2>/dev/null", "r");
    REQUIRE(fp);
    char line[1024];
    int n = 0, blobs = 0;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = '\0';
        check_all_blobs(line, &blobs);
        n++;
    }
    pclose(fp);
    if (!n)
        SKIP("no test-model fixtures");
    CHECK(blobs > 0);
}

/* Pages of fd's file in the page cache. */
static size_t resident_pages(int fd, size_t size)
{
    void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return 0;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), np = (size + pg - 1) / pg, n = 0;
    unsigned char *v = malloc(np);
    if (v && mincore(m, size, v) == 0)
        for (size_t i = 0; i < np; i++)
            n += v[i] & 1;
    free(v);
    munmap(m, size);
    return n;
}

/* The first blob read from a weight file starts reading the whole file into the page
 * cache (the embedding rows are read at random later, one disk read each if not). */
TEST(weight_file_is_read_ahead)
{
    char dir[] = "/var/tmp/anemone-wXXXXXX";
    if (!mkdtemp(dir))
        SKIP("cannot make a directory in /var/tmp");
    char path[256], mil[256];
    snprintf(path, sizeof path, "%s/weights", dir);
    REQUIRE(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/weights/weight.bin", dir);
    snprintf(mil, sizeof mil, "%s/model.mil", dir);
    FILE *f = fopen(mil, "w");
    REQUIRE(f);
    fputs("program(1.3)\n[buildInfo = dict<string, string>({})]\n{\n"
          "    func main<ios18>(tensor<fp16, [4]> x) {\n"
          "            tensor<fp16, [4]> w = const()[name = string(\"w\"), val = tensor<fp16, [4]>("
          "BLOBFILE(path = string(\"@model_path/weights/weight.bin\"), offset = uint64(64)))];\n"
          "            tensor<fp16, [4]> y = add(x = x, y = w)[name = string(\"y\")];\n"
          "        } -> (y);\n}\n",
          f);
    fclose(f);
    size_t size = (size_t)16 << 20;
    uint8_t *buf = calloc(1, size);
    REQUIRE(buf);
    const uint8_t half[8] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x00, 0x42};
    make_file(buf, 1, half, 8, 0);
    for (size_t i = 4096; i < size; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 24); /* not a sparse file */
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, buf, size) == (ssize_t)size);
    free(buf);
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    size_t total = size / (size_t)sysconf(_SC_PAGESIZE), before = resident_pages(fd, size);
    an_error err = {{0}};
    mil_program *p = mil_program_load(dir, &err);
    if (!p)
        T_FAIL("%.400s", err.msg);
    else if (before > total / 4) {
        printf("INFO the page cache kept %zu of %zu pages: nothing to observe\n", before, total);
    } else {
        mil_weights *w = mil_weights_open(p);
        const mil_op *op = &p->functions[0].ops[0];
        const mil_literal *l = NULL;
        for (int i = 0; i < op->n_attrs; i++)
            if (op->attrs[i].value && op->attrs[i].value->kind == MIL_LIT_BLOB)
                l = op->attrs[i].value;
        REQUIRE(l);
        mil_blob b;
        CHECK_EQ_INT(mil_blob_get(w, l, &b, &err), 0);
        size_t now_in = 0;
        for (int tries = 0; tries < 300 && (now_in = resident_pages(fd, size)) < total; tries++)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        printf("INFO resident pages: %zu of %zu before, %zu after the first blob\n", before, total, now_in);
        CHECK(now_in == total);
        mil_weights_close(w);
    }
    mil_program_free(p);
    close(fd);
    unlink(path);
    snprintf(path, sizeof path, "%s/weights", dir);
    rmdir(path);
    unlink(mil);
    rmdir(dir);
}

int main(void)
{
    RUN(unpack_by_the_spec);
    RUN(pack_unpack_round_trip);
    RUN(blob_checks);
    RUN(paths);
    RUN(fixture_blobs);
    RUN(weight_file_is_read_ahead);
    return t_finish();
}
