/* Unit tests of the hub's pure pieces: headers, pagination, JSON, paths, globs, meta.yaml
 * names, references, environment, and zip extraction safety (archives built with libzip). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "common/file.h"
#include "hub/hub_internal.h"
#include "test.h"

TEST(etag_normalize)
{
    char out[64];
    hub_etag_normalize("W/\"abc123\"", out, sizeof out);
    CHECK_EQ_STR(out, "abc123");
    hub_etag_normalize("\"abc\"", out, sizeof out);
    CHECK_EQ_STR(out, "abc");
    hub_etag_normalize("abc", out, sizeof out);
    CHECK_EQ_STR(out, "abc");
    CHECK(hub_etag_valid("0123abcdef"));
    CHECK(!hub_etag_valid("../x"));
    CHECK(!hub_etag_valid(".hidden"));
    CHECK(!hub_etag_valid(""));
}

static void feed(hub_headers *h, const char *line)
{
    hub_headers_feed(h, line, strlen(line));
}

TEST(headers)
{
    hub_headers h;
    hub_headers_reset(&h);
    feed(&h, "HTTP/1.1 302 Found\r\n");
    feed(&h, "X-Linked-Etag: \"aabb\"\r\n");
    feed(&h, "etag: W/\"ccdd\"\r\n");
    feed(&h, "X-Linked-Size: 12345\r\n");
    feed(&h, "Location: https://cdn.example/x?sig=1\r\n");
    feed(&h, "X-Repo-Commit:   0123456789012345678901234567890123456789  \r\n");
    feed(&h, "X-Error-Code: GatedRepo\r\n");
    feed(&h, "Retry-After: 7\r\n");
    feed(&h, "Link: <https://h/api?cursor=2>; rel=\"next\"\r\n");
    CHECK_EQ_INT(h.status, 302);
    CHECK_EQ_STR(h.linked_etag, "aabb");
    CHECK_EQ_STR(h.etag, "ccdd");
    CHECK_EQ_INT(h.linked_size, 12345);
    CHECK_EQ_STR(h.location, "https://cdn.example/x?sig=1");
    CHECK_EQ_STR(h.repo_commit, "0123456789012345678901234567890123456789");
    CHECK_EQ_STR(h.error_code, "GatedRepo");
    CHECK_EQ_INT(h.retry_after, 7);
    CHECK_EQ_STR(h.link_next, "https://h/api?cursor=2");
    feed(&h, "Content-Range: bytes 100-199/200\r\n");
    CHECK_EQ_INT(h.range_start, 100);
    feed(&h, "Content-Range: bytes */200\r\n");
    CHECK_EQ_INT(h.range_start, -1);
    feed(&h, "Content-Length: -5\r\n");
    CHECK_EQ_INT(h.content_length, -1);
    feed(&h, "HTTP/2 200\r\n"); /* a new response starts clean */
    CHECK_EQ_INT(h.status, 200);
    CHECK_EQ_STR(h.location, "");
    CHECK_EQ_INT(h.linked_size, -1);
}

TEST(link_next)
{
    char out[256];
    CHECK(hub_link_next("<a>; rel=\"last\", <b>; rel=\"next\"", out, sizeof out) == 0);
    CHECK_EQ_STR(out, "b");
    CHECK(hub_link_next("<https://x/y?c=1>; rel=next", out, sizeof out) == 0);
    CHECK_EQ_STR(out, "https://x/y?c=1");
    CHECK(hub_link_next("<a>; rel=\"prev\"", out, sizeof out) != 0);
    CHECK(hub_link_next("<a; rel=\"next\"", out, sizeof out) != 0);
    CHECK(hub_link_next("", out, sizeof out) != 0);
}

TEST(relpath_safe)
{
    CHECK(hub_relpath_safe("a/b.json"));
    CHECK(hub_relpath_safe("x.mlmodelc/"));
    CHECK(hub_relpath_safe("refs/pr/1"));
    CHECK(!hub_relpath_safe(""));
    CHECK(!hub_relpath_safe("/etc/passwd"));
    CHECK(!hub_relpath_safe("../a"));
    CHECK(!hub_relpath_safe("a/../../b"));
    CHECK(!hub_relpath_safe("a/.."));
    CHECK(!hub_relpath_safe("./a"));
    CHECK(!hub_relpath_safe("a//b"));
    CHECK(!hub_relpath_safe("a\\..\\b"));
    CHECK(!hub_relpath_safe("a\nb"));
}

