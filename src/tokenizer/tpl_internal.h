/*
 * tpl_internal.h — shared between the template lexer, parser, values and evaluator.
 * Not a public contract: see template.h.
 *
 * Lifetimes: the AST and its constant strings live in the template's arena (parse
 * time, freed by tpl_free). Every value made while rendering lives in the render's arena
 * and dies with it; lists, dicts and namespaces are shared by reference (Python
 * semantics), strings are immutable.
 */
#ifndef TPL_INTERNAL_H
#define TPL_INTERNAL_H

#include "common/arena.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "tokenizer/template.h"

#include <stddef.h>
#include <stdint.h>

/* ---- values ---- */

typedef enum {
    TV_UNDEF, TV_NONE, TV_BOOL, TV_INT, TV_FLOAT, TV_STR, TV_LIST, TV_DICT,
    TV_NS,      /* namespace(): a dict with attribute assignment */
    TV_MACRO, TV_FUNC, TV_METHOD, TV_LOOP, TV_CYCLER, TV_JOINER,
} tv_kind;

typedef struct tstr { size_t len; char s[]; } tstr; /* NUL-terminated UTF-8 */
typedef struct tlist tlist;
typedef struct tdict tdict;
typedef struct tmacro tmacro;
typedef struct tloop tloop;
typedef struct tmethod tmethod;

typedef struct tv {
    uint8_t k;
    uint8_t tuple;          /* TV_LIST: a tuple (repr with parentheses) */
    uint8_t safe;           /* TV_STR: Markup (from |safe / |e) */
    union {
        int b;
        int64_t i;
        double f;
        tstr *s;
        tlist *l;
        tdict *d;
        tmacro *m;
        int fn;             /* TV_FUNC: global function id */
        tmethod *me;
        tloop *lp;
        struct tcyc *cy;
    } u;
    const char *uname;      /* TV_UNDEF: the name that was missing (for messages) */
} tv;

struct tlist { size_t n, cap; tv *v; };
struct tdict { size_t n, cap; tv *key; tv *val; };
struct tmethod { tv self; const char *name; };
struct tcyc { tlist *items; size_t pos; int used; };

/* ---- AST ---- */

typedef enum {
    E_CONST, E_NAME, E_LIST, E_TUPLE, E_DICT, E_ATTR, E_ITEM, E_SLICE, E_CALL,
    E_FILTER, E_TEST, E_NOT, E_NEG, E_POS, E_BIN, E_AND, E_OR, E_COND, E_CMP, E_CONCAT,
} ex_kind;

typedef enum {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FDIV, OP_MOD, OP_POW,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
} op_kind;

typedef struct expr expr;
typedef struct kwarg { const char *name; expr *e; } kwarg;

struct expr {
    uint8_t k;
    uint8_t op;             /* E_BIN */
    uint8_t negate;         /* E_TEST: is not */
    int line, col;
    tv cval;                /* E_CONST */
    const char *name;       /* E_NAME, E_ATTR, E_FILTER/E_TEST name */
    expr *a, *b, *c;        /* operands; E_SLICE: a=target, b..: start/stop in args */
    expr **args; int nargs; /* E_CALL/E_FILTER/E_TEST args, E_LIST/E_TUPLE items,
                               E_DICT keys/values interleaved, E_CMP operands,
                               E_SLICE start/stop/step (NULL when absent) */
    kwarg *kw; int nkw;
    uint8_t *ops;           /* E_CMP: nargs-1 operators */
};

typedef enum {
    S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_MACRO, S_CALLBLOCK, S_FILTERBLOCK,
    S_BREAK, S_CONTINUE, S_WITH, S_BODY,
} st_kind;

typedef struct stmt stmt;
typedef struct body { stmt **s; int n; } body;

typedef struct target {     /* assignment target: name, ns.attr or a tuple of names */
    const char *name;
    const char *attr;       /* ns.attr when not NULL */
    const char **names; int nnames; /* tuple unpacking when nnames > 0 */
} target;

struct stmt {
    uint8_t k;
    int line, col;
    const char *text; size_t len;  /* S_TEXT */
    expr *e;                       /* S_OUT value, S_IF cond, S_FOR iter, S_SET value */
    expr *cond;                    /* S_FOR filter */
    target tg;                     /* S_FOR/S_SET/S_SETBLOCK */
    body b1, b2;                   /* if: then/else; for: body/else */
    expr *filter;                  /* S_SETBLOCK / S_FILTERBLOCK: a filter chain applied to
                                      the placeholder name "\x01body" */
    tmacro *macro;                 /* S_MACRO, S_CALLBLOCK (the caller) */
    expr *call;                    /* S_CALLBLOCK: the call expression */
    int recursive;                 /* S_FOR */
    target *wtargets; expr **wvals; int nw; /* S_WITH */
};

struct tmacro {
    const char *name;
    const char **params; expr **defaults; int nparams;
    body b;
    struct frame *closure;         /* set when the macro value is made at render time */
};

/* ---- tokens ---- */

typedef enum { T_DATA, T_VBEGIN, T_VEND, T_BBEGIN, T_BEND, T_NAME, T_STR, T_INT, T_FLOAT,
               T_OP, T_EOF } tok_kind;

typedef struct token {
    uint8_t k;
    char op[3];             /* T_OP */
    int line, col;
    const char *s; size_t n; /* T_DATA/T_NAME/T_STR (unescaped, arena) */
    int64_t i; double f;
} token;

