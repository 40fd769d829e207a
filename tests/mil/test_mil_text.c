/* test_mil_text.c — the model.mil parser: real Apple samples, every construct of the
 * grammar (COREML-FORMAT.md §4), and precise errors on bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "mil/ir.h"
#include "mil/loaders.h"
#include "test.h"

static mil_program *parse(const char *text, an_error *err)
{
    mil_program *p = mil_program_new();
    an_error_clear(err);
    if (mil_parse_text(p, text, strlen(text), "t.mil", err)) {
        mil_program_free(p);
        return NULL;
    }
    return p;
}

static int value_id(const mil_function *fn, const char *name)
{
    for (int i = 0; i < fn->n_values; i++)
        if (strcmp(fn->values[i].name, name) == 0)
            return i;
    return -1;
}

static const mil_op *op_named(const mil_function *fn, const char *out)
{
    int v = value_id(fn, out);
    return v >= 0 && fn->values[v].producer >= 0 ? &fn->ops[fn->values[v].producer] : NULL;
}

/* The real coremltools add_model.mlmodelc (program(1.0) style) with its metadata.json. */
TEST(add_model_sample)
{
    const char *sh = t_shared_dir();
    if (!sh)
        SKIP("shared data not found");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/coreml-samples/coremltools-add_model", sh);
    an_error err = {{0}};
    mil_program *p = mil_program_load(path, &err);
    REQUIRE(p);
    CHECK_EQ_INT(p->container, MIL_CONTAINER_MLMODELC);
    CHECK_EQ_INT(p->version_major, 1);
    CHECK_EQ_INT(p->version_minor, 0);
    CHECK_EQ_INT(p->spec_version, 7);
    CHECK_EQ_STR(p->default_function, "main");
    REQUIRE(p->n_functions == 1);
    const mil_function *fn = &p->functions[0];
    CHECK_EQ_STR(fn->opset, "ios16");
    CHECK_EQ_INT(fn->n_params, 2);
    CHECK_EQ_INT(fn->n_ops, 1);
    CHECK_EQ_STR(fn->ops[0].type, "mul");
    CHECK_EQ_STR(fn->ops[0].name, "op_3_cast_fp16");
    CHECK_EQ_INT(fn->ops[0].line, 5);
    REQUIRE(fn->n_outputs == 1);
    const mil_value *out = &fn->values[fn->outputs[0]];
    CHECK_EQ_STR(out->name, "var_3");
    CHECK_EQ_INT(out->type.dtype, MIL_DT_FP16);
    CHECK_EQ_INT(out->type.rank, 2);
    CHECK_EQ_INT(out->type.dims[1], 10);
    CHECK_EQ_STR(mil_program_metadata(p, "com.github.apple.coremltools.version"), "8.1");
    const mil_function_desc *d = mil_program_desc(p, NULL);
    REQUIRE(d);
    CHECK_EQ_INT(d->n_inputs, 2);
    CHECK_EQ_INT(d->n_outputs, 1);
    CHECK_EQ_STR(d->inputs[0].name, "x");
    CHECK_EQ_INT(d->inputs[0].type.dtype, MIL_DT_FP16);
    /* buildInfo: a dict<tensor<string, []>, tensor<string, []>> literal */
    REQUIRE(p->n_attrs == 1);
    CHECK_EQ_STR(p->attrs[0].name, "buildInfo");
    CHECK_EQ_INT(p->attrs[0].value->kind, MIL_LIT_DICT);
    CHECK_EQ_INT(p->attrs[0].value->n_items, 10);
    mil_program_free(p);
}

/* Every model.mil among the shared samples loads (pipeline members one by one). */
TEST(every_shared_sample_loads)
{
    const char *sh = t_shared_dir();
    if (!sh)
        SKIP("shared data not found");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "find '%s/data/coreml-samples' -name model.mil | sort", sh);
    FILE *fp = popen(cmd, "r");
    REQUIRE(fp);
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = '\0';
        *strrchr(line, '/') = '\0';
        an_error err = {{0}};
        mil_program *p = mil_program_load(line, &err);
        if (!p)
            T_FAIL("%.400s", err.msg);
        else
            CHECK(p->n_functions >= 1 && mil_program_function(p, NULL) != NULL);
        mil_program_free(p);
        n++;
    }
    pclose(fp);
    CHECK(n >= 20);
}

