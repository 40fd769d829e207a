/* cmd_bench.c — `anemone bench MODEL`: tokens/s in the style of llama-bench (CLI.md). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "cli/generate.h"
#include "cli/opts.h"
#include "common/file.h"
#include "common/log.h"
#include "common/membw.h"

#define BENCH_GROUPS (CLI_G_MODEL | CLI_G_MACHINE)
#define MAX_LIST 16

typedef struct bench_args {
    int pp[MAX_LIST], n_pp;
    int tg[MAX_LIST], n_tg;
    int pg[MAX_LIST][2], n_pg;
    int depth[MAX_LIST], n_depth;
    int reps;
    const char *format; /* md, csv, json, jsonl */
    int membw;          /* --membw: measure the memory bandwidth too */
    long membw_mib;     /* its buffer, MiB */
} bench_args;

void help_bench(FILE *out)
{
    fputs("usage: anemone bench MODEL [-p N,...] [-n N,...] [-pg PP,TG] [-r REPS] [-d DEPTH,...]\n"
          "                      [-o md|csv|json|jsonl] [--membw] [options]\n"
          "\n"
          "Measure tokens per second the way llama-bench does: a warm-up, then REPS repetitions\n"
          "of each test from an empty state with random prompt tokens (BOS first when the\n"
          "model adds one), end-of-sequence ignored.\n"
          "\n"
          "Tests:\n"
          "  -p, --n-prompt N,...     ppN: prefill N prompt tokens (default 512)\n"
          "  -n, --n-gen N,...        tgN: generate N tokens one by one (default 128)\n"
          "  -pg PP,TG                ppPP+tgTG: a prompt, then generation, timed together\n"
          "  -d, --n-depth D,...      run the tg tests after D tokens already in the context\n"
          "  -r, --repetitions N      repetitions of each test (default 5)\n"
          "  -o, --output FORMAT      md (default), csv, json or jsonl; the machine formats\n"
          "                           carry every sample, time to first token, peak RSS\n"
          "                           and the model's load time\n"
          "  --membw                  also measure the memory read bandwidth (with the bench's\n"
          "                           threads) and report, for each tg test, the weight bytes\n"
          "                           decode reads per token and the fraction of the bandwidth\n"
          "                           limit reached: bytes per token x tokens/s / bandwidth\n"
          "  --membw-size MIB         the bandwidth probe's buffer (default 1024; keep it well\n"
          "                           beyond the last-level cache)\n"
          "Sizes that do not fit the model's context are reported as skipped.\n",
          out);
    cli_opts_help(out, BENCH_GROUPS);
}

static int parse_list(const char *s, int *out, int *n, int max)
{
    *n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 1000000 || *n >= max)
            return -1;
        out[(*n)++] = (int)v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return *n > 0 ? 0 : -1;
}

