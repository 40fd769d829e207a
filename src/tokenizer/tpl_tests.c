/*
 * tpl_tests.c — Jinja2's tests (`x is defined`, `is mapping`, `is divisibleby 3`...) and
 * the global functions of the chat-template environment: range (with the sandbox's
 * MAX_RANGE), namespace, dict, and transformers' raise_exception and strftime_now.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/tpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const TESTS[] = {
    "!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq",
    "equalto", "escaped", "even", "false", "filter", "float", "ge", "greaterthan", "gt", "in",
    "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number",
    "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", NULL};

int tb_has_test(const char *name)
{
    for (const char *const *l = TESTS; *l; l++)
        if (!strcmp(*l, name))
            return 1;
    return 0;
}

int tb_test(rctx *c, const char *name, tv in, targs *a, int *res)
{
    tv *a0 = targ(a, 0, NULL);
    if (!strcmp(name, "defined")) { *res = in.k != TV_UNDEF; return 0; }
    if (!strcmp(name, "undefined")) { *res = in.k == TV_UNDEF; return 0; }
    if (!strcmp(name, "none")) { *res = in.k == TV_NONE; return 0; }
    if (!strcmp(name, "boolean")) { *res = in.k == TV_BOOL; return 0; }
    if (!strcmp(name, "true")) { *res = in.k == TV_BOOL && in.u.b; return 0; }
    if (!strcmp(name, "false")) { *res = in.k == TV_BOOL && !in.u.b; return 0; }
    if (!strcmp(name, "string")) { *res = in.k == TV_STR; return 0; }
    if (!strcmp(name, "mapping")) { *res = in.k == TV_DICT; return 0; }
    if (!strcmp(name, "number")) { *res = tv_is_num(in); return 0; }
    if (!strcmp(name, "integer")) { *res = in.k == TV_INT; return 0; }
    if (!strcmp(name, "float")) { *res = in.k == TV_FLOAT; return 0; }
    if (!strcmp(name, "iterable")) {
        *res = in.k == TV_STR || in.k == TV_LIST || in.k == TV_DICT || in.k == TV_UNDEF;
        return 0;
    }
    if (!strcmp(name, "sequence")) { *res = in.k == TV_STR || in.k == TV_LIST || in.k == TV_DICT; return 0; }
    if (!strcmp(name, "callable")) {
        *res = in.k == TV_MACRO || in.k == TV_FUNC || in.k == TV_METHOD;
        return 0;
    }
    if (!strcmp(name, "escaped")) { *res = in.k == TV_STR && in.safe; return 0; }
    if (!strcmp(name, "filter") || !strcmp(name, "test")) {
        *res = in.k == TV_STR && (name[0] == 'f' ? tb_has_filter(in.u.s->s) : tb_has_test(in.u.s->s));
        return 0;
    }
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) { /* str(value).islower() / isupper() */
        tv str = tv_to_str(c, in), r;
        targs none = {0};
        if (str.k != TV_STR || tb_method(c, str, name[0] == 'l' ? "islower" : "isupper", &none, &r))
            return -1;
        *res = r.u.b;
        return 0;
    }
    if (!strcmp(name, "odd") || !strcmp(name, "even") || !strcmp(name, "divisibleby")) {
        if (in.k != TV_INT && in.k != TV_BOOL && in.k != TV_FLOAT)
            return in.k == TV_UNDEF ? tr_undefined_error(c, in) : tr_fail(c, "not all arguments converted during string formatting");
        tv m = !strcmp(name, "divisibleby") ? (a0 ? *a0 : tv_int(0)) : tv_int(2), r;
        if (tr_binop(c, OP_MOD, in, m, &r))
            return -1;
        int zero = tv_num(r) == 0;
        *res = name[0] == 'o' ? !zero : zero;
        return 0;
    }
    if (!strcmp(name, "sameas")) {
        if (!a0)
            return tr_fail(c, "sameas needs an argument");
        if (in.k != a0->k)
            *res = 0;
        else if (in.k == TV_NONE || in.k == TV_UNDEF)
            *res = 1;
        else if (in.k == TV_BOOL)
            *res = in.u.b == a0->u.b;
        else if (in.k == TV_INT)
            *res = in.u.i == a0->u.i && in.u.i >= -5 && in.u.i <= 256; /* CPython small ints */
        else
            *res = in.u.l == a0->u.l;
        return 0;
    }
    static const char *const cmp_names[][3] = {
        {"==", "eq", "equalto"}, {"!=", "ne", NULL}, {"<", "lt", "lessthan"}, {"<=", "le", NULL},
        {">", "gt", "greaterthan"}, {">=", "ge", NULL}, {"in", NULL, NULL}};
    static const int cmp_ops[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN};
    for (int k = 0; k < 7; k++)
        for (int j = 0; j < 3; j++)
            if (cmp_names[k][j] && !strcmp(name, cmp_names[k][j])) {
                if (!a0)
                    return tr_fail(c, "the test '%s' needs an argument", name);
                int op = cmp_ops[k];
                if (op == OP_EQ) { *res = tv_equal(in, *a0); return 0; }
                if (op == OP_NE) { *res = !tv_equal(in, *a0); return 0; }
                if (op == OP_IN) {
                    tv hay = *a0;
                    if (hay.k == TV_STR) {
                        if (in.k != TV_STR)
                            return tr_fail(c, "'in <string>' requires string as left operand");
                        *res = memmem(hay.u.s->s, hay.u.s->len, in.u.s->s, in.u.s->len) != NULL || !in.u.s->len;
                    } else if (hay.k == TV_LIST) {
                        *res = 0;
                        for (size_t i = 0; i < hay.u.l->n && !*res; i++)
                            *res = tv_equal(hay.u.l->v[i], in);
                    } else if (hay.k == TV_DICT)
                        *res = td_get(hay.u.d, in) != NULL;
                    else if (hay.k == TV_UNDEF)
                        *res = 0;
                    else
                        return tr_fail(c, "argument of type '%s' is not iterable", tv_type_name(hay));
                    return 0;
                }
                if (in.k == TV_UNDEF)
                    return tr_undefined_error(c, in);
                if (a0->k == TV_UNDEF)
                    return tr_undefined_error(c, *a0);
                int r = tv_compare(c, in, *a0);
                if (r == -2)
                    return -1;
                *res = op == OP_LT ? r < 0 : op == OP_LE ? r <= 0 : op == OP_GT ? r > 0 : r >= 0;
                return 0;
            }
    return tr_fail(c, "the test '%s' is not supported", name);
}