TEST(multifunction_flexible_shapes)
{
    const char *sh = t_shared_dir();
    if (!sh)
        SKIP("shared data not found");
    char path[1024];
    an_error err = {{0}};
    snprintf(path, sizeof path, "%s/data/coreml-samples/mlmodelc-export/flexible-multifunction/expected-macos.mlmodelc", sh);
    mil_program *p = mil_program_load(path, &err);
    REQUIRE(p);
    CHECK_EQ_INT(p->n_functions, 2);
    CHECK_EQ_INT(p->n_descs, 2);
    const mil_function *second = mil_program_function(p, "second");
    REQUIRE(second);
    CHECK_EQ_INT(second->values[second->params[0].value].type.dims[0], MIL_DIM_UNKNOWN);
    CHECK_EQ_INT(second->params[0].default_shape.rank, 1);
    CHECK_EQ_INT(second->params[0].default_shape.dims[0], 2);
    CHECK_EQ_INT(second->params[0].has_range, 1);
    CHECK_EQ_INT(second->params[0].range_hi[0], 4);
    mil_program_free(p);
    snprintf(path, sizeof path, "%s/data/coreml-samples/mlmodelc-export/flexible-enumerated/expected-macos.mlmodelc", sh);
    p = mil_program_load(path, &err);
    REQUIRE(p);
    const mil_param *pr = &p->functions[0].params[0];
    CHECK_EQ_INT(pr->n_shapes, 3);
    if (pr->n_shapes == 3)
        CHECK_EQ_INT(pr->shapes[2].dims[0], 4);
    mil_program_free(p);
}

static const char *STATEFUL =
    "program(1.3)\n"
    "[buildInfo = dict<string, string>({{\"k\", \"v\"}})]\n"
    "{\n"
    "    func infer<ios18>(tensor<fp16, [1, 4]> x, tensor<int32, [1]> pos, state<tensor<fp16, [2, 4]>> kv) {\n"
    "            tensor<fp16, [2, 4]> cur = read_state(input = kv)[name = string(\"rs\")];\n"
    "            tensor<fp16, [1, 2]> a, tensor<fp16, [1, 2]> b = split(axis = int32(1), num_splits = int32(2), x = x)[name = string(\"sp\")];\n"
    "            tensor<fp16, [1, 4]> c = concat(axis = int32(-1), interleave = bool(false), values = (b, a))[name = string(\"cat\")];\n"
    "            tensor<fp16, [2, 4]> u = add(x = cur, y = tensor<fp16, [1, 4]>([[0x1p+0, -0x1.8p-1, inf, -inf]]))[name = string(\"u\")];\n"
    "            write_state(data = u, input = kv)[name = string(\"ws\")];\n"
    "            tensor<uint4, [5]> idx = const()[name = string(\"idx\"), val = tensor<uint4, [5]>([1, 2, 3, 15, 7])];\n"
    "            tensor<int32, [2, 2]> m = const()[val = tensor<int32, [2, 2]>([[1, -2], [3, 4]])];\n"
    "            fp16 s = const()[val = fp16(0x1.5p-17)];\n"
    "            tensor<bool, []> f = const()[val = tensor<bool, []>(true)];\n"
    "            tensor<int32, [?, 2]> dyn = mul(x = m, y = m);\n"
    "        } -> (c, dyn);\n"
    "}\n";

TEST(every_construct)
{
    an_error err;
    mil_program *p = parse(STATEFUL, &err);
    if (!p)
        T_FAIL("%.400s", err.msg);
    REQUIRE(p);
    CHECK_EQ_INT(p->version_minor, 3);
    const mil_function *fn = &p->functions[0];
    CHECK_EQ_STR(fn->name, "infer");
    CHECK_EQ_INT(fn->n_params, 3);
    const mil_value *kv = &fn->values[fn->params[2].value];
    CHECK_EQ_INT(kv->type.kind, MIL_TYPE_STATE);
    CHECK_EQ_INT(kv->type.elem->dims[2 - 1], 4);
    /* multi-output split */
    const mil_op *sp = op_named(fn, "a");
    REQUIRE(sp);
    CHECK_EQ_INT(sp->n_outputs, 2);
    CHECK(op_named(fn, "b") == sp);
    /* tuple argument keeps order */
    const mil_op *cat = op_named(fn, "c");
    REQUIRE(cat);
    const mil_input *vals = mil_op_input(cat, "values");
    REQUIRE(vals);
    CHECK_EQ_INT(vals->n_bindings, 2);
    CHECK_EQ_INT(vals->bindings[0].value, value_id(fn, "b"));
    CHECK_EQ_INT(vals->bindings[1].value, value_id(fn, "a"));
    /* an op with no parentheses content producing a blob literal: `w = tensor<...>(BLOBFILE)`
     * is not valid MIL (op name expected) — see the error test; here we check the rest. */
    const mil_op *ws = NULL;
    for (int i = 0; i < fn->n_ops; i++)
        if (strcmp(fn->ops[i].type, "write_state") == 0)
            ws = &fn->ops[i];
    REQUIRE(ws);
    CHECK_EQ_INT(ws->n_outputs, 0);
    CHECK_EQ_STR(ws->name, "ws");
    /* inline literal with hex floats and infinities, stored as fp16 bits */
    const mil_input *y = mil_op_input(op_named(fn, "u"), "y");
    REQUIRE(y && y->bindings[0].literal);
    const uint16_t *h = y->bindings[0].literal->data;
    CHECK_EQ_INT(h[0], 0x3c00);
    CHECK_EQ_INT(h[1], 0xba00);
    CHECK_EQ_INT(h[2], 0x7c00);
    CHECK_EQ_INT(h[3], 0xfc00);
    /* packed uint4: LSB first */
    const mil_literal *idx = mil_op_attr(op_named(fn, "idx"), "val");
    REQUIRE(idx);
    CHECK_EQ_INT(idx->nbytes, 3);
    const uint8_t *b = idx->data;
    CHECK_EQ_INT(b[0], 0x21);
    CHECK_EQ_INT(b[1], 0xf3);
    CHECK_EQ_INT(b[2], 0x07);
    const mil_literal *m = mil_op_attr(op_named(fn, "m"), "val");
    CHECK_EQ_INT(((const int32_t *)m->data)[1], -2);
    const mil_literal *s = mil_op_attr(op_named(fn, "s"), "val");
    CHECK_EQ_INT(*(const uint16_t *)s->data, an_fp32_to_fp16(0x1.5p-17f));
    CHECK_EQ_INT(mil_op_attr(op_named(fn, "f"), "val")->type.rank, 0);
    CHECK_EQ_INT(fn->values[value_id(fn, "dyn")].type.dims[0], MIL_DIM_UNKNOWN);
    CHECK_EQ_INT(fn->n_outputs, 2);
    mil_program_free(p);
}