static int bench_extra(void *ctx, int argc, char **argv, int *i)
{
    bench_args *b = ctx;
    const char *a = argv[*i];
    int *list = NULL, *n = NULL;
    if (!strcmp(a, "--membw")) {
        b->membw = 1;
        return 1;
    }
    if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt"))
        list = b->pp, n = &b->n_pp;
    else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen"))
        list = b->tg, n = &b->n_tg;
    else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth"))
        list = b->depth, n = &b->n_depth;
    else if (strcmp(a, "-pg") && strcmp(a, "-r") && strcmp(a, "--repetitions") && strcmp(a, "-o") &&
             strcmp(a, "--output") && strcmp(a, "--membw-size"))
        return 0;
    if (*i + 1 >= argc) {
        cli_usage_error("bench", "%s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    if (list) {
        if (parse_list(v, list, n, MAX_LIST) < 0) {
            cli_usage_error("bench", "%s wants a comma-separated list of sizes, not '%s'", a, v);
            return -1;
        }
    } else if (!strcmp(a, "-pg")) {
        int pair[2], np;
        if (parse_list(v, pair, &np, 2) < 0 || np != 2 || b->n_pg >= MAX_LIST) {
            cli_usage_error("bench", "-pg wants PP,TG, not '%s'", v);
            return -1;
        }
        b->pg[b->n_pg][0] = pair[0];
        b->pg[b->n_pg][1] = pair[1];
        b->n_pg++;
    } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
        char *end;
        long r = strtol(v, &end, 10);
        if (end == v || *end || r < 1 || r > 1000) {
            cli_usage_error("bench", "%s wants 1..1000, not '%s'", a, v);
            return -1;
        }
        b->reps = (int)r;
    } else if (!strcmp(a, "--membw-size")) {
        char *end;
        long mib = strtol(v, &end, 10);
        if (end == v || *end || mib < 1 || mib > (long)(AN_MEMBW_MAX_BYTES >> 20)) {
            cli_usage_error("bench", "%s wants 1..%ld MiB, not '%s'", a, (long)(AN_MEMBW_MAX_BYTES >> 20), v);
            return -1;
        }
        b->membw_mib = mib;
    } else {
        if (strcmp(v, "md") && strcmp(v, "csv") && strcmp(v, "json") && strcmp(v, "jsonl")) {
            cli_usage_error("bench", "-o wants md, csv, json or jsonl, not '%s'", v);
            return -1;
        }
        b->format = v;
    }
    return 1;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct bench_test {
    char name[64];
    int pp, tg, depth;
    int skipped;
    int n;
    double ns[1000], ts[1000], ttft_ns[1000];
} bench_test;

static uint64_t rng_state = 0x853c49e6748fea9bull;

static int32_t random_token(int vocab)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (int32_t)(rng_state % (uint64_t)vocab);
}

/* One repetition: depth tokens prefilled (untimed), then pp prompt tokens and tg
 * generated tokens, timed. Returns ns, or < 0 on error. */
static double run_once(cli_model *m, int *ids, int pp, int tg, int depth, double *ttft_ns, an_error *err)
{
    pipe_model *pm = m->model;
    const pipe_model_info *info = pipe_model_get_info(pm);
    int32_t bos = tok_bos_id(m->tok);
    int total = depth + pp + tg;
    for (int i = 0; i < total; i++)
        ids[i] = random_token(info->vocab);
    if (bos >= 0)
        ids[0] = bos;
    pipe_model_reset(pm);
    if (depth > 0 && pipe_model_prefill(pm, ids, 0, depth, err) < 0)
        return -1;
    double t0 = now_ns();
    *ttft_ns = 0;
    if (pp > 0) {
        if (pipe_model_prefill(pm, ids, depth, depth + pp, err) < 0)
            return -1;
        *ttft_ns = now_ns() - t0;
    }
    for (int i = 0; i < tg; i++) { /* tg single-token decodes, at the positions after the prompt */
        int pos = depth + pp + i;
        int32_t next;
        if (pipe_model_step(pm, ids[pos], pos, NULL, &next, err) < 0)
            return -1;
        if (i == 0 && pp > 0)
            *ttft_ns = now_ns() - t0;
    }
    return now_ns() - t0;
}

static void stats(const double *x, int n, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++)
        s2 += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0;
}

/* A CSV field, quoted with doubled quotes (RFC 4180). */
static const char *csv_field(const char *s, char *buf)
{
    size_t k = 0;
    buf[k++] = '"';
    for (; *s && k < 150; s++) {
        if (*s == '"')
            buf[k++] = '"';
        buf[k++] = *s;
    }
    buf[k++] = '"';
    buf[k] = '\0';
    return buf;
}

static long long dir_size(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "du -sbL '%s' 2>/dev/null", path);
    FILE *fp = popen(cmd, "r");
    long long n = 0;
    if (fp) {
        if (fscanf(fp, "%lld", &n) != 1)
            n = 0;
        pclose(fp);
    }
    return n;
}

/* Bytes of the Core ML weight files under path (the files in any "weights" directory,
 * symlinks followed as the Hugging Face cache needs), or 0 when none is found. */
static long long weight_files_size(const char *path, int in_weights, int depth)
{
    struct stat st;
    if (depth > 8 || stat(path, &st) < 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return in_weights && S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    long long n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *sub = an_path_join(path, e->d_name);
        if (sub)
            n += weight_files_size(sub, in_weights || !strcmp(e->d_name, "weights"), depth + 1);
        free(sub);
    }
    closedir(d);
    return n;
}

