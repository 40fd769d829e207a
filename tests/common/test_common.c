/* test_common.c — error, arena, strbuf, pool, file helpers. */
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/cpu.h"
#include "common/error.h"
#include "common/file.h"
#include "common/pool.h"
#include "common/strbuf.h"

TEST(error_set_prefix_truncate)
{
    an_error err;
    an_error_clear(&err);
    CHECK(!an_error_isset(&err));
    CHECK_EQ_INT(an_errorf(&err, "unknown dtype '%s'", "fp12"), -1);
    CHECK_EQ_INT(an_error_prefix(&err, "%s:%d:%d", "model.mil", 12, 7), -1);
    CHECK_EQ_STR(err.msg, "model.mil:12:7: unknown dtype 'fp12'");
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    an_errorf(&err, "%s", big);
    CHECK_EQ_INT(strlen(err.msg), AN_ERROR_MAX - 1);
    an_error_prefix(&err, "ctx");
    CHECK(strncmp(err.msg, "ctx: xxx", 8) == 0);
    CHECK_EQ_INT(strlen(err.msg), AN_ERROR_MAX - 1);
    CHECK_EQ_INT(an_errorf(NULL, "dropped"), -1); /* NULL error is accepted */
}

TEST(arena_alignment_and_growth)
{
    an_arena a;
    an_arena_init(&a);
    for (int i = 0; i < 10000; i++) {
        size_t n = (size_t)(i % 97) * 13 + 1;
        unsigned char *p = an_arena_alloc(&a, n);
        REQUIRE(p);
        CHECK(((uintptr_t)p & 15) == 0);
        for (size_t k = 0; k < n; k++)
            CHECK(p[k] == 0); /* zero-filled */
        memset(p, 0xab, n);
    }
    void *big = an_arena_alloc_aligned(&a, 10 << 20, 64);
    REQUIRE(big);
    CHECK(((uintptr_t)big & 63) == 0);
    void *page = an_arena_alloc_aligned(&a, 100, 4096);
    CHECK(page && ((uintptr_t)page & 4095) == 0);
    CHECK(an_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL); /* overflow refused */
    CHECK(an_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    CHECK(an_arena_alloc_aligned(&a, 8, 24) == NULL);     /* not a power of two */
    CHECK_EQ_STR(an_arena_strdup(&a, "kv_cache"), "kv_cache");
    CHECK_EQ_STR(an_arena_strndup(&a, "abcdef", 3), "abc");
    CHECK(a.total >= (10u << 20));
    an_arena_free(&a);
    CHECK(a.head == NULL && a.total == 0);
    CHECK(an_arena_alloc(&a, 1) != NULL); /* usable again */
    an_arena_free(&a);
}

TEST(strbuf_append_format_steal)
{
    an_strbuf sb;
    an_sb_init(&sb);
    CHECK_EQ_STR(sb.buf, "");
    for (int i = 0; i < 1000; i++)
        CHECK(an_sb_appendf(&sb, "%d,", i) == 0);
    CHECK(strncmp(sb.buf, "0,1,2,", 6) == 0);
    CHECK_EQ_INT(sb.len, strlen(sb.buf));
    an_sb_clear(&sb);
    CHECK_EQ_STR(sb.buf, "");
    an_sb_append(&sb, "a\0b", 3); /* embedded NUL kept by length */
    CHECK_EQ_INT(sb.len, 3);
    an_sb_putc(&sb, 'c');
    CHECK(memcmp(sb.buf, "a\0bc", 5) == 0);
    char *s = an_sb_steal(&sb);
    CHECK(s && s[0] == 'a');
    free(s);
    CHECK_EQ_INT(sb.len, 0);
    char *e = an_sb_steal(&sb); /* stealing an empty buffer gives a freeable "" */
    CHECK(e && e[0] == '\0');
    free(e);
    an_sb_free(&sb);
}

typedef struct {
    int *hits;
    size_t n;
    int bad_thread;
    int size;
} pool_ctx;

static void pool_fn(void *ctxp, size_t begin, size_t end, int thread)
{
    pool_ctx *c = ctxp;
    if (thread < 0 || thread >= c->size)
        __atomic_store_n(&c->bad_thread, 1, __ATOMIC_RELAXED);
    for (size_t i = begin; i < end; i++)
        __atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
}

TEST(pool_runs_each_index_once)
{
    an_error err;
    for (int size = 1; size <= 4; size++) {
        an_pool *p = an_pool_create(size, &err);
        REQUIRE(p);
        CHECK_EQ_INT(an_pool_size(p), size);
        for (int round = 0; round < 50; round++) {
            size_t n = (size_t)round * 37 + 1;
            int *hits = calloc(n, sizeof *hits);
            pool_ctx c = {hits, n, 0, size};
            an_pool_for(p, n, (size_t)(round % 5), pool_fn, &c);
            for (size_t i = 0; i < n; i++)
                if (hits[i] != 1)
                    T_FAIL("size %d round %d: index %zu ran %d times", size, round, i, hits[i]);
            CHECK(!c.bad_thread);
            free(hits);
        }
        an_pool_destroy(p);
    }
    CHECK(an_pool_create(0, &err) == NULL);
    CHECK(strstr(err.msg, "out of range") != NULL);
    an_pool_destroy(NULL);
}

typedef struct {
    size_t grain, n, left_at_claim_max;
    int nchunks, misaligned, too_big;
    size_t sizes[4096];
} chunk_ctx;

static void chunk_fn(void *ctxp, size_t begin, size_t end, int thread)
{
    (void)thread;
    chunk_ctx *c = ctxp;
    int i = __atomic_fetch_add(&c->nchunks, 1, __ATOMIC_RELAXED);
    if (i < 4096)
        c->sizes[i] = end - begin;
    if (begin % c->grain || (end != c->n && end % c->grain))
        __atomic_store_n(&c->misaligned, 1, __ATOMIC_RELAXED);
    /* a chunk is at most a quarter of what was left when it was claimed (2 threads) */
    if (end - begin > c->grain && end - begin > (c->n - begin) / 4)
        __atomic_store_n(&c->too_big, 1, __ATOMIC_RELAXED);
}

/* Chunks start and end on multiples of grain (kernels that group rows rely on it), and
 * shrink as the loop drains: a share of what is left, never less than grain. */
TEST(pool_chunks_are_guided_and_aligned)
{
    an_error err;
    an_pool *p = an_pool_create(2, &err);
    REQUIRE(p);
    static chunk_ctx c;
    memset(&c, 0, sizeof c);
    c.grain = 16;
    c.n = 16 * 1000 + 5;
    an_pool_for(p, c.n, c.grain, chunk_fn, &c);
    CHECK(!c.misaligned);
    CHECK(!c.too_big);
    size_t total = 0, biggest = 0;
    for (int i = 0; i < c.nchunks && i < 4096; i++) {
        total += c.sizes[i];
        biggest = c.sizes[i] > biggest ? c.sizes[i] : biggest;
    }
    CHECK(total == c.n);
    CHECK(biggest > c.grain);        /* not all of grain size: guided */
    CHECK(c.nchunks < 200);          /* far fewer claims than n / grain = 1000 */
    an_pool_destroy(p);
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anemone-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        tmpdir[0] = '\0';
}

TEST(file_atomic_write_map_read)
{
    make_tmpdir();
    REQUIRE(tmpdir[0]);
    an_error err;
    char *dir = an_path_join(tmpdir, "a/b/c");
    REQUIRE(an_mkdir_p(dir, 0755, &err) == 0);
    CHECK(an_is_dir(dir));
    CHECK(an_mkdir_p(dir, 0755, &err) == 0); /* idempotent */
    char *path = an_path_join(dir, "f.bin");
    const char data[] = "hello\0world";
    REQUIRE(an_write_file_atomic(path, data, sizeof data, &err) == 0);
    CHECK(an_is_file(path));
    an_mapped_file m;
    REQUIRE(an_map_file(path, &m, &err) == 0);
    CHECK_EQ_INT(m.size, sizeof data);
    CHECK(memcmp(m.data, data, sizeof data) == 0);
    an_unmap_file(&m);
    CHECK(an_write_file_atomic(path, "new", 3, &err) == 0); /* replaces */
    char *buf;
    size_t len;
    REQUIRE(an_read_file(path, 0, &buf, &len, &err) == 0);
    CHECK_EQ_INT(len, 3);
    CHECK_EQ_STR(buf, "new");
    free(buf);
    CHECK(an_read_file(path, 2, &buf, &len, &err) == -1); /* over the limit */
    CHECK(strstr(err.msg, "limit") != NULL);
    /* empty file maps to nothing */
    char *empty = an_path_join(dir, "empty");
    CHECK(an_write_file_atomic(empty, "", 0, &err) == 0);
    CHECK(an_map_file(empty, &m, &err) == 0 && m.size == 0 && m.data == NULL);
    /* errors name the path */
    char *missing = an_path_join(dir, "missing");
    CHECK(an_map_file(missing, &m, &err) == -1);
    CHECK(strstr(err.msg, missing) != NULL);
    CHECK(an_map_file(dir, &m, &err) == -1); /* a directory */
    CHECK(an_mkdir_p(path, 0755, &err) == -1); /* a file in the way */
    /* no temporary files are left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c tmp", dir);
    FILE *fp = popen(cmd, "r");
    int n = -1;
    if (fp) {
        if (fscanf(fp, "%d", &n) != 1)
            n = -1;
        pclose(fp);
    }
    CHECK_EQ_INT(n, 0);
    char *joined = an_path_join("a/", "/b");
    CHECK_EQ_STR(joined, "a/b");
    free(joined);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    free(dir), free(path), free(empty), free(missing);
}

TEST(cpu_counts)
{
    CHECK(an_cpu_logical() >= 1);
    CHECK(an_cpu_physical() >= 1);
    CHECK(an_cpu_physical() <= an_cpu_logical());
    CHECK(strlen(an_cpu_features_string()) > 0);
}

int main(void)
{
    RUN(error_set_prefix_truncate);
    RUN(arena_alignment_and_growth);
    RUN(strbuf_append_format_steal);
    RUN(pool_runs_each_index_once);
    RUN(pool_chunks_are_guided_and_aligned);
    RUN(file_atomic_write_map_read);
    RUN(cpu_counts);
    return t_finish();
}
