/*
 * cmd_predict.c — `anemone predict`: run one Core ML component on .npy inputs and write
 * .npy outputs (and the state), or replay a JSON list of calls sharing one state.
 *
 * Steps file: a JSON array of objects, run in order with one shared state:
 *   {"component": PATH (optional, default the COMPONENT argument),
 *    "function": NAME (optional, default function),
 *    "inputs": {NAME: FILE.npy | "@STEP:OUTPUT", ...},
 *    "outputs": {OUTPUT: FILE.npy, ...} (optional: where to save outputs)}
 * "@STEP:OUTPUT" feeds the output OUTPUT of the earlier step number STEP (0-based).
 * Relative paths are relative to the directory of the steps file. Each component is
 * loaded once. The state (made zero, or read by --state-in) is shared by every step,
 * matched by name, dtype and shape, as Core ML shares an MLState between models.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/file.h"
#include "mil/engine.h"
#include "mil/npy.h"

void help_predict(FILE *out)
{
    fputs("usage: anemone predict COMPONENT [--function NAME] -i NAME=FILE.npy ... [-o DIR]\n"
          "                       [--state-in [NAME=]FILE.npy] [--state-out [NAME=]FILE.npy]\n"
          "                       [--steps FILE.json] [--stats]\n"
          "\n"
          "Run one Core ML component (.mlmodelc or .mlpackage) on NumPy inputs and write\n"
          "each output as DIR/<output name>.npy (DIR defaults to the current directory):\n"
          "Core ML's predict on the command line, to check a component against any\n"
          "reference. Inputs must have the declared dtype and one of the declared shapes.\n"
          "\n"
          "  -f, --function NAME   the function to run (default: the model's default)\n"
          "  -i, --input NAME=FILE an input tensor (.npy); repeat for each input\n"
          "  -o, --output-dir DIR  where to write the outputs (created if missing)\n"
          "  --state-in [NAME=]FILE   start from this state instead of zeros\n"
          "  --state-out [NAME=]FILE  write the state after the run\n"
          "                        (NAME may be left out when there is one state)\n"
          "  --steps FILE.json     run a list of calls in order sharing one state (each\n"
          "                        may name another component, a function, inputs as files\n"
          "                        or as \"@STEP:OUTPUT\" of an earlier call, and where to\n"
          "                        save outputs); -o then receives the last call's outputs\n"
          "  --stats               print per-call counters on stderr (state bytes copied,\n"
          "                        bytes written in place, ops run)\n",
          out);
}

typedef struct loaded {
    char *path;
    mil_component *c;
} loaded;

typedef struct ctx {
    loaded comps[32];
    int n_comps;
    mil_state *state;
    const char *state_in, *state_out;
    int stats, state_loaded;
} ctx;

static mil_component *get_component(ctx *x, const char *path, an_error *err)
{
    for (int i = 0; i < x->n_comps; i++)
        if (strcmp(x->comps[i].path, path) == 0)
            return x->comps[i].c;
    if (x->n_comps >= 32) {
        an_errorf(err, "too many components");
        return NULL;
    }
    mil_component *c = mil_component_load(path, err);
    if (!c)
        return NULL;
    x->comps[x->n_comps].path = strdup(path);
    x->comps[x->n_comps++].c = c;
    return c;
}

/* Split "NAME=FILE" (NAME optional when allow_bare). */
static int split_eq(const char *arg, char **name, const char **file, int allow_bare)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        if (!allow_bare)
            return -1;
        *name = NULL;
        *file = arg;
        return 0;
    }
    *name = strndup(arg, (size_t)(eq - arg));
    *file = eq + 1;
    return *name ? 0 : -1;
}

static mil_state_buf *pick_state(mil_state *s, const char *name, an_error *err)
{
    if (name) {
        mil_state_buf *b = mil_state_find(s, name);
        if (!b)
            an_errorf(err, "no state '%s'", name);
        return b;
    }
    if (s->n != 1) {
        an_errorf(err, "the model has %d states: name one as NAME=FILE", s->n);
        return NULL;
    }
    return &s->bufs[0];
}