/* The weight bytes one decode step reads: the FFN chunks' and the LM head's weight
 * files (the embeddings give one row per token, not counted). A monolithic model has
 * one file for all three: all of it is counted, an upper bound. */
static long long decode_weight_bytes(const pipe_meta *m)
{
    if (m->monolithic)
        return weight_files_size(m->monolithic_file.path, 0, 0);
    long long n = weight_files_size(m->lm_head_file.path, 0, 0);
    for (int i = 0; i < m->n_chunks; i++)
        n += weight_files_size(m->chunk_files[i].path, 0, 0);
    return n;
}

/* The fraction of the bandwidth limit a decode test reaches, or < 0 when it has none. */
static double bw_fraction(const bench_test *t, double ts, long long wbytes, const an_membw *bw)
{
    if (t->skipped || t->pp || !t->tg || wbytes <= 0 || !bw || bw->read_gbs <= 0)
        return -1;
    return (double)wbytes * ts / (bw->read_gbs * 1e9);
}

/* Peak resident memory of this program: VmHWM, the high-water mark of the address
 * space exec made. getrusage's ru_maxrss is the fallback only: Linux carries it over
 * from the process that started us (fork copies the parent's mark, exec keeps it), so
 * under a big parent (a Python harness) it reports the parent's peak. */
static long long peak_rss(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (fp) {
        char line[256];
        long long kb = -1;
        while (fgets(line, sizeof line, fp))
            if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
                break;
        fclose(fp);
        if (kb >= 0)
            return kb * 1024;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long)ru.ru_maxrss * 1024;
}

