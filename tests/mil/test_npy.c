/* test_npy.c — the .npy parser on files NumPy wrote (fuzz corpus) and on malformed
 * headers; the writer's output is read back by NumPy in tests/mil/test_ops.py. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fp16.h"
#include "mil/npy.h"
#include "test.h"

static int parse(const char *s, size_t n, mil_tensor *t, an_error *err)
{
    return mil_npy_parse(s, n, "x.npy", t, err);
}

TEST(reads_numpy_files)
{
    mil_tensor t;
    an_error err = {{0}};
    REQUIRE(mil_npy_read("fuzz/corpus/npy/f16_2x3.npy", &t, &err) == 0);
    CHECK_EQ_INT(t.dtype, MIL_DT_FP16);
    CHECK_EQ_INT(t.rank, 2);
    CHECK_EQ_INT(t.shape[0], 2);
    CHECK_EQ_INT(t.shape[1], 3);
    CHECK_NEAR(an_fp16_to_fp32(((uint16_t *)t.data)[5]), 5.0, 0);
    free(t.data);
    REQUIRE(mil_npy_read("fuzz/corpus/npy/i32_scalar.npy", &t, &err) == 0);
    CHECK_EQ_INT(t.rank, 0);
    CHECK_EQ_INT(((int32_t *)t.data)[0], 7);
    free(t.data);
    REQUIRE(mil_npy_read("fuzz/corpus/npy/bool_4.npy", &t, &err) == 0);
    CHECK_EQ_INT(t.dtype, MIL_DT_BOOL);
    CHECK_EQ_INT(((uint8_t *)t.data)[1], 0);
    free(t.data);
    REQUIRE(mil_npy_read("fuzz/corpus/npy/u8_empty.npy", &t, &err) == 0);
    CHECK_EQ_INT(t.shape[0], 0);
    free(t.data);
}

TEST(write_then_read)
{
    int16_t v[6] = {1, -2, 3, -4, 5, -6};
    mil_tensor t = {MIL_DT_INT16, 3, {1, 2, 3}, v}, r;
    an_error err = {{0}};
    char path[] = "/tmp/anemone-npy-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    REQUIRE(mil_npy_write(path, &t, &err) == 0);
    REQUIRE(mil_npy_read(path, &r, &err) == 0);
    CHECK_EQ_INT(r.dtype, MIL_DT_INT16);
    CHECK_EQ_INT(r.rank, 3);
    CHECK(memcmp(r.data, v, sizeof v) == 0);
    free(r.data);
    remove(path);
}

TEST(rejects_malformed)
{
    mil_tensor t;
    an_error err = {{0}};
    static const char fortran[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }          \n\0\0\0\0";
    CHECK(parse("hello", 5, &t, &err) != 0);
    CHECK(strstr(err.msg, "bad magic") != NULL);
    CHECK(parse(fortran, sizeof fortran - 1, &t, &err) != 0);
    CHECK(strstr(err.msg, "Fortran") != NULL);
    static const char big[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }        \n\0\0\0\0";
    CHECK(parse(big, sizeof big - 1, &t, &err) != 0);
    CHECK(strstr(err.msg, "unsupported dtype") != NULL);
    static const char trunc[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }        \n\0\0\0\0";
    CHECK(parse(trunc, sizeof trunc - 1, &t, &err) != 0);
    CHECK(strstr(err.msg, "shape needs 8") != NULL);
    static const char huge[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,), }\n";
    CHECK(parse(huge, sizeof huge - 1, &t, &err) != 0);
}

int main(void)
{
    RUN(reads_numpy_files);
    RUN(write_then_read);
    RUN(rejects_malformed);
    return t_finish();
}