TEST(zip_link_safe)
{
    CHECK(hub_zip_link_safe("d/link", "target"));
    CHECK(hub_zip_link_safe("d/e/link", "../f"));
    CHECK(hub_zip_link_safe("d/link", "../x"));
    CHECK(!hub_zip_link_safe("d/link", "../../x"));
    CHECK(!hub_zip_link_safe("link", "../x"));
    CHECK(!hub_zip_link_safe("d/link", "/etc"));
    CHECK(!hub_zip_link_safe("d/link", "a/../../../x"));
    CHECK(!hub_zip_link_safe("d/link", ""));
}

/* Expected values follow Python's fnmatch.fnmatchcase, as huggingface_hub uses it. */
TEST(glob)
{
    CHECK(hub_glob_match("*.json", "a/b.json"));
    CHECK(hub_glob_match("extra/", "extra/big.bin"));
    CHECK(hub_glob_match("README*", "README.md"));
    CHECK(!hub_glob_match("tok*", "a/tok.json"));
    CHECK(!hub_glob_match("*.JSON", "a.json"));
    CHECK(hub_glob_match("[ab]?c", "bxc"));
}

static const char k_tree[] =
    "[{\"type\":\"directory\",\"oid\":\"1111111111111111111111111111111111111111\",\"size\":0,\"path\":\"d\"},"
    " {\"type\":\"file\",\"oid\":\"2222222222222222222222222222222222222222\",\"size\":10,\"path\":\"meta.yaml\"},"
    " {\"type\":\"file\",\"oid\":\"3333333333333333333333333333333333333333\",\"size\":134,\"path\":\"d/x.mlmodelc.zip\","
    "  \"lfs\":{\"oid\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"size\":99999,\"pointerSize\":134}}]";

