/*
 * print.h — a loaded program printed back in model.mil syntax (COREML-FORMAT.md §4).
 *
 * The output is canonical, so that the .mlpackage and the .mlmodelc of one model print
 * the same text: always the program(1.3) style (scalars as `fp16(...)`), floats as C99
 * hex (`%a`, exactly the stored value), functions sorted by name, op inputs and attributes
 * sorted by name (`name` among them, as coremlc prints), and the `coremlc-*` entries of
 * buildInfo (added by the compiler, absent from a package) left out.
 * Functions append to an an_strbuf; they return 0, or -1 on out of memory.
 */
#ifndef MIL_PRINT_H
#define MIL_PRINT_H

#include "common/strbuf.h"
#include "mil/ir.h"

int mil_print_program(const mil_program *p, an_strbuf *sb);
int mil_print_type(const mil_type *t, an_strbuf *sb);
/* A typed literal: `tensor<int32, [2]>([1, 2])`, `fp16(0x1p+0)`, `tensor<...>(BLOBFILE(...))`. */
int mil_print_literal(const mil_literal *l, an_strbuf *sb);

#endif
