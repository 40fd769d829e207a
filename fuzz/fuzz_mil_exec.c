/*
 * fuzz_mil_exec.c — libFuzzer target for the planner and the interpreter: the input is
 * model.mil text; when it parses, every function is planned, and the default function is
 * run once on zero inputs of its first planned shape with a zero state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mil/engine.h"
#include "mil/exec.h"
#include "mil/loaders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    /* keep hostile shapes within the fuzzer's memory limit */
    mx_value_limit = (size_t)16 << 20;
    mx_memory_limit = (size_t)128 << 20;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    an_error err;
    mil_program *p = mil_program_new();
    if (!p || mil_parse_text(p, text, size, "fuzz.mil", &err) != 0) {
        mil_program_free(p);
        free(text);
        return 0;
    }
    free(text);
    mil_component *c = mil_component_from_program(p, &err);
    if (!c)
        return 0;
    const mil_fn_desc *d = mil_component_find(c, NULL);
    if (!d)
        d = mil_component_function(c, 0);
    mil_named_tensor in[16];
    int n = 0, ok = d && d->n_inputs <= 16;
    for (int i = 0; ok && i < d->n_inputs; i++) {
        const mil_io_desc *io = &d->inputs[i];
        in[n].name = io->name;
        in[n].t.dtype = io->dtype;
        in[n].t.rank = io->n_shapes ? io->shapes[0].rank : io->rank;
        memcpy(in[n].t.shape, io->n_shapes ? io->shapes[0].dims : io->dims, sizeof in[n].t.shape);
        int64_t numel = 1;
        for (int k = 0; k < in[n].t.rank; k++) {
            if (in[n].t.shape[k] < 0 || in[n].t.shape[k] > (1 << 20))
                ok = 0;
            else
                numel *= in[n].t.shape[k];
            if (numel > (1 << 20))
                ok = 0;
        }
        size_t es = mil_dtype_size(io->dtype);
        in[n].t.data = ok && es ? calloc((size_t)numel + 1, es) : NULL;
        if (!in[n].t.data)
            ok = 0;
        n++;
    }
    if (ok) {
        mil_state *st = mil_state_new(c, d->name, &err);
        const mil_named_tensor *out;
        int n_out;
        if (st)
            (void)mil_predict(c, d->name, n, in, st, &out, &n_out, &err);
        mil_state_free(st);
    }
    for (int i = 0; i < n; i++)
        free(in[i].t.data);
    mil_component_free(c);
    return 0;
}