TEST(tree_json)
{
    hub_tree t = {0};
    an_error err;
    REQUIRE(hub_tree_parse_json(k_tree, strlen(k_tree), &t, &err) == 0);
    CHECK_EQ_INT(t.n, 2);
    const hub_file *f = hub_tree_find(&t, "d/x.mlmodelc.zip");
    REQUIRE(f);
    CHECK_EQ_INT(f->size, 99999);
    CHECK_EQ_STR(f->lfs_sha256, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    CHECK(hub_tree_find(&t, "meta.yaml")->lfs_sha256 == NULL);
    hub_tree_free(&t);
    const char *bad[] = {
        "{}",
        "[{\"type\":\"file\",\"oid\":\"2222222222222222222222222222222222222222\",\"size\":1,\"path\":\"../x\"}]",
        "[{\"type\":\"file\",\"oid\":\"22\",\"size\":1,\"path\":\"x\"}]",
        "[{\"type\":\"file\",\"oid\":\"2222222222222222222222222222222222222222\",\"size\":-1,\"path\":\"x\"}]",
        "[{\"type\":\"file\",\"oid\":\"2222222222222222222222222222222222222222\",\"size\":1,\"path\":\"x\",\"lfs\":{\"oid\":\"zz\",\"size\":1}}]",
        "[1,2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hub_tree u = {0};
        an_error_clear(&err);
        CHECK(hub_tree_parse_json(bad[i], strlen(bad[i]), &u, &err) != 0);
        CHECK(an_error_isset(&err));
        hub_tree_free(&u);
    }
    char *sha = NULL;
    const char *rev = "{\"id\":\"a/b\",\"sha\":\"ABCDEF0123456789abcdef0123456789abcdef01\"}";
    REQUIRE(hub_revision_parse_json(rev, strlen(rev), &sha, &err) == 0);
    CHECK_EQ_STR(sha, "abcdef0123456789abcdef0123456789abcdef01");
    free(sha);
    CHECK(hub_revision_parse_json("{\"sha\":1}", 9, &sha, &err) != 0);
}

TEST(meta_components)
{
    const char *y = "model_info:\n  parameters:\n    model_prefix: qwen\n    lut_ffn: 4\n"
                    "    lut_lmhead: 6\n    lut_embeddings: none\n"
                    "    embeddings: qwen_embeddings.mlmodelc\n"
                    "    ffn: qwen_FFN_PF_lut4_chunk_01of02.mlmodelc\n";
    char **v;
    size_t n, ne;
    an_error err;
    REQUIRE(hub_meta_components(y, strlen(y), &v, &n, &ne, &err) == 0);
    CHECK_EQ_INT(ne, 3);
    CHECK_EQ_STR(v[0], "qwen_embeddings");
    CHECK_EQ_STR(v[1], "qwen_FFN_PF_lut4_chunk_01of02");
    CHECK_EQ_STR(v[2], "qwen_FFN_PF_lut4");
    int has_lm = 0;
    for (size_t i = 0; i < n; i++)
        has_lm |= !strcmp(v[i], "qwen_lm_head_lut6");
    CHECK(has_lm);
    /* File selection: components as zips or directories, chunks, side files, nothing else. */
    hub_tree t = {0};
    const char *paths[] = {"meta.yaml", "qwen_embeddings.mlmodelc.zip", "qwen_FFN_PF_lut4_chunk_02of02.mlmodelc.zip",
                           "qwen_lm_head_lut6.mlmodelc/model.mil", "tokenizer.json", "README.md",
                           "other.mlmodelc.zip", "qwen_embeddings_old.mlmodelc.zip"};
    t.n = t.cap = sizeof paths / sizeof *paths;
    t.files = calloc(t.n, sizeof *t.files);
    REQUIRE(t.files);
    for (size_t i = 0; i < t.n; i++)
        t.files[i].path = (char *)paths[i];
    unsigned char sel[8];
    hub_select_files(&t, v, n, NULL, 0, NULL, 0, sel);
    const unsigned char want[8] = {1, 1, 1, 1, 1, 0, 0, 0};
    CHECK(memcmp(sel, want, 8) == 0);
    const char *inc[] = {"*.md"}, *exc[] = {"tokenizer*", "meta.yaml"};
    hub_select_files(&t, v, n, inc, 1, exc, 2, sel);
    const unsigned char want2[8] = {1, 1, 1, 1, 0, 1, 0, 0};
    CHECK(memcmp(sel, want2, 8) == 0);
    free(t.files);
    hub_strv_free(v, n);
    /* 0.1.x style: names rebuilt from prefix and LUT bits. */
    const char *old = "model_info:\n  parameters:\n    lut_ffn: 8\n";
    REQUIRE(hub_meta_components(old, strlen(old), &v, &n, &ne, &err) == 0);
    CHECK_EQ_INT(ne, 0);
    int has_ffn = 0;
    for (size_t i = 0; i < n; i++)
        has_ffn |= !strcmp(v[i], "llama_FFN_PF_lut8");
    CHECK(has_ffn);
    hub_strv_free(v, n);
    CHECK(hub_meta_components("a: [", 4, &v, &n, &ne, &err) != 0);
    CHECK(strstr(err.msg, "meta.yaml:") != NULL);
    CHECK(hub_meta_components("x: 1\n", 5, &v, &n, &ne, &err) != 0);
    const char *evil = "model_info:\n  parameters:\n    embeddings: ../../etc/passwd\n";
    REQUIRE(hub_meta_components(evil, strlen(evil), &v, &n, &ne, &err) == 0);
    CHECK_EQ_INT(ne, 0); /* unsafe names are dropped */
    hub_strv_free(v, n);
}

TEST(references)
{
    hub_ref r;
    an_error err;
    REQUIRE(hub_ref_parse("anemll/tiny-model", &r, &err) == 0);
    CHECK_EQ_STR(r.repo_id, "anemll/tiny-model");
    CHECK(r.revision == NULL);
    hub_ref_free(&r);
    REQUIRE(hub_ref_parse("hf://anemll/m.x@refs%2Fpr%2F1", &r, &err) == 0);
    CHECK_EQ_STR(r.repo_id, "anemll/m.x");
    CHECK_EQ_STR(r.revision, "refs/pr/1");
    hub_ref_free(&r);
    REQUIRE(hub_ref_parse("hf://models/a/b@main", &r, &err) == 0);
    CHECK_EQ_STR(r.repo_id, "a/b");
    hub_ref_free(&r);
    CHECK(hub_ref_parse("hf://datasets/a/b", &r, &err) != 0);
    CHECK(hub_ref_parse("a/b/c", &r, &err) != 0);
    CHECK(hub_ref_parse("a--b/c", &r, &err) != 0);
    CHECK(hub_ref_parse("a/b@../../x", &r, &err) != 0);
    CHECK(hub_ref_parse("a/b@", &r, &err) != 0);
    CHECK(hub_ref_parse("/nonexistent/dir", &r, &err) != 0);
    CHECK(strstr(err.msg, "no such file") != NULL);
    char *f = hub_repo_folder_name("org/name");
    CHECK_EQ_STR(f, "models--org--name");
    free(f);
    CHECK(hub_is_commit("0123456789abcdef0123456789abcdef01234567"));
    CHECK(!hub_is_commit("main"));
}

TEST(environment)
{
    char dir[] = "/tmp/anemone-hub-env-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char tok[PATH_MAX];
    snprintf(tok, sizeof tok, "%s/token", dir);
    an_write_file_atomic(tok, "  hf_fromfile \n", 15, NULL);
    const char *vars[] = {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN",
                          "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "XDG_CACHE_HOME",
                          "HF_HUB_OFFLINE", "ANEMONE_CACHE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    setenv("HOME", dir, 1);
    hub_env e;
    an_error err;
    REQUIRE(hub_env_init(&e, NULL, &err) == 0);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/.cache/huggingface/hub", dir);
    CHECK_EQ_STR(e.hub_cache, want);
    CHECK_EQ_STR(e.endpoint, "https://huggingface.co");
    CHECK(e.token == NULL);
    hub_env_free(&e);
    setenv("XDG_CACHE_HOME", "/x", 1);
    setenv("HF_ENDPOINT", "http://h:1//", 1);
    setenv("HF_TOKEN_PATH", tok, 1);
    setenv("HF_HUB_OFFLINE", "yes", 1);
    REQUIRE(hub_env_init(&e, NULL, &err) == 0);
    CHECK_EQ_STR(e.hub_cache, "/x/huggingface/hub");
    CHECK_EQ_STR(e.anemone_cache, "/x/anemone");
    CHECK_EQ_STR(e.endpoint, "http://h:1");
    CHECK_EQ_STR(e.token, "hf_fromfile");
    CHECK(e.offline);
    hub_env_free(&e);
    setenv("HF_HOME", "/hh", 1);
    setenv("HF_TOKEN", "hf_env", 1);
    REQUIRE(hub_env_init(&e, NULL, &err) == 0);
    CHECK_EQ_STR(e.hub_cache, "/hh/hub");
    CHECK_EQ_STR(e.token, "hf_env");
    hub_env_free(&e);
    setenv("HF_HUB_CACHE", "/c", 1);
    hub_options o = HUB_OPTIONS_INIT;
    o.token = "hf_option";
    REQUIRE(hub_env_init(&e, &o, &err) == 0);
    CHECK_EQ_STR(e.hub_cache, "/c");
    CHECK_EQ_STR(e.token, "hf_option");
    hub_env_free(&e);
    setenv("HF_TOKEN", "bad token", 1);
    CHECK(hub_env_init(&e, NULL, &err) != 0);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    hub_rm_rf(dir);
}

/* ---- zips ------------------------------------------------------------------------- */

typedef struct entry {
    const char *name;
    const char *data; /* NULL: a directory */
    int link;
} entry;

static int make_zip(const char *path, const entry *e, size_t n)
{
    int zerr;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z)
        return -1;
    for (size_t i = 0; i < n; i++) {
        zip_int64_t idx;
        if (!e[i].data) {
            idx = zip_dir_add(z, e[i].name, ZIP_FL_ENC_RAW);
        } else {
            zip_source_t *s = zip_source_buffer(z, e[i].data, strlen(e[i].data), 0);
            idx = zip_file_add(z, e[i].name, s, ZIP_FL_ENC_RAW);
        }
        if (idx < 0)
            return zip_discard(z), -1;
        if (e[i].link)
            zip_file_set_external_attributes(z, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                             (zip_uint32_t)(S_IFLNK | 0777) << 16);
    }
    return zip_close(z);
}

TEST(zip_extract)
{
    char dir[] = "/tmp/anemone-hub-zip-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char zp[PATH_MAX], dest[PATH_MAX], p[PATH_MAX];
    an_error err;
    hub_pathf(zp, sizeof zp, "%s/good.zip", dir);
    const entry good[] = {{"m.mlmodelc/", NULL, 0},
                          {"m.mlmodelc/model.mil", "program", 0},
                          {"m.mlmodelc/weights/weight.bin", "0123", 0},
                          {"m.mlmodelc/alias.mil", "model.mil", 1},
                          {"__MACOSX/._m", "junk", 0}};
    REQUIRE(make_zip(zp, good, 5) == 0);
    hub_pathf(dest, sizeof dest, "%s/out/good", dir);
    REQUIRE(hub_zip_extract(zp, dest, &err) == 0);
    hub_pathf(p, sizeof p, "%s/m.mlmodelc/weights/weight.bin", dest);
    CHECK(an_is_file(p));
    hub_pathf(p, sizeof p, "%s/m.mlmodelc/alias.mil", dest);
    char *txt = NULL;
    size_t len;
    REQUIRE(an_read_file(p, 0, &txt, &len, &err) == 0);
    CHECK_EQ_STR(txt, "program");
    free(txt);
    hub_pathf(p, sizeof p, "%s/__MACOSX", dest);
    CHECK(!an_is_dir(p));
    CHECK(hub_zip_extract(zp, dest, &err) == 0); /* already there: nothing to do */

    const entry *bad[4];
    const entry dotdot[] = {{"m/ok", "x", 0}, {"m/../../escape", "x", 0}};
    const entry abs[] = {{"/tmp/anemone-abs-escape", "x", 0}};
    const entry link_out[] = {{"m/l", "../../..", 1}};
    const entry through[] = {{"m/l", ".", 1}, {"m/l/x", "x", 0}};
    bad[0] = dotdot, bad[1] = abs, bad[2] = link_out, bad[3] = through;
    const size_t nbad[4] = {2, 1, 1, 2};
    for (int i = 0; i < 4; i++) {
        hub_pathf(zp, sizeof zp, "%s/bad%d.zip", dir, i);
        REQUIRE(make_zip(zp, bad[i], nbad[i]) == 0);
        hub_pathf(dest, sizeof dest, "%s/out/bad%d", dir, i);
        an_error_clear(&err);
        CHECK_EQ_INT(hub_zip_extract(zp, dest, &err), HUB_ERR_UNSAFE);
        CHECK(strstr(err.msg, "refused") != NULL);
        CHECK(!an_is_dir(dest));
    }
    hub_pathf(p, sizeof p, "%s/escape", dir);
    CHECK(access(p, F_OK) != 0);
    CHECK(access("/tmp/anemone-abs-escape", F_OK) != 0);
    /* Not a zip at all. */
    hub_pathf(zp, sizeof zp, "%s/notzip.zip", dir);
    an_write_file_atomic(zp, "hello", 5, NULL);
    hub_pathf(dest, sizeof dest, "%s/out/notzip", dir);
    CHECK(hub_zip_extract(zp, dest, &err) != 0);
    CHECK(!an_is_dir(dest));
    /* Nothing temporary is left behind. */
    hub_pathf(p, sizeof p, "%s/out", dir);
    int n = 0;

    {
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c tmp", p);
        FILE *f = popen(cmd, "r");
        if (f) {
            if (fscanf(f, "%d", &n) != 1)
                n = -1;
            pclose(f);
        }
    }
    CHECK_EQ_INT(n, 0);
    hub_rm_rf(dir);
}

int main(void)
{
    RUN(etag_normalize);
    RUN(headers);
    RUN(link_next);
    RUN(relpath_safe);
    RUN(zip_link_safe);
    RUN(glob);
    RUN(tree_json);
    RUN(meta_components);
    RUN(references);
    RUN(environment);
    RUN(zip_extract);
    return t_finish();
}