static int load_state(ctx *x, an_error *err)
{
    char *name;
    const char *file;
    if (split_eq(x->state_in, &name, &file, 1))
        return an_errorf(err, "bad --state-in");
    mil_state_buf *b = pick_state(x->state, name, err);
    free(name);
    if (!b)
        return -1;
    mil_tensor t;
    if (mil_npy_read(file, &t, err))
        return -1;
    int ok = t.dtype == b->t.dtype && t.rank == b->t.rank &&
             memcmp(t.shape, b->t.shape, sizeof(int64_t) * (size_t)t.rank) == 0;
    if (ok)
        memcpy(b->t.data, t.data, mil_tensor_nbytes(&t));
    free(t.data);
    if (!ok)
        return an_errorf(err, "%s: state must have the state's dtype and shape", file);
    return 0;
}

static int save_state(ctx *x, an_error *err)
{
    char *name;
    const char *file;
    if (split_eq(x->state_out, &name, &file, 1))
        return an_errorf(err, "bad --state-out");
    mil_state_buf *b = pick_state(x->state, name, err);
    free(name);
    return b ? mil_npy_write(file, &b->t, err) : -1;
}

static int ensure_state(ctx *x, mil_component *c, const char *fn, an_error *err)
{
    if (!x->state) {
        x->state = mil_state_new(c, fn, err);
        if (!x->state)
            return -1;
    } else if (mil_state_extend(x->state, c, fn, err)) {
        return -1;
    }
    if (x->state_in && !x->state_loaded && x->state->n > 0) {
        x->state_loaded = 1;
        if (load_state(x, err))
            return -1;
    }
    return 0;
}

/* Outputs of one finished call, copied so that later calls can use them. */
typedef struct saved {
    int n;
    mil_named_tensor *t;
} saved;

static void free_saved(saved *s)
{
    for (int i = 0; i < s->n; i++) {
        free((void *)s->t[i].name);
        free(s->t[i].t.data);
    }
    free(s->t);
    s->n = 0;
    s->t = NULL;
}

static int save_outputs(saved *dst, const mil_named_tensor *out, int n)
{
    dst->t = calloc((size_t)n + 1, sizeof *dst->t);
    if (!dst->t)
        return -1;
    for (int i = 0; i < n; i++) {
        size_t nb = mil_tensor_nbytes(&out[i].t);
        dst->t[i] = out[i];
        dst->t[i].name = strdup(out[i].name);
        dst->t[i].t.data = malloc(nb ? nb : 1);
        dst->n = i + 1;
        if (!dst->t[i].name || !dst->t[i].t.data)
            return -1;
        memcpy(dst->t[i].t.data, out[i].t.data, nb);
    }
    return 0;
}

static int write_outputs(const char *dir, const mil_named_tensor *out, int n, an_error *err)
{
    if (an_mkdir_p(dir, 0755, err))
        return -1;
    for (int i = 0; i < n; i++) {
        char *name = malloc(strlen(out[i].name) + 5);
        if (!name)
            return an_errorf(err, "out of memory");
        sprintf(name, "%s.npy", out[i].name);
        char *path = an_path_join(dir, name);
        free(name);
        if (!path)
            return an_errorf(err, "out of memory");
        int rc = mil_npy_write(path, &out[i].t, err);
        free(path);
        if (rc)
            return -1;
    }
    return 0;
}

static void print_stats(const mil_component *c, int step)
{
    mil_predict_stats st;
    mil_component_stats(c, &st);
    fprintf(stderr, "predict[%d]: ops %llu, state bytes copied %llu, state bytes written in place %llu\n",
            step, (unsigned long long)st.ops_run, (unsigned long long)st.state_bytes_copied,
            (unsigned long long)st.state_bytes_written_in_place);
}

static char *rel_path(const char *base_dir, const char *p)
{
    if (p[0] == '/' || !base_dir)
        return strdup(p);
    return an_path_join(base_dir, p);
}