/* Split src into tokens (arena-allocated array ending with T_EOF). */
int tpl_lex(an_arena *a, const char *name, const char *src, size_t len, token **out,
            int *ntok, an_error *err);

/* ---- the template ---- */

struct tpl_template {
    an_arena arena;
    body root;
    char *name;
};

/* Lexer + parser: fills t->root. Returns 0 or -1 with "name:line:col: message". */
int tpl_parse_source(tpl_template *t, const char *src, size_t len, an_error *err);

/* ---- render-time ---- */

typedef struct frame {
    struct frame *parent;
    const char **names; tv *vals; int n, cap;
} frame;

typedef struct rctx {
    an_arena *a;
    const tpl_template *t;
    const tpl_limits *lim;
    an_error *err;
    tdict *globals;                /* caller variables */
    an_strbuf *out;                /* where output goes now */
    size_t steps, bytes_alloc;
    int depth;
    int line, col;                 /* last statement/expression position, for errors */
} rctx;

/* Allocation in the render arena, bounded by lim->max_memory. */
void *tr_alloc(rctx *c, size_t n);
int tr_fail(rctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Values */
tv tv_undef(const char *name);
tv tv_none(void);
tv tv_bool(int b);
tv tv_int(int64_t i);
tv tv_float(double f);
tv tv_str(rctx *c, const char *s, size_t n);      /* copies; .k == TV_UNDEF on OOM */
tv tv_cstr(rctx *c, const char *s);
tv tv_strbuf(rctx *c, an_strbuf *sb);              /* copies sb contents */
tlist *tl_new(rctx *c, size_t cap);
int tl_push(rctx *c, tlist *l, tv v);
tdict *td_new(rctx *c, size_t cap);
int td_set(rctx *c, tdict *d, tv key, tv val);
tv *td_get(tdict *d, tv key);
tv *td_gets(tdict *d, const char *key);
tv tv_list(tlist *l);
tv tv_dict(tdict *d);

int tv_truthy(tv v);
int tv_is_num(tv v);                                /* bool, int or float */
double tv_num(tv v);
int tv_equal(tv a, tv b);
/* Python ordering: -1/0/1, or -2 with an error set when the types do not compare. */
int tv_compare(rctx *c, tv a, tv b);
const char *tv_type_name(tv v);                    /* Python type name for messages */
/* str(v) appended to sb (Jinja output conversion); repr when 'repr'. */
int tv_to_sb(rctx *c, an_strbuf *sb, tv v, int repr);
tv tv_to_str(rctx *c, tv v);                       /* str(v) as a TV_STR */
void tpl_float_repr(double f, char *buf, size_t n);
/* json.dumps(v, ensure_ascii=False, indent, separators, sort_keys). indent < 0: none;
 * indent_str overrides when not NULL. */
int tv_tojson(rctx *c, an_strbuf *sb, tv v, int indent, const char *indent_str,
              const char *item_sep, const char *key_sep, int sort_keys, int level);
tv tv_from_json(rctx *c, struct json_object *j);

/* Code points in a UTF-8 string, and the byte offset of code point i. */
size_t u8_len(const char *s, size_t n);
size_t u8_offset(const char *s, size_t n, size_t cp);
int u8_is_space(uint32_t cp);
uint32_t u8_decode(const char *s, size_t n, size_t *adv);
int u8_encode(uint32_t cp, char out[4]);

/* Length in Python terms (code points, items, keys); -1 with error when unsized. */
int64_t tv_len(rctx *c, tv v);
/* Iterate: fills a list with the items (dict → keys, string → chars). */
tlist *tv_iter(rctx *c, tv v);

/* Evaluator pieces used by the builtins. */
int tr_call(rctx *c, tv fn, tv *args, int nargs, const char **kwn, tv *kwv, int nkw, tv *out);
tv tr_getattr(rctx *c, tv obj, const char *name);
int tr_getitem(rctx *c, tv obj, tv key, tv *out);
int tr_binop(rctx *c, int op, tv a, tv b, tv *out);

/* Builtins: filters, tests, methods, global functions. */
typedef struct targs {
    tv *pos; int npos;
    const char **kwn; tv *kwv; int nkw;
} targs;
int tb_filter(rctx *c, const char *name, tv in, targs *a, tv *out);
int tb_has_filter(const char *name);
int tb_test(rctx *c, const char *name, tv in, targs *a, int *result);
int tb_has_test(const char *name);
int tb_method(rctx *c, tv self, const char *name, targs *a, tv *out);
int tb_has_method(tv self, const char *name);

enum { TF_RANGE = 1, TF_NAMESPACE, TF_DICT, TF_RAISE, TF_STRFTIME };
int tb_global_fn(const char *name);
int tb_call_global(rctx *c, int fn, targs *a, tv *out);

/* String helpers with Python semantics (s is a TV_STR). */
tv ts_strip(rctx *c, tv s, const tstr *chars, int left, int right);
tv ts_case(rctx *c, tv s, int mode); /* 0 lower, 1 upper, 2 str.title, 3 capitalize */
tv ts_replace(rctx *c, tv s, tv old, tv new, int64_t count);
tv ts_split(rctx *c, tv s, const tstr *sep, int64_t maxsplit, int from_right);
tv ts_splitlines(rctx *c, tv s, int keepends);

/* Argument helper: positional i or keyword name, else NULL. */
tv *targ(targs *a, int i, const char *name);

#endif
