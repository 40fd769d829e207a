/* test_mil_load.c — container discovery (COREML-FORMAT.md §1) and metadata.json: the
 * errors name the file and the place; descriptions and defaults are read. */
#pragma GCC diagnostic ignored "-Wformat-truncation" /* short temporary paths */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "mil/ir.h"
#include "test.h"

static char tmp[256];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    an_error err;
    an_mkdir_p(dir, 0755, &err);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void expect_load_error(const char *rel, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    an_error err = {{0}};
    mil_program *p = mil_program_load(path, &err);
    if (p) {
        T_FAIL("%s loaded, expected '%s'", rel, needle);
        mil_program_free(p);
    } else if (!strstr(err.msg, needle)) {
        T_FAIL("error '%.300s' lacks '%s'", err.msg, needle);
    }
}

static const char *MIL = "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 4]> x, state<tensor<fp16, [2, 4]>> kv) {\n"
                         "            tensor<fp16, [2, 4]> y = read_state(input = kv);\n        } -> (y);\n}\n";

TEST(discovery_errors)
{
    expect_load_error("nope.mlmodelc", "not a directory");
    put("empty.mlmodelc/x", "");
    expect_load_error("empty.mlmodelc", "neither a .mlmodelc");
    put("e.mlpackage/x", "");
    expect_load_error("e.mlpackage", "no Manifest.json");
    put("m1.mlpackage/Manifest.json", "{ not json");
    expect_load_error("m1.mlpackage", "m1.mlpackage/Manifest.json: not a JSON object");
    put("m2.mlpackage/Manifest.json", "{\"rootModelIdentifier\": \"a\", \"itemInfoEntries\": {\"a\": {\"path\": \"../../etc/passwd\"}}}");
    expect_load_error("m2.mlpackage", "leaves the package");
    put("m3.mlpackage/Manifest.json", "{\"rootModelIdentifier\": \"b\", \"itemInfoEntries\": {\"a\": {\"path\": \"x\"}}}");
    expect_load_error("m3.mlpackage", "the root model 'b' has no entry");
    put("m4.mlpackage/Manifest.json", "{\"rootModelIdentifier\": \"a\", \"itemInfoEntries\": {\"a\": {\"path\": \"com.x/model.mlmodel\"}}}");
    put("m4.mlpackage/Data/com.x/model.mlmodel", "\x08\x09");
    expect_load_error("m4.mlpackage", "m4.mlpackage/Data/com.x/model.mlmodel: no mlProgram (field 502)");
    put("p.mlmodelc/model0/model.mil", MIL);
    expect_load_error("p.mlmodelc", "a pipeline bundle");
}

TEST(metadata_json)
{
    put("a.mlmodelc/model.mil", MIL);
    put("a.mlmodelc/metadata.json",
        "[{\"specificationVersion\": 9, \"author\": \"me\", \"userDefinedMetadata\": {\"com.anemll.context_length\": \"256\"},"
        " \"inputSchema\": [{\"name\": \"x\", \"type\": \"MultiArray\", \"dataType\": \"Float16\", \"shape\": \"[1, 4]\", \"isOptional\": \"0\"}],"
        " \"outputSchema\": [{\"name\": \"y\", \"type\": \"MultiArray\", \"dataType\": \"Float16\", \"shape\": \"[2, 4]\"}],"
        " \"stateSchema\": [{\"name\": \"kv\", \"type\": \"State\", \"dataType\": \"Float16\", \"shape\": \"[2, 4]\"}]}]");
    char path[512];
    snprintf(path, sizeof path, "%s/a.mlmodelc", tmp);
    an_error err = {{0}};
    mil_program *p = mil_program_load(path, &err);
    if (!p)
        T_FAIL("%.400s", err.msg);
    REQUIRE(p);
    CHECK_EQ_INT(p->spec_version, 9);
    CHECK_EQ_STR(p->author, "me");
    CHECK_EQ_STR(mil_program_metadata(p, "com.anemll.context_length"), "256");
    CHECK(mil_program_metadata(p, "nope") == NULL);
    const mil_function_desc *d = mil_program_desc(p, "main");
    REQUIRE(d);
    CHECK_EQ_INT(d->n_states, 1);
    CHECK_EQ_INT(d->states[0].type.kind, MIL_TYPE_STATE);
    CHECK_EQ_INT(d->states[0].type.elem->dims[0], 2);
    mil_program_free(p);

    /* no metadata.json: derived from the signature */
    put("b.mlmodelc/model.mil", MIL);
    snprintf(path, sizeof path, "%s/b.mlmodelc", tmp);
    p = mil_program_load(path, &err);
    REQUIRE(p);
    d = mil_program_desc(p, NULL);
    REQUIRE(d);
    CHECK_EQ_INT(d->n_inputs, 1);
    CHECK_EQ_INT(d->n_states, 1);
    CHECK_EQ_STR(d->outputs[0].name, "y");
    mil_program_free(p);

    put("c.mlmodelc/model.mil", MIL);
    put("c.mlmodelc/metadata.json", "[{\"inputSchema\": [{\"name\": \"x\"");
    expect_load_error("c.mlmodelc", "c.mlmodelc/metadata.json: byte ");
    put("d.mlmodelc/model.mil", MIL);
    put("d.mlmodelc/metadata.json", "[{\"inputSchema\": [{\"name\": \"x\", \"type\": \"MultiArray\", \"dataType\": \"Float12\"}]}]");
    expect_load_error("d.mlmodelc", "inputSchema[0]: feature 'x' has unknown dataType 'Float12'");
    put("e.mlmodelc/model.mil", MIL);
    put("e.mlmodelc/metadata.json", "[{\"defaultFunctionName\": \"other\"}]");
    expect_load_error("e.mlmodelc", "the default function 'other' does not exist");
    put("f.mlmodelc/model.mil", MIL);
    put("f.mlmodelc/metadata.json", "[{\"inputSchema\": [{\"name\": \"x\", \"type\": \"MultiArray\", \"dataType\": \"Float16\", \"shape\": \"[99999999999999999999]\"}]}]");
    expect_load_error("f.mlmodelc", "malformed shape");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/anemone-test-mil-load-%d", (int)getpid());
    RUN(discovery_errors);
    RUN(metadata_json);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return t_finish();
}