int cmd_bench(int argc, char **argv)
{
    bench_args b;
    memset(&b, 0, sizeof b);
    b.reps = 5;
    b.format = "md";
    cli_opts o;
    cli_opts_init(&o);
    int rc = cli_opts_parse(&o, BENCH_GROUPS, argc, argv, bench_extra, &b);
    if (rc)
        return rc;
    const char *ref = o.model ? o.model : o.n_args > 0 ? o.args[0] : NULL;
    if (!ref || o.n_args > (o.model ? 0 : 1)) {
        free(o.args);
        return cli_usage_error("bench", ref ? "unexpected argument '%s'" : "which model? (anemone bench MODEL)",
                               ref ? o.args[o.model ? 0 : 1] : "");
    }
    if (!b.n_pp && !b.n_tg && !b.n_pg) {
        b.pp[b.n_pp++] = 512;
        b.tg[b.n_tg++] = 128;
    }
    if (!b.n_depth)
        b.depth[b.n_depth++] = 0;
    o.raw = 1; /* no template needed */
    an_error err;
    cli_model m;
    if (cli_model_open(&o, ref, &m, &err) < 0) {
        cli_error_multiline(err.msg);
        free(o.args);
        return CLI_ERROR;
    }
    const pipe_model_info *info = pipe_model_get_info(m.model);
    int n_tests = 0;
    bench_test *tests = calloc(MAX_LIST * 3 * MAX_LIST, sizeof *tests);
    int *ids = calloc((size_t)info->context + 1, sizeof *ids);
    for (int d = 0; d < b.n_depth; d++) {
        for (int i = 0; i < b.n_pp; i++) {
            bench_test *t = &tests[n_tests++];
            t->pp = b.pp[i], t->depth = b.depth[d];
        }
        for (int i = 0; i < b.n_tg; i++) {
            bench_test *t = &tests[n_tests++];
            t->tg = b.tg[i], t->depth = b.depth[d];
        }
        for (int i = 0; i < b.n_pg; i++) {
            bench_test *t = &tests[n_tests++];
            t->pp = b.pg[i][0], t->tg = b.pg[i][1], t->depth = b.depth[d];
        }
    }
    rc = CLI_OK;
    for (int k = 0; k < n_tests; k++) {
        bench_test *t = &tests[k];
        if (t->pp && t->tg)
            snprintf(t->name, sizeof t->name, "pp%d+tg%d", t->pp, t->tg);
        else if (t->pp)
            snprintf(t->name, sizeof t->name, "pp%d", t->pp);
        else
            snprintf(t->name, sizeof t->name, "tg%d", t->tg);
        if (t->depth)
            snprintf(t->name + strlen(t->name), sizeof t->name - strlen(t->name), " @ d%d", t->depth);
        if (t->depth + t->pp + t->tg > info->context || t->pp + t->tg == 0) {
            t->skipped = 1;
            continue;
        }
        double ttft;
        if (run_once(&m, ids, t->pp, t->tg, t->depth, &ttft, &err) < 0) { /* warm-up */
            rc = CLI_ERROR;
            break;
        }
        for (int r = 0; r < b.reps; r++) {
            double ns = run_once(&m, ids, t->pp, t->tg, t->depth, &ttft, &err);
            if (ns < 0) {
                rc = CLI_ERROR;
                break;
            }
            t->ns[t->n] = ns;
            t->ts[t->n] = (t->pp + t->tg) * 1e9 / ns;
            t->ttft_ns[t->n] = ttft;
            t->n++;
        }
        if (rc)
            break;
    }
    if (rc) {
        cli_error_multiline(err.msg);
    } else {
        long long rss = peak_rss();
        const char *name = info->meta->name ? info->meta->name : ref;
        long long size = dir_size(m.dir);
        int machine = strcmp(b.format, "md") != 0;
        int threads = info->threads;
        an_membw bw_store, *bw = NULL; /* measured after peak RSS is read: its buffer is big */
        long long wbytes = 0;
        if (b.membw) {
            if (an_membw_measure(threads, (size_t)(b.membw_mib ? b.membw_mib : 1024) << 20, &bw_store, &err) < 0) {
                cli_error_multiline(err.msg);
                rc = CLI_ERROR;
                goto out;
            }
            bw = &bw_store;
            wbytes = decode_weight_bytes(info->meta);
        }
        if (!strcmp(b.format, "md")) {
            printf("| model | size | backend | threads | test | t/s |\n| --- | ---: | --- | ---: | --- | ---: |\n");
        } else if (!strcmp(b.format, "csv")) {
            printf("model,size,backend,threads,test,n_prompt,n_gen,n_depth,avg_ts,stddev_ts,avg_ns,skipped,"
                   "ttft_ms,peak_rss,samples_ns,samples_ts,load_ms%s\n",
                   bw ? ",membw_read_gbs,membw_copy_gbs,weight_bytes_per_token,bw_fraction" : "");
        }
        json_object *all = !strcmp(b.format, "json") ? json_object_new_array() : NULL;
        char q1[512], q2[160];
        for (int k = 0; k < n_tests; k++) {
            bench_test *t = &tests[k];
            double mts, sts, mns, sns, mtt, stt;
            stats(t->ts, t->n, &mts, &sts);
            stats(t->ns, t->n, &mns, &sns);
            stats(t->ttft_ns, t->n, &mtt, &stt);
            double frac = bw_fraction(t, mts, wbytes, bw);
            if (!machine) {
                if (t->skipped)
                    printf("| %s | %.2f MiB | %s | %d | %s | skipped (context %d) |\n", name, size / 1048576.0,
                           info->backend, threads, t->name, info->context);
                else
                    printf("| %s | %.2f MiB | %s | %d | %s | %.2f ± %.2f |\n", name, size / 1048576.0, info->backend,
                           threads, t->name, mts, sts);
                continue;
            }
            if (!strcmp(b.format, "csv")) {
                an_strbuf ns_list, ts_list;
                an_sb_init(&ns_list);
                an_sb_init(&ts_list);
                for (int i = 0; i < t->n; i++) {
                    an_sb_appendf(&ns_list, "%s%.0f", i ? ";" : "", t->ns[i]);
                    an_sb_appendf(&ts_list, "%s%.4f", i ? ";" : "", t->ts[i]);
                }
                printf("%s,%lld,%s,%d,%s,%d,%d,%d,%.4f,%.4f,%.0f,%d,%.3f,%lld,%s,%s,%.3f", csv_field(name, q1), size,
                       info->backend, threads, csv_field(t->name, q2), t->pp, t->tg, t->depth, mts, sts, mns, t->skipped,
                       mtt / 1e6, rss, ns_list.buf, ts_list.buf, m.load_ms);
                if (bw) {
                    printf(",%.4f,%.4f,%lld,", bw->read_gbs, bw->copy_gbs, wbytes);
                    if (frac >= 0)
                        printf("%.6f", frac);
                }
                putchar('\n');
                an_sb_free(&ns_list);
                an_sb_free(&ts_list);
                continue;
            }
            json_object *row = json_object_new_object();
            json_object_object_add(row, "model", json_object_new_string(name));
            json_object_object_add(row, "size", json_object_new_int64(size));
            json_object_object_add(row, "backend", json_object_new_string(info->backend));
            json_object_object_add(row, "threads", json_object_new_int(threads));
            json_object_object_add(row, "test", json_object_new_string(t->name));
            json_object_object_add(row, "n_prompt", json_object_new_int(t->pp));
            json_object_object_add(row, "n_gen", json_object_new_int(t->tg));
            json_object_object_add(row, "n_depth", json_object_new_int(t->depth));
            json_object_object_add(row, "skipped", json_object_new_boolean(t->skipped));
            json_object_object_add(row, "avg_ts", json_object_new_double(mts));
            json_object_object_add(row, "stddev_ts", json_object_new_double(sts));
            json_object_object_add(row, "avg_ns", json_object_new_double(mns));
            json_object_object_add(row, "ttft_ms", json_object_new_double(mtt / 1e6));
            json_object_object_add(row, "peak_rss", json_object_new_int64(rss));
            json_object *sn = json_object_new_array(), *st = json_object_new_array();
            for (int i = 0; i < t->n; i++) {
                json_object_array_add(sn, json_object_new_int64((int64_t)t->ns[i]));
                json_object_array_add(st, json_object_new_double(t->ts[i]));
            }
            json_object_object_add(row, "samples_ns", sn);
            json_object_object_add(row, "samples_ts", st);
            json_object_object_add(row, "load_ms", json_object_new_double(m.load_ms));
            if (bw) {
                json_object_object_add(row, "membw_read_gbs", json_object_new_double(bw->read_gbs));
                json_object_object_add(row, "membw_copy_gbs", json_object_new_double(bw->copy_gbs));
                json_object_object_add(row, "weight_bytes_per_token", json_object_new_int64(wbytes));
                json_object_object_add(row, "bw_fraction", frac >= 0 ? json_object_new_double(frac) : NULL);
            }
            if (!strcmp(b.format, "json"))
                json_object_array_add(all, row);
            else {
                printf("%s\n", json_object_to_json_string_ext(row, JSON_C_TO_STRING_PLAIN));
                json_object_put(row);
            }
        }
        if (all) {
            printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
            json_object_put(all);
        }
        if (bw && !machine) {
            printf("\nmemory bandwidth: read %.2f GB/s, copy %.2f GB/s (%d thread%s, %zu MiB, %s)\n", bw->read_gbs,
                   bw->copy_gbs, bw->threads, bw->threads == 1 ? "" : "s", bw->bytes >> 20, bw->kernel);
            printf("weights read per decoded token: %.2f MiB (%s); limit %.2f t/s\n", wbytes / 1048576.0,
                   info->monolithic ? "the whole monolithic model" : "FFN chunks + LM head",
                   wbytes > 0 ? bw->read_gbs * 1e9 / (double)wbytes : 0.0);
            for (int k = 0; k < n_tests; k++) {
                double mts, sts;
                stats(tests[k].ts, tests[k].n, &mts, &sts);
                double frac = bw_fraction(&tests[k], mts, wbytes, bw);
                if (frac >= 0)
                    printf("%s: %.1f%% of the bandwidth limit\n", tests[k].name, 100 * frac);
            }
        }
    }
out:
    free(ids);
    free(tests);
    cli_model_close(&m);
    free(o.args);
    return rc;
}