int tb_global_fn(const char *name)
{
    if (!strcmp(name, "range")) return TF_RANGE;
    if (!strcmp(name, "namespace")) return TF_NAMESPACE;
    if (!strcmp(name, "dict")) return TF_DICT;
    if (!strcmp(name, "raise_exception")) return TF_RAISE;
    if (!strcmp(name, "strftime_now")) return TF_STRFTIME;
    return 0;
}

int tb_call_global(rctx *c, int fn, targs *a, tv *out)
{
    switch (fn) {
    case TF_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (a->npos < 1 || a->npos > 3 || a->nkw)
            return tr_fail(c, "range expected 1 to 3 arguments");
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].k != TV_INT && a->pos[i].k != TV_BOOL)
                return tr_fail(c, "'%s' object cannot be interpreted as an integer", tv_type_name(a->pos[i]));
            v[a->npos == 1 ? 1 : i] = a->pos[i].k == TV_INT ? a->pos[i].u.i : a->pos[i].u.b;
        }
        if (v[2] == 0)
            return tr_fail(c, "range() arg 3 must not be zero");
        double count = v[2] > 0 ? ceil(((double)v[1] - (double)v[0]) / (double)v[2])
                                : ceil(((double)v[0] - (double)v[1]) / (double)-v[2]);
        if (count > 100000)
            return tr_fail(c, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        tlist *l = tl_new(c, count > 0 ? (size_t)count : 0);
        if (!l)
            return -1;
        for (int64_t x = v[0]; v[2] > 0 ? x < v[1] : x > v[1]; x += v[2])
            if (tl_push(c, l, tv_int(x)))
                return -1;
        *out = tv_list(l);
        return 0;
    }
    case TF_NAMESPACE: case TF_DICT: {
        tdict *d = td_new(c, 4);
        if (!d)
            return -1;
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].k != TV_DICT && a->pos[i].k != TV_NS)
                return tr_fail(c, "%s() positional argument must be a mapping", fn == TF_DICT ? "dict" : "namespace");
            for (size_t k = 0; k < a->pos[i].u.d->n; k++)
                td_set(c, d, a->pos[i].u.d->key[k], a->pos[i].u.d->val[k]);
        }
        for (int k = 0; k < a->nkw; k++)
            if (td_set(c, d, tv_cstr(c, a->kwn[k]), a->kwv[k]))
                return -1;
        *out = tv_dict(d);
        if (fn == TF_NAMESPACE)
            out->k = TV_NS;
        return an_error_isset(c->err) ? -1 : 0;
    }
    case TF_RAISE: {
        tv *m = targ(a, 0, "message");
        tv s = m ? tv_to_str(c, *m) : tv_str(c, "", 0);
        if (s.k != TV_STR)
            return -1;
        /* the template's own message, as transformers raises it (TemplateError) */
        return an_errorf(c->err, "%s", s.u.s->s);
    }
    case TF_STRFTIME: {
        tv *f = targ(a, 0, "format");
        if (!f || f->k != TV_STR)
            return tr_fail(c, "strftime_now needs a format string");
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char buf[512];
        size_t n = f->u.s->len ? strftime(buf, sizeof buf, f->u.s->s, &tm) : 0;
        *out = tv_str(c, buf, n);
        return an_error_isset(c->err) ? -1 : 0;
    }
    }
    return tr_fail(c, "not callable");
}