static int run_steps(ctx *x, const char *def_comp, const char *steps_file, const char *outdir,
                     an_error *err)
{
    char *text;
    size_t len;
    if (an_read_file(steps_file, 64u << 20, &text, &len, err))
        return -1;
    json_object *root = json_tokener_parse(text);
    free(text);
    if (!root || !json_object_is_type(root, json_type_array)) {
        json_object_put(root);
        return an_errorf(err, "%s: not a JSON array of calls", steps_file);
    }
    char *dcopy = strdup(steps_file);
    const char *base = dcopy ? dirname(dcopy) : ".";
    int n = (int)json_object_array_length(root), rc = -1;
    saved *outs = calloc((size_t)n + 1, sizeof *outs);
    mil_named_tensor *ins = NULL;
    mil_tensor *owned = NULL;
    int n_owned = 0;
    if (!outs || !dcopy)
        goto done;
    for (int i = 0; i < n; i++) {
        json_object *st = json_object_array_get_idx(root, (size_t)i), *v;
        if (!json_object_is_type(st, json_type_object)) {
            an_errorf(err, "%s: call %d is not an object", steps_file, i);
            goto done;
        }
        const char *cp = def_comp;
        char *cpath = NULL;
        if (json_object_object_get_ex(st, "component", &v))
            cp = cpath = rel_path(base, json_object_get_string(v));
        if (!cp) {
            an_errorf(err, "%s: call %d names no component", steps_file, i);
            goto done;
        }
        mil_component *c = get_component(x, cp, err);
        free(cpath);
        if (!c)
            goto done;
        const char *fn = NULL;
        if (json_object_object_get_ex(st, "function", &v))
            fn = json_object_get_string(v);
        if (ensure_state(x, c, fn, err))
            goto done;
        json_object *jin = NULL;
        json_object_object_get_ex(st, "inputs", &jin);
        int nin = jin && json_object_is_type(jin, json_type_object) ? json_object_object_length(jin) : 0;
        ins = calloc((size_t)nin + 1, sizeof *ins);
        owned = calloc((size_t)nin + 1, sizeof *owned);
        if (!ins || !owned) {
            an_errorf(err, "out of memory");
            goto done;
        }
        int k = 0;
        if (nin) {
            json_object_object_foreach(jin, key, val)
            {
                const char *src = json_object_get_string(val);
                ins[k].name = key;
                if (src && src[0] == '@') {
                    int si = atoi(src + 1);
                    const char *colon = strchr(src, ':');
                    if (si < 0 || si >= i || !colon) {
                        an_errorf(err, "%s: call %d: bad reference '%s'", steps_file, i, src);
                        goto done;
                    }
                    int found = 0;
                    for (int o = 0; o < outs[si].n; o++)
                        if (strcmp(outs[si].t[o].name, colon + 1) == 0) {
                            ins[k].t = outs[si].t[o].t;
                            found = 1;
                        }
                    if (!found) {
                        an_errorf(err, "%s: call %d: call %d has no output '%s'", steps_file, i, si, colon + 1);
                        goto done;
                    }
                } else {
                    char *pth = rel_path(base, src ? src : "");
                    int r = pth ? mil_npy_read(pth, &owned[n_owned], err) : an_errorf(err, "out of memory");
                    free(pth);
                    if (r)
                        goto done;
                    ins[k].t = owned[n_owned++];
                }
                k++;
            }
        }
        const mil_named_tensor *out;
        int n_out;
        if (mil_predict(c, fn, k, ins, x->state, &out, &n_out, err)) {
            an_error_prefix(err, "%s: call %d", steps_file, i);
            goto done;
        }
        if (x->stats)
            print_stats(c, i);
        if (save_outputs(&outs[i], out, n_out)) {
            an_errorf(err, "out of memory");
            goto done;
        }
        json_object *jout;
        if (json_object_object_get_ex(st, "outputs", &jout) && json_object_is_type(jout, json_type_object)) {
            json_object_object_foreach(jout, key, val)
            {
                int found = 0;
                for (int o = 0; o < n_out; o++)
                    if (strcmp(out[o].name, key) == 0) {
                        char *pth = rel_path(base, json_object_get_string(val));
                        int r = pth ? mil_npy_write(pth, &out[o].t, err) : -1;
                        free(pth);
                        if (r)
                            goto done;
                        found = 1;
                    }
                if (!found) {
                    an_errorf(err, "%s: call %d has no output '%s'", steps_file, i, key);
                    goto done;
                }
            }
        }
        if (i == n - 1 && outdir && write_outputs(outdir, out, n_out, err))
            goto done;
        for (int o = 0; o < n_owned; o++)
            free(owned[o].data);
        n_owned = 0;
        free(owned);
        free(ins);
        owned = NULL;
        ins = NULL;
    }
    rc = 0;
done:
    for (int o = 0; o < n_owned; o++)
        free(owned[o].data);
    free(owned);
    free(ins);
    for (int i = 0; outs && i < n; i++)
        free_saved(&outs[i]);
    free(outs);
    free(dcopy);
    json_object_put(root);
    return rc;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"function", required_argument, NULL, 'f'}, {"input", required_argument, NULL, 'i'},
        {"output-dir", required_argument, NULL, 'o'}, {"state-in", required_argument, NULL, 1},
        {"state-out", required_argument, NULL, 2}, {"steps", required_argument, NULL, 3},
        {"stats", no_argument, NULL, 4}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const char *fn = NULL, *outdir = NULL, *steps = NULL;
    const char **in_args = calloc((size_t)argc + 1, sizeof *in_args);
    int n_in = 0, c, status = CLI_ERROR;
    ctx x = {0};
    mil_named_tensor *ins = NULL;
    if (!in_args)
        return CLI_ERROR;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:i:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': fn = optarg; break;
        case 'i': in_args[n_in++] = optarg; break;
        case 'o': outdir = optarg; break;
        case 1: x.state_in = optarg; break;
        case 2: x.state_out = optarg; break;
        case 3: steps = optarg; break;
        case 4: x.stats = 1; break;
        case 'h':
            help_predict(stdout);
            free(in_args);
            return CLI_OK;
        default: free(in_args); return cli_usage_error("predict", "unknown option");
        }
    }
    const char *comp = optind < argc ? argv[optind] : NULL;
    if (optind + 1 < argc) {
        free(in_args);
        return cli_usage_error("predict", "unexpected argument '%s'", argv[optind + 1]);
    }
    if (!comp && !steps) {
        free(in_args);
        return cli_usage_error("predict", "missing COMPONENT");
    }
    if (steps && (n_in || fn)) {
        free(in_args);
        return cli_usage_error("predict", "--steps takes its inputs and functions from the file");
    }
    an_error err = {{0}};
    if (steps) {
        if (run_steps(&x, comp, steps, outdir, &err))
            goto fail;
    } else {
        mil_component *m = get_component(&x, comp, &err);
        if (!m)
            goto fail;
        ins = calloc((size_t)n_in + 1, sizeof *ins);
        if (!ins)
            goto fail;
        for (int i = 0; i < n_in; i++) {
            char *name;
            const char *file;
            if (split_eq(in_args[i], &name, &file, 0)) {
                status = cli_usage_error("predict", "-i wants NAME=FILE.npy, got '%s'", in_args[i]);
                goto out;
            }
            ins[i].name = name;
            if (mil_npy_read(file, &ins[i].t, &err))
                goto fail;
        }
        if (ensure_state(&x, m, fn, &err))
            goto fail;
        const mil_named_tensor *out;
        int n_out;
        if (mil_predict(m, fn, n_in, ins, x.state, &out, &n_out, &err))
            goto fail;
        if (x.stats)
            print_stats(m, 0);
        if (write_outputs(outdir ? outdir : ".", out, n_out, &err))
            goto fail;
    }
    if (x.state_out && x.state && save_state(&x, &err))
        goto fail;
    if (x.state_out && !x.state) {
        cli_error(NULL, "predict: no state to write");
        goto out;
    }
    status = CLI_OK;
    goto out;
fail:
    cli_error(NULL, "predict: %s", err.msg[0] ? err.msg : "out of memory");
out:
    for (int i = 0; ins && i < n_in; i++) {
        free((void *)ins[i].name);
        free(ins[i].t.data);
    }
    free(ins);
    for (int i = 0; i < x.n_comps; i++) {
        mil_component_free(x.comps[i].c);
        free(x.comps[i].path);
    }
    mil_state_free(x.state);
    free(in_args);
    return status;
}
