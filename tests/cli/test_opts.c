/* test_opts.c — the shared option table: parsing, groups, unset values, errors. */
#include "test.h"

#include "cli/cli.h"
#include "cli/opts.h"

static int parse(cli_opts *o, unsigned groups, const char *line)
{
    static char buf[1024];
    static char *argv[64];
    snprintf(buf, sizeof buf, "%s", line);
    int argc = 0;
    for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
        argv[argc++] = t;
    cli_opts_init(o);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w"); /* usage errors are expected in some cases */
    int r = cli_opts_parse(o, groups, argc, argv, NULL, NULL);
    fclose(stderr);
    stderr = saved;
    return r;
}

TEST(values_and_positionals)
{
    cli_opts o;
    unsigned all = CLI_G_MODEL | CLI_G_PROMPT | CLI_G_GEN | CLI_G_MACHINE | CLI_G_OUTPUT;
    REQUIRE(parse(&o, all, "run mymodel --temp 0.7 --top-k=20 -n 5 -s 42 --no-think --ctx-overflow shift hello world") == 0);
    CHECK_EQ_INT(o.n_args, 3);
    CHECK_EQ_STR(o.args[0], "mymodel");
    CHECK_EQ_STR(o.args[2], "world");
    CHECK_NEAR(o.temp, 0.7, 1e-6);
    CHECK_EQ_INT(o.top_k, 20);
    CHECK_EQ_INT(o.n_predict, 5);
    CHECK(o.seed_set && o.seed == 42);
    CHECK_EQ_INT(o.think, 0);
    CHECK_EQ_INT(o.ctx_shift, 1);
    CHECK(o.top_p == CLI_UNSET_F && o.min_p == CLI_UNSET_F && o.repeat_last_n == CLI_UNSET_I);
    free(o.args);
    REQUIRE(parse(&o, all, "run -v -v -- --temp") == 0);
    CHECK_EQ_INT(o.verbose, 2);
    CHECK_EQ_INT(o.n_args, 1);
    CHECK_EQ_STR(o.args[0], "--temp");
    free(o.args);
}

TEST(usage_errors)
{
    cli_opts o;
    CHECK_EQ_INT(parse(&o, CLI_G_GEN, "run --temp"), CLI_USAGE);            /* missing value */
    CHECK(o.args == NULL);
    CHECK_EQ_INT(parse(&o, CLI_G_GEN, "run --temp hot"), CLI_USAGE);        /* not a number */
    free(o.args);
    CHECK_EQ_INT(parse(&o, CLI_G_GEN, "run --top-p -1"), CLI_USAGE);        /* negative */
    free(o.args);
    CHECK_EQ_INT(parse(&o, CLI_G_GEN, "run --prompt x"), CLI_USAGE);        /* group not accepted */
    free(o.args);
    CHECK_EQ_INT(parse(&o, CLI_G_OUTPUT, "run --color purple"), CLI_USAGE);
    free(o.args);
    CHECK_EQ_INT(parse(&o, CLI_G_GEN, "run --greedy=yes"), CLI_USAGE);      /* flag with a value */
    free(o.args);
    CHECK_EQ_INT(parse(&o, CLI_G_GEN, "run -s -3"), CLI_USAGE);
    free(o.args);
}

TEST(help_lists_group_options)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cli_opts_help(fp, CLI_G_GEN);
    fclose(fp);
    CHECK(strstr(buf, "--top-p P") != NULL);
    CHECK(strstr(buf, "-s, --seed N") != NULL);
    CHECK(strstr(buf, "--model") == NULL);
    free(buf);
}

int main(void)
{
    RUN(values_and_positionals);
    RUN(usage_errors);
    RUN(help_lists_group_options);
    return t_finish();
}