/* Bad input: error names the file and line:column; never crashes. */
static void expect_error(const char *text, const char *needle)
{
    an_error err;
    mil_program *p = parse(text, &err);
    if (p) {
        T_FAIL("parsed, expected an error containing '%s'", needle);
        mil_program_free(p);
        return;
    }
    if (!strstr(err.msg, needle))
        T_FAIL("error '%.300s' does not contain '%.100s'", err.msg, needle);
}

#define HEAD "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [2]> x) {\n"
#define TAIL "        } -> (y);\n}\n"

TEST(errors_are_precise)
{
    expect_error(HEAD "            tensor<fp12, [2]> y = relu(x = x);\n" TAIL, "t.mil:4:20: unknown dtype 'fp12'");
    expect_error(HEAD "            tensor<fp16, [2]> y = relu(x = z);\n" TAIL, "t.mil:4:44: unknown value 'z'");
    expect_error(HEAD "            tensor<fp16, [2]> y = relu(x = x);\n            tensor<fp16, [2]> y = relu(x = x);\n" TAIL,
                 "t.mil:5:31: value 'y' is defined twice");
    expect_error(HEAD "            tensor<fp16, [2]> y = cond(x = x) { };\n" TAIL, "nested blocks");
    expect_error(HEAD "            tensor<fp16, [9999999999, 9999999999, 99999999999]> y = relu(x = x);\n" TAIL,
                 "too large");
    expect_error(HEAD "            tensor<fp16, [2]> y = const()[val = tensor<fp16, [3]>([1, 2])];\n" TAIL, "2 elements");
    expect_error(HEAD "            tensor<int8, [1]> y = const()[val = tensor<int8, [1]>([300])];\n" TAIL, "out of range");
    expect_error(HEAD "            tensor<fp16, [2]> y = relu(x = x)\n" TAIL, "t.mil:5:9: expected ';'");
    expect_error(HEAD "            tensor<fp16, [2]> y = relu(x = x);\n        } -> (q);\n}\n", "function output 'q' is not defined");
    expect_error("program(1.3)\n{\n", "unexpected end of file");
    expect_error("progrum(1.0)", "t.mil:1:1: expected 'program'");
    expect_error(HEAD "            tensor<fp16, [1, 1, 1, 1, 1, 1, 1, 1, 1]> y = relu(x = x);\n" TAIL, "rank is larger than 8");
    expect_error(HEAD "            tensor<fp16, [2]> y = relu(x = x, x = x);\n" TAIL, "given twice");
    expect_error(HEAD "            tensor<fp16, [3]> y = const()[name = string(\"c\"), val = tensor<fp16, [2]>([1, 2])];\n" TAIL,
                 "t.mil:4:13: const 'c': output type does not match the type of 'val'");
    expect_error(HEAD "            tensor<fp16, [2]> y = read_state(input = x);\n" TAIL, "'input' must be one state value");
    expect_error("program(1.3)\n{\n    func main<ios18>(state<tensor<fp16, [2]>> s, tensor<fp32, [2]> x) {\n"
                 "            write_state(data = x, input = s);\n            tensor<fp16, [2]> y = read_state(input = s);\n" TAIL,
                 "t.mil:4:13: write_state '': 'data' does not match the state's type");
    /* deep nesting is bounded */
    char deep[4000];
    strcpy(deep, HEAD "            tensor<fp16, [2]> y = relu(x = x)[a = ");
    for (int i = 0; i < 100; i++)
        strcat(deep, "tuple<");
    strcat(deep, "\n" TAIL);
    expect_error(deep, "too deeply");
}

int main(void)
{
    RUN(add_model_sample);
    RUN(every_shared_sample_loads);
    RUN(multifunction_flexible_shapes);
    RUN(every_construct);
    RUN(errors_are_precise);
    return t_finish();
}
